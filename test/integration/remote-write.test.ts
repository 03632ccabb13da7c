/**
 * The remote_write exporter through the real daemon into the real receivers: Prometheus 2.42
 * (--web.enable-remote-write-receiver) and VictoriaMetrics, read back with PromQL. Every
 * numeric value of every up host arrives under its documented name and labels, with the
 * cluster, grid and root summaries; and values polled while the receiver was down are
 * retried and delivered by the SIGTERM flush, every poll of them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { shortHash } from '../../src/plugins/prometheus/names';
import { startFakeGmond } from '../helpers/fake-gmond';
import { freePort, rawRequest } from '../helpers/net';
import { OUR_GMETAD_MAIN } from '../helpers/our-gmetad';
import { registryFor, waitFor, type ProcessRegistry } from '../helpers/processes';
import {
  promQuery, promRawSamples, startPrometheus, startVictoriaMetrics, victoriaFlush, type Receiver,
} from '../helpers/receivers';
import {
  CLUSTER_NAME, clusterXml, expectedHostValues, GRIDNAME, gridXml, PROMETHEUS_NAMES, REMOTE_GRID, summarisedMetrics,
} from './push-fixtures';

/** The family name and conversion factor of a fixture metric (see PROMETHEUS_NAMES). */
function promName(ganglia: string): readonly [string, number] {
  const [name, factor] = PROMETHEUS_NAMES.get(ganglia)!;
  return [name.replace('HASH', shortHash('cpu.idle')), factor];
}

/** A float as both sides print it may differ in its last digit: compare as numbers, closely. */
function near(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** The /metrics text as series key (name and sorted labels) → value, without comments. */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unexpected exposition line: ${line}`);
    const labels: [string, string][] = [];
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels.push([l[1], l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))]);
    }
    out.set(seriesKey(m[1], Object.fromEntries(labels)), Number(m[3]));
  }
  return out;
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const rest = Object.entries(labels).filter(([k]) => k !== '__name__' && k !== 'site').sort(([a], [b]) => (a < b ? -1 : 1));
  return `${name}{${rest.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

async function startDaemon(registry: ProcessRegistry, sources: string[], section: string[]) {
  const dir = registry.tempDir('remote-write');
  const interactivePort = await freePort();
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, [
    ...sources,
    `gridname "${GRIDNAME}"`,
    `xml_port ${await freePort()}`,
    `interactive_port ${interactivePort}`,
    'setuid off',
    'write_rrds off',
    ...section,
    '',
  ].join('\n'));
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-d', '1', '-c', conf]);
  const status = async () => JSON.parse((await rawRequest(interactivePort, '/status\n')).data.toString('latin1').split('\r\n\r\n')[1]) as {
    metrics: { polls: { ok: { num: number } } };
    plugins: Record<string, Record<string, number | string>>;
  };
  return { child, status, conf };
}

/** Every `ganglia_*` series of one host, as Prometheus name → value. */
async function hostSeries(receiver: Receiver, host: string): Promise<Map<string, number>> {
  const series = await promQuery(receiver, `{__name__=~"ganglia_.*", host="${host}"}`);
  const out = new Map<string, number>();
  for (const s of series) {
    assert.deepEqual(Object.keys(s.metric).sort(), ['__name__', 'cluster', 'grid', 'host', 'site'], JSON.stringify(s.metric));
    assert.equal(s.metric.cluster, CLUSTER_NAME);
    assert.equal(s.metric.grid, GRIDNAME);
    assert.equal(s.metric.site, 'lab');
    out.set(s.metric.__name__, Number(s.value[1]));
  }
  return out;
}

async function single(receiver: Receiver, query: string): Promise<number> {
  const result = await promQuery(receiver, query);
  assert.equal(result.length, 1, `${query}: ${JSON.stringify(result)}`);
  return Number(result[0].value[1]);
}

const RECEIVERS: { name: string; start: (r: ProcessRegistry) => Promise<Receiver>; writePath: string; settle(r: Receiver): Promise<void> }[] = [
  { name: 'Prometheus 2.42', start: startPrometheus, writePath: '/api/v1/write', settle: async () => undefined },
  { name: 'VictoriaMetrics', start: startVictoriaMetrics, writePath: '/api/v1/write', settle: victoriaFlush },
];

for (const receiverKind of RECEIVERS) {
  test(`remote_write into ${receiverKind.name}: every host value and summary, named and converted as /metrics serves them`, async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const receiver = await receiverKind.start(registry);
      const now = Math.floor(Date.now() / 1000);
      const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(now) });
      t.after(() => cluster.close());
      const grid = await startFakeGmond({ kind: 'serve', body: gridXml(now) });
      t.after(() => grid.close());
      const metricsPort = await freePort();
      const { child, status } = await startDaemon(registry, [
        `data_source "exp" 1 127.0.0.1:${cluster.port}`,
        `data_source "remote" 1 127.0.0.1:${grid.port}`,
      ], [
        'remote_write {',
        `  url "${receiver.base}${receiverKind.writePath}"`,
        '  label "site" "lab"',
        '  batch_size 7', // many requests per poll: batching and ordering are exercised
        '}',
        // The scrape endpoint in the same daemon: its families are what the pushed series must be.
        'prometheus {', `  port ${metricsPort}`, '  address 127.0.0.1', '  health off', '}',
      ]);

      const expected = expectedHostValues();
      await waitFor(async () => {
        await receiverKind.settle(receiver);
        const root = await promQuery(receiver, `ganglia_grid_hosts{grid="${GRIDNAME}", state="up"}`);
        return (await promQuery(receiver, 'ganglia_load_one')).length === 2 && root.length === 1 && Number(root[0].value[1]) === 4;
      }, { process: child, timeoutMs: 30_000, description: 'samples in the receiver' });

      for (const [host, values] of expected) {
        const got = await hostSeries(receiver, host);
        assert.deepEqual([...got.keys()].sort(), [...values.keys()].map((n) => promName(n)[0]).sort(), host);
        for (const [ganglia, value] of values) {
          const [name, factor] = promName(ganglia);
          assert.ok(near(got.get(name)!, value * factor), `${host} ${name}: ${got.get(name)} != ${value * factor}`);
        }
      }
      assert.deepEqual(await promQuery(receiver, '{host="node-3"}'), [], 'a down host sends nothing');

      // Summaries: the cluster's, the remote grid's and the root's.
      const c = `cluster="${CLUSTER_NAME}", grid="${GRIDNAME}"`;
      assert.equal(await single(receiver, `ganglia_cluster_load_one{${c}}`), 2);
      assert.equal(await single(receiver, `ganglia_cluster_metric_hosts{${c}, metric="load_one"}`), 2);
      assert.equal(await single(receiver, `ganglia_cluster_cpu_user_ratio{${c}}`), 0.625);
      assert.equal(await single(receiver, `ganglia_cluster_hosts{${c}, state="up"}`), 2);
      assert.equal(await single(receiver, `ganglia_cluster_hosts{${c}, state="down"}`), 1);
      assert.equal(await single(receiver, `ganglia_grid_load_one{grid="${REMOTE_GRID}"}`), 6);
      assert.equal(await single(receiver, `ganglia_grid_hosts{grid="${REMOTE_GRID}", state="up"}`), 2);
      assert.equal(await single(receiver, `ganglia_grid_load_one{grid="${GRIDNAME}"}`), 8);

      // Every series /metrics serves is in the receiver under the same name, labels and value.
      const scraped = parseExposition(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
      const pushed = new Map<string, number>();
      for (const s of await promQuery(receiver, '{__name__=~"ganglia_.*"}')) pushed.set(seriesKey(s.metric.__name__, s.metric), Number(s.value[1]));
      assert.deepEqual([...pushed.keys()].sort(), [...scraped.keys()].sort());
      for (const [key, value] of scraped) assert.ok(near(pushed.get(key)!, value), `${key}: pushed ${pushed.get(key)}, scraped ${value}`);

      const s = await status();
      const counters = s.plugins.remote_write;
      assert.ok(Number(counters.notified) >= 2, JSON.stringify(s.plugins));
      assert.ok(Number(counters.sent) > 0 && Number(counters.requests) > 0, JSON.stringify(counters));
      assert.equal(counters.droppedValues, 0);
      assert.equal(counters.rejected, 0);
      assert.ok(Number(counters.invalid) >= 1, 'the "nan" value is counted');
      process.kill(child.pid, 'SIGTERM');
      assert.equal((await child.exited).code, 0, child.output());
    });
  });
}

test('remote_write retries while the receiver is down and the SIGTERM flush delivers every poll', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const port = await freePort(); // nothing listens here yet: every push fails and is retried
    const now = Math.floor(Date.now() / 1000);
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(now) });
    t.after(() => cluster.close());
    const { child, status } = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], [
      'remote_write {',
      `  url "http://127.0.0.1:${port}/api/v1/write"`,
      '  label "site" "lab"',
      '  flush_timeout 20s',
      '}',
    ]);
    await waitFor(async () => (await status()).metrics.polls.ok.num >= 3, { process: child, description: 'three polls' });
    // The source stops answering: no poll succeeds any more, so polls.ok is final.
    cluster.setBehaviour({ kind: 'reset' });
    await new Promise((r) => setTimeout(r, 1_500));
    const before = await status();
    const polls = before.metrics.polls.ok.num;
    assert.ok(Number(before.plugins.remote_write.retries) >= 1, JSON.stringify(before.plugins.remote_write));
    assert.ok(Number(before.plugins.remote_write.queuedValues) > 0, JSON.stringify(before.plugins.remote_write));
    assert.equal(before.plugins.remote_write.sent, 0);

    const receiver = await startReceiverOnPort(registry, port);
    process.kill(child.pid, 'SIGTERM');
    assert.equal((await child.exited).code, 0, child.output());
    await victoriaFlush(receiver);

    // Every series holds one sample per poll, each with the polled value: nothing lost, nothing doubled.
    const series = await promRawSamples(receiver, `{__name__=~"ganglia_.*", cluster="${CLUSTER_NAME}"}`, '1h');
    assert.ok(series.length > 0);
    const expected = expectedHostValues();
    const hostSeriesCount = [...expected.values()].reduce((n, v) => n + v.size, 0);
    // + hosts up and down + SUM and NUM of each summarised metric (also "broken": the summary counts it, as the C gmetad's does)
    assert.equal(series.length, hostSeriesCount + 2 + 2 * summarisedMetrics().size, JSON.stringify(series.map((s) => s.metric.__name__)));
    for (const s of series) {
      assert.equal(s.values.length, polls, JSON.stringify(s.metric));
      if (s.metric.host === undefined) continue;
      const ganglia = [...PROMETHEUS_NAMES.keys()].find((g) => promName(g)[0] === s.metric.__name__)!;
      const [, factor] = promName(ganglia);
      const want = expected.get(s.metric.host)!.get(ganglia)! * factor;
      for (const v of s.values) assert.ok(near(Number(v[1]), want), `${JSON.stringify(s.metric)}: ${v[1]} != ${want}`);
    }
    assert.match(child.output(), /push failed; retrying/);
  });
});

/** VictoriaMetrics on a port chosen before it starts (the exporter already points there). */
async function startReceiverOnPort(registry: ProcessRegistry, port: number): Promise<Receiver> {
  const dir = registry.tempDir('victoria-metrics-late');
  const child = await registry.spawn('victoria-metrics', '/usr/bin/victoria-metrics', [
    `-storageDataPath=${dir}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=1',
    '-search.latencyOffset=0s', '-search.disableCache', '-loggerLevel=WARN',
  ]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    try {
      return (await fetch(`${base}/health`)).ok;
    } catch {
      return false;
    }
  }, { process: child, timeoutMs: 30_000, description: 'victoria-metrics ready' });
  return { process: child, base };
}

test('a bad remote_write setting stops start-up with one line naming file and line', (t) => {
  const dir = registryFor(t).tempDir('remote-write-bad');
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, 'data_source "a" 127.0.0.1:9\nsetuid off\nwrite_rrds off\nremote_write {\n  url "http://127.0.0.1:9/api/v1/write"\n  label "host" "x"\n}\n');
  const r = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `gmetad: ${conf}:6: remote_write { label }: "host" is set by the exporter`);
});

test('SIGHUP: a new url gets the samples from then on, the counters carry on, a bad section is refused', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const [first, second] = await Promise.all([startVictoriaMetrics(registry), startVictoriaMetrics(registry)]);
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(Math.floor(Date.now() / 1000)) });
    t.after(() => cluster.close());
    const sources = [`data_source "exp" 1 127.0.0.1:${cluster.port}`];
    const section = (url: string, batch = '5000') => ['remote_write {', `  url "${url}/api/v1/write"`, '  label "site" "lab"', `  batch_size ${batch}`, '}'];
    const { child, status, conf } = await startDaemon(registry, sources, section(first.base));
    const loadOne = async (r: Receiver) => {
      await victoriaFlush(r);
      return (await promQuery(r, 'ganglia_load_one')).length;
    };
    await waitFor(async () => (await loadOne(first)) === 2, { process: child, description: 'samples in the first receiver' });
    const sentBefore = Number((await status()).plugins.remote_write.sent);

    const text = fs.readFileSync(conf, 'utf8');
    fs.writeFileSync(conf, text.replace(first.base, second.base));
    process.kill(child.pid, 'SIGHUP');
    await waitFor(async () => (await loadOne(second)) === 2, { process: child, description: 'samples in the second receiver' });
    const after = (await status()).plugins.remote_write;
    assert.ok(Number(after.sent) > sentBefore, `${after.sent} > ${sentBefore}: the counters carry on`);
    assert.equal(after.droppedValues, 0);

    fs.writeFileSync(conf, text.replace(first.base, second.base).replace('batch_size 5000', 'batch_size zero'));
    process.kill(child.pid, 'SIGHUP');
    await waitFor(() => /remote_write \{ batch_size \}: expected a whole number/.test(child.output()), { process: child, description: 'the refused reload logged' });
    const sentThen = Number((await status()).plugins.remote_write.sent);
    await waitFor(async () => Number((await status()).plugins.remote_write.sent) > sentThen, { process: child, description: 'still sending' });
    process.kill(child.pid, 'SIGTERM');
    assert.equal((await child.exited).code, 0, child.output());
  });
});

test('remote_write with basic auth (credentials in the URL) into a VictoriaMetrics that requires it; a wrong password is refused, not retried', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const vm = await startVictoriaMetrics(registry, { basicAuth: { user: 'gmetad', password: 'p@ss word' } });
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(Math.floor(Date.now() / 1000)) });
    t.after(() => cluster.close());
    const withAuth = vm.base.replace('http://', `http://gmetad:${encodeURIComponent('p@ss word')}@`);
    const good = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], [
      'remote_write {', `  url "${withAuth}/api/v1/write"`, '  label "site" "lab"', '}',
    ]);
    await waitFor(async () => {
      await victoriaFlush(vm);
      return (await promQuery(vm, 'ganglia_load_one')).length === 2;
    }, { process: good.child, description: 'samples in the receiver' });
    assert.doesNotMatch(good.child.output(), /p@ss/, 'the password is not logged');

    const bad = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], [
      'remote_write {', `  url "${vm.base}/api/v1/write"`, '  username "gmetad"', '  password "wrong"', '}',
    ]);
    const counters = await waitFor(async () => {
      const c = (await bad.status()).plugins.remote_write;
      return Number(c.requests) >= 2 ? c : null;
    }, { process: bad.child, description: 'two refused requests' });
    assert.equal(counters.retries, 0);
    assert.equal(counters.sent, 0);
    assert.ok(Number(counters.rejected) > 0);
    assert.match(String(counters.lastError), /^HTTP 401/);
  });
});
