/**
 * The Prometheus exposition: names (sanitized, units, lint rules, collisions), escaping,
 * what is left out (down, silent, expired hosts; expired, string and empty metrics; dead
 * sources), summaries, and rendering in slices. The real promtool, Prometheus and
 * node_exporter check the output in test/integration/prometheus.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_EXPOSITION, ExpositionRenderer, hostVisible, newRenderCounts } from '../../src/plugins/prometheus/exposition';
import {
  escapeHelp, escapeLabelValue, familyName, formatValue, lintSafeBase, sanitizeName, shortHash, unitRule,
} from '../../src/plugins/prometheus/names';
import { ScrapeCache } from '../../src/plugins/prometheus/scrape-cache';
import type { TreeView } from '../../src/store/store';
import { DaemonStats } from '../../src/util/stats';
import { DEFAULT_SOURCE_LIMITS } from '../../src/config/limits';
import { bigView, cluster, grid, host, metric, snapshot, T_NOW, view } from '../helpers/tree-builders';

const noHealth = { ...DEFAULT_EXPOSITION, health: false };

async function render(v: TreeView, options = noHealth, now = T_NOW): Promise<string> {
  let out = '';
  for await (const chunk of new ExpositionRenderer(options, async () => undefined).render({ view: v, now, stats: new DaemonStats(), bootTimeMs: 0 })) out += chunk;
  return out;
}

function lines(text: string, family: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${family}{`) || l.startsWith(`${family} `));
}

test('names: snake_case, base units in the name, promtool\'s lint rules', () => {
  assert.equal(sanitizeName('cpuUser'), 'cpu_user');
  assert.equal(sanitizeName('GPU0.mem-used%'), 'gpu0_mem_used_');
  assert.equal(sanitizeName('9lives'), '9lives');
  assert.deepEqual(unitRule('KB'), { suffix: '_bytes', factor: 1024 });
  assert.deepEqual(unitRule(' % '), { suffix: '_ratio', factor: 0.01 });
  assert.deepEqual(unitRule('bytes/sec'), { suffix: '_bytes_per_second', factor: 1 });
  assert.deepEqual(unitRule('packets/sec'), { suffix: '_packets_per_second', factor: 1 });
  assert.deepEqual(unitRule('MHz'), { suffix: '_hertz', factor: 1e6 });
  assert.deepEqual(unitRule('GB'), { suffix: '_bytes', factor: 1e9 });
  assert.deepEqual(unitRule('CPUs'), { suffix: '', factor: 1 });
  assert.deepEqual(unitRule(' '), { suffix: '', factor: 1 });
  // An abbreviated unit at the end of the name is the unit; elsewhere it is joined away.
  assert.deepEqual(lintSafeBase('gpu_mem_mb'), { base: 'gpu_mem', unitToken: 'mb' });
  assert.deepEqual(lintSafeBase('mb_free'), { base: 'mbx_free', unitToken: null });
  assert.deepEqual(lintSafeBase('disk_s_time'), { base: 'disks_time', unitToken: null });
  assert.deepEqual(lintSafeBase('anchor_counter'), { base: 'anchorcounter', unitToken: null });
  assert.equal(familyName('ganglia_', 'bytes_in', '_bytes_per_second'), 'ganglia_bytes_in_per_second');
  assert.equal(familyName('ganglia_', 'mem_free_bytes', '_bytes'), 'ganglia_mem_free_bytes');
  assert.equal(familyName('ganglia_', 'proc_total', ''), 'ganglia_proc_total_value');
  assert.equal(familyName('ganglia_', 'req_count', ''), 'ganglia_req_count_value');
  assert.equal(shortHash('cpu.user'), shortHash('cpu.user'));
  assert.notEqual(shortHash('cpu.user'), shortHash('cpu-user'));
  assert.match(shortHash('x'), /^[0-9a-f]{8}$/);
});

test('escaping: label values and HELP, bytes from the wire re-read as UTF-8, special floats', () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.equal(escapeHelp('a"b\\c\nd'), 'a"b\\\\c\\nd');
  // "héllo" in UTF-8, as the tree holds it (one char per byte).
  assert.equal(escapeLabelValue(Buffer.from('héllo', 'utf8').toString('latin1')), 'héllo');
  assert.equal(escapeLabelValue('\xff'), '\ufffd');
  assert.deepEqual([1.5, NaN, Infinity, -Infinity, 1e21].map(formatValue), ['1.5', 'NaN', '+Inf', '-Inf', '1e+21']);
});

test('hosts down, silent for 4 x TMAX or past DMAX are left out, and so are expired, string and empty metrics', async () => {
  const m = (name: string, over = {}) => metric(name, { val: '1.5', units: '', ...over });
  const hosts = [
    host('ok', [m('load_one'), m('os_name', { type: 'string', val: 'Linux' }), m('gone', { dmax: 30, t0: T_NOW - 31 }),
      m('empty', { val: '' }), m('mem_free', { units: 'KB', val: '2' }), m('weird', { val: 'abc' })]),
    host('down', [m('load_one')], { up: false }),
    host('silent', [m('load_one')], { tmax: 20, t0: T_NOW - 80 }),
    host('expired', [m('load_one')], { dmax: 60, t0: T_NOW - 61, tmax: 100 }),
  ];
  assert.deepEqual(hosts.map((h) => hostVisible(h, T_NOW)), [true, false, false, false]);
  const text = await render(view([cluster('C', hosts)], { gridname: 'G' }));
  assert.deepEqual(lines(text, 'ganglia_load_one'), ['ganglia_load_one{grid="G",cluster="C",host="ok"} 1.5']);
  assert.deepEqual(lines(text, 'ganglia_mem_free_bytes'), ['ganglia_mem_free_bytes{grid="G",cluster="C",host="ok"} 2048']);
  for (const absent of ['ganglia_os_name', 'ganglia_gone', 'ganglia_empty', 'ganglia_weird']) assert.deepEqual(lines(text, absent), []);
  // HELP from DESC (the tree builders' default EXTRA_DATA), with the Ganglia name.
  assert.match(text, /^# HELP ganglia_load_one One minute load average \(Ganglia load_one\)$/m);
  assert.match(text, /^# TYPE ganglia_load_one gauge$/m);
});

test('summaries of clusters, remote grids and this grid; the dead source\'s nodes are left out', async () => {
  const c = cluster('C', [host('a', [metric('load_one', { val: '1', units: '' })]), host('b', [metric('load_one', { val: '2', units: '' })])]);
  const remote = grid('Remote', { summary: cluster('RC', [host('r', [metric('load_one', { val: '4', units: '' })])]).summary });
  const deadCluster = cluster('Dead', [host('d', [metric('load_one', { val: '8', units: '' })])]);
  const live = snapshot('live', [c, remote]);
  const dead = snapshot('gone', [deadCluster]);
  const config = (name: string) => ({ name, step: 15, addresses: [], origin: 'x:1', limits: DEFAULT_SOURCE_LIMITS });
  const v = view([c, remote, deadCluster], {
    gridname: 'G',
    sources: [
      { config: config('live'), snapshot: live, dead: false, lastSuccess: T_NOW, lastError: null, consecutiveFailures: 0 },
      { config: config('gone'), snapshot: dead, dead: true, lastSuccess: T_NOW - 60, lastError: 'refused', consecutiveFailures: 3 },
    ],
  });
  const text = await render(v);
  assert.deepEqual(lines(text, 'ganglia_cluster_load_one'), ['ganglia_cluster_load_one{grid="G",cluster="C"} 3']);
  assert.deepEqual(lines(text, 'ganglia_cluster_metric_hosts'), ['ganglia_cluster_metric_hosts{grid="G",cluster="C",metric="load_one"} 2']);
  assert.deepEqual(lines(text, 'ganglia_cluster_hosts'), [
    'ganglia_cluster_hosts{grid="G",cluster="C",state="up"} 2', 'ganglia_cluster_hosts{grid="G",cluster="C",state="down"} 0',
  ]);
  assert.deepEqual(lines(text, 'ganglia_grid_load_one').sort(), [
    `ganglia_grid_load_one{grid="G"} ${v.rootSummary.metrics.get('load_one')!.sum}`, 'ganglia_grid_load_one{grid="Remote"} 4',
  ].sort());
  assert.deepEqual(lines(text, 'ganglia_load_one').map((l) => /host="(\w+)"/.exec(l)![1]), ['a', 'b']);
});

test('collisions: the clean Ganglia name keeps the Prometheus name, the other gets a stable tag; KB and MB share bytes', async () => {
  const h1 = host('h1', [
    metric('cpu.user', { val: '1', units: '' }), metric('cpu_user', { val: '2', units: '' }),
    metric('mem', { val: '1', units: 'KB' }), metric('cluster_load_one', { val: '5', units: '' }), metric('load_one', { val: '7', units: '' }),
  ]);
  const h2 = host('h2', [metric('mem', { val: '1', units: 'MB' })]);
  const text = await render(view([cluster('C', [h1, h2])], { gridname: 'G' }));
  assert.deepEqual(lines(text, 'ganglia_cpu_user'), ['ganglia_cpu_user{grid="G",cluster="C",host="h1"} 2']);
  assert.deepEqual(lines(text, `ganglia_cpu_user_${shortHash('cpu.user')}`), [`ganglia_cpu_user_${shortHash('cpu.user')}{grid="G",cluster="C",host="h1"} 1`]);
  assert.deepEqual(lines(text, 'ganglia_mem_bytes'), [
    'ganglia_mem_bytes{grid="G",cluster="C",host="h1"} 1024', 'ganglia_mem_bytes{grid="G",cluster="C",host="h2"} 1048576',
  ]);
  // A host metric named cluster_load_one and the cluster summary of load_one.
  assert.deepEqual(lines(text, 'ganglia_cluster_load_one'), ['ganglia_cluster_load_one{grid="G",cluster="C",host="h1"} 5']);
  assert.deepEqual(lines(text, `ganglia_cluster_load_one_${shortHash('load_one')}`), [`ganglia_cluster_load_one_${shortHash('load_one')}{grid="G",cluster="C"} 7`]);
  // Every family is declared once.
  const declared = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(declared).size, declared.length);
});

test('rendering in slices gives the event loop back and the same text as one go; chunks stay bounded', async () => {
  const v = bigView(4, 50, 40);
  const whole = await render(v, { ...noHealth, sliceMs: Infinity, chunkChars: Infinity });
  let pauses = 0;
  const chunks: string[] = [];
  const counts = newRenderCounts();
  const sliced = new ExpositionRenderer({ ...noHealth, sliceMs: 0, chunkChars: 4096 }, async () => { pauses += 1; });
  for await (const c of sliced.render({ view: v, now: T_NOW, stats: new DaemonStats(), bootTimeMs: 0 }, counts)) chunks.push(c);
  assert.equal(chunks.join(''), whole);
  assert.ok(pauses > 100, `paused ${pauses} times`);
  assert.equal(counts.pauses, pauses);
  assert.equal(counts.series, 8000 + 4 * 40 * 2 + 4 * 2 + 40 + 40 + 2); // hosts, cluster sums and NUMs, host counts, grid

  assert.ok(chunks.every((c) => c.length < 4096 + 300), 'a chunk is at most one line past the limit');
  assert.equal(lines(whole, 'ganglia_metric_0_units').length, 0); // "units" is not a unit: no suffix
  assert.equal(lines(whole, 'ganglia_metric_0').length, 200);
});

test('the scrape cache renders once for concurrent scrapes of the same tree and second', async () => {
  const cache = new ScrapeCache();
  let renders = 0;
  const render = async () => {
    renders += 1;
    await new Promise((r) => setImmediate(r));
    return { chunks: [Buffer.from('a 1\n')], bytes: 4, counts: { families: 1, series: 1, pauses: 0, maxSliceMs: 0, maxSliceCpuMs: 0 }, renderMs: 0 };
  };
  const [a, b] = await Promise.all([cache.get('1:100', render), cache.get('1:100', render)]);
  assert.equal(a, b);
  assert.equal(renders, 1);
  await cache.get('2:100', render);
  assert.equal(renders, 2);
  // Let go after releaseAfterMs: the same key renders again (no 10 MB copy kept between scrapes).
  const shortLived = new ScrapeCache(0);
  await shortLived.get('3:100', render);
  await new Promise((r) => setTimeout(r, 10));
  await shortLived.get('3:100', render);
  assert.equal(renders, 4);
});

test('health: polls, sources, writers, and each plugin\'s deliveries and own numeric counters (the RRD writer\'s)', async () => {
  const stats = new DaemonStats();
  stats.polls.ok.num = 7;
  stats.polls.ok.totalMillis = 1500;
  stats.polls.failed.num = 2;
  stats.sent('rrdtool').num = 930;
  stats.plugins.set('rrd', {
    notified: 7, dropped: 1, errors: 0, queued: 0, capacity: 64, status: () => ({ backend: 'rrdtool', values: 930, created: 93, errors: 0 }),
  });
  const v = view([], { gridname: 'G' });
  let text = '';
  for await (const c of new ExpositionRenderer({ ...DEFAULT_EXPOSITION, processMetrics: false }).render({ view: v, now: T_NOW, stats, bootTimeMs: 0 })) text += c;
  for (const line of [
    'gmetad_polls_total{result="ok"} 7', 'gmetad_polls_total{result="failed"} 2', 'gmetad_polls_duration_seconds_total{result="ok"} 1.5',
    'gmetad_metrics_sent_total{writer="rrdtool"} 930', 'gmetad_plugin_events_total{plugin="rrd"} 7',
    'gmetad_plugin_dropped_events_total{plugin="rrd"} 1', 'gmetad_plugin_queue_size{plugin="rrd"} 64',
    'gmetad_plugin_status{plugin="rrd",name="values"} 930', 'gmetad_plugin_status{plugin="rrd",name="created"} 93',
  ]) assert.ok(text.split('\n').includes(line), line);
  assert.doesNotMatch(text, /name="backend"/);
  assert.doesNotMatch(text, /^process_/m);
  assert.match(text, /^# TYPE gmetad_polls_total counter$/m);
});
