import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RrdWriter } from '../../src/plugins/rrd/rrd-writer';
import { DaemonStats } from '../../src/util/stats';
import { cluster, grid, host, layoutOf, listFiles, metric, parseInfo, rrdFetch, rrdInfo, snapshot } from './rrd-fixtures';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
const T0 = 1795255455; // a multiple of 15, so PDPs line up with the updates

function fixtureLayout(name: string): Map<string, string> {
  return layoutOf(parseInfo(readFileSync(path.join(FIXTURES, name), 'latin1')));
}

async function tempRoot(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'rrd writer '));
  t.after(() => fs.rm(base, { recursive: true, force: true }));
  return path.join(base, 'rrd root');
}

function alphaAt(ts: number, load: string, counter: string) {
  return cluster('AlphaCluster', ts, [
    host('FakeHost2', [
      metric('load_one', load, 'float', 'both'),
      metric('anchor_counter', counter, 'uint32', 'positive'),
      metric('os_name', 'Linux', 'string', 'zero'),
      metric('boottime', '1795254418', 'timestamp', 'zero'),
    ]),
    host('DeadHost3', [metric('load_one', '9.99')], false),
  ]);
}

for (const nativeUpdates of [true, false]) test(`rrdtool backend${nativeUpdates ? '' : ', every update through rrdtool'}: layout, definitions and values as the C gmetad`, async (t) => {
  const root = await tempRoot(t);
  const stats = new DaemonStats();
  const writer = new RrdWriter({
    rootDir: root, rras: [], caseSensitiveHostnames: false, backend: 'rrdtool', stats, writeBehindSeconds: 0, nativeUpdates,
  });
  t.after(() => writer.close());

  const loads = ['0.50', '1.50', '2.50', '3.50'];
  for (let i = 0; i < loads.length; i++) {
    writer.writeSnapshot(snapshot([alphaAt(T0 + 15 * i, loads[i], String(100 + 150 * i))]), 15);
  }
  // Same LOCALTIME again (a source that did not move): skipped, no rrdtool error.
  writer.writeSnapshot(snapshot([alphaAt(T0 + 45, '9.00', '999')]), 15);
  await writer.flush();

  assert.deepEqual(await listFiles(root), [
    'AlphaCluster/__SummaryInfo__/anchor_counter.rrd',
    'AlphaCluster/__SummaryInfo__/load_one.rrd',
    'AlphaCluster/fakehost2/anchor_counter.rrd',
    'AlphaCluster/fakehost2/load_one.rrd',
  ]);
  assert.equal(writer.counters.errors, 0);
  assert.equal(writer.counters.stale, 4);
  assert.equal(writer.counters.created, 4);
  assert.equal(writer.counters.nativeUpdates > 0, nativeUpdates);
  assert.equal(stats.sent('rrdtool').num, 16);
  assert.equal((await fs.stat(path.join(root, 'AlphaCluster', 'fakehost2'))).mode & 0o777, 0o755 & ~process.umask());

  const hostFile = path.join(root, 'AlphaCluster/fakehost2/load_one.rrd');
  const hostInfo = await rrdInfo(hostFile);
  assert.deepEqual(layoutOf(hostInfo), fixtureLayout('rrdinfo-host.txt'));
  assert.equal(hostInfo.get('last_update'), String(T0 + 45));
  // The VAL goes to rrdtool as polled, as the C gmetad passes it.
  assert.equal(hostInfo.get('ds[sum].last_ds'), '3.50');

  const summaryInfo = await rrdInfo(path.join(root, 'AlphaCluster/__SummaryInfo__/load_one.rrd'));
  assert.deepEqual(layoutOf(summaryInfo), fixtureLayout('rrdinfo-summary.txt'));
  assert.equal(summaryInfo.get('ds[num].last_ds'), '1'); // the down host is not counted

  // Positive slope: sum is a COUNTER, num stays GAUGE (3.7.2 made it a COUNTER too).
  const counterSummary = layoutOf(await rrdInfo(path.join(root, 'AlphaCluster/__SummaryInfo__/anchor_counter.rrd')));
  const expected = fixtureLayout('rrd/rrdinfo-summary-positive-slope.txt');
  expected.set('ds[num].type', 'GAUGE');
  assert.deepEqual(counterSummary, expected);
  assert.deepEqual(layoutOf(await rrdInfo(path.join(root, 'AlphaCluster/fakehost2/anchor_counter.rrd'))),
    fixtureLayout('rrd/rrdinfo-host-positive-slope.txt'));

  const hostRows = await rrdFetch(hostFile, T0, T0 + 45);
  assert.deepEqual([15, 30, 45].map((d) => hostRows.get(T0 + d)), [[1.5], [2.5], [3.5]]);
  const summaryRows = await rrdFetch(path.join(root, 'AlphaCluster/__SummaryInfo__/anchor_counter.rrd'), T0, T0 + 45);
  // 150 per 15 s = 10/s; one host.
  assert.deepEqual(summaryRows.get(T0 + 30), [10, 1]);
});

test('grids, root summary, step 10 and hostile names', async (t) => {
  const root = await tempRoot(t);
  const stats = new DaemonStats();
  const writer = new RrdWriter({
    rootDir: root, rras: ['RRA:AVERAGE:0.5:1:100'], caseSensitiveHostnames: true, backend: 'rrdtool', stats,
    writeBehindSeconds: 0,
  });
  t.after(() => writer.close());

  const hostile = cluster('..', T0, [host('../../Etc', [metric('/etc/passwd', '1'), metric('.', '2'), metric('a\nb', '3')])]);
  const remote = grid('Top Grid', T0, [cluster('Inner', T0, [host('inner-host', [metric('cpu_num', '2', 'uint16', 'zero')])])]);
  writer.writeSnapshot(snapshot([hostile, remote]), 10);
  const rootSummary = cluster('x', 0, [host('h', [metric('bytes', '100', 'uint32', 'positive')])]).summary;
  writer.writeRootSummary(rootSummary, T0, 10);
  writer.writeRootSummary(rootSummary, T0, 10); // same second twice: skipped
  await writer.flush();

  assert.deepEqual(await listFiles(root), [
    '__/../../Etc/_.rrd'.replace('../../Etc', '.._.._Etc'),
    '__/.._.._Etc/_etc_passwd.rrd',
    '__/.._.._Etc/a_b.rrd',
    '__/__SummaryInfo__/_.rrd',
    '__/__SummaryInfo__/_etc_passwd.rrd',
    '__/__SummaryInfo__/a_b.rrd',
    'Top Grid/__SummaryInfo__/cpu_num.rrd',
    '__SummaryInfo__/bytes.rrd',
  ].sort());
  assert.equal(writer.counters.errors, 0);
  assert.equal(writer.counters.stale, 1);

  const gridInfo = await rrdInfo(path.join(root, 'Top Grid/__SummaryInfo__/cpu_num.rrd'));
  assert.equal(gridInfo.get('step'), '10');
  assert.equal(gridInfo.get('ds[sum].minimal_heartbeat'), '80');
  assert.equal(gridInfo.get('ds[num].last_ds'), '1');
  assert.equal(gridInfo.get('rra[0].rows'), '100');
  assert.equal(gridInfo.has('rra[1].rows'), false);

  const rootInfo = await rrdInfo(path.join(root, '__SummaryInfo__/bytes.rrd'));
  assert.equal(rootInfo.get('step'), '10');
  assert.equal(rootInfo.get('ds[sum].type'), 'COUNTER'); // the real slope (3.7.2: garbage)
  assert.equal(rootInfo.get('ds[num].type'), 'GAUGE');
  assert.equal(rootInfo.get('ds[sum].last_ds'), '100');
  assert.equal(stats.sent('rrdtool').num, 8);
});

test('write-behind gathers several values per update and flush() writes them out', async (t) => {
  const root = await tempRoot(t);
  const writer = new RrdWriter({
    rootDir: root, rras: [], caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats(),
    writeBehindSeconds: 600,
  });
  t.after(() => writer.close());
  const hostFile = path.join(root, 'C/h/m.rrd');
  const poll = (i: number) => snapshot([cluster('C', T0 + 15 * i, [host('h', [metric('m', `${i}.0`)])])]);
  writer.writeSnapshot(poll(0), 15);
  await writer.flush(); // created, and the first value written at once
  assert.equal((await rrdInfo(hostFile)).get('last_update'), String(T0));
  // 600 s / 15 s = 40 values per update; this file's first batch is staggered to 15 values.
  for (let i = 1; i < 6; i++) writer.writeSnapshot(poll(i), 15);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await rrdInfo(hostFile)).get('last_update'), String(T0));
  await writer.flush();
  assert.equal((await rrdInfo(hostFile)).get('last_update'), String(T0 + 75));
  const rows = await rrdFetch(hostFile, T0, T0 + 75);
  assert.deepEqual([15, 30, 45, 60, 75].map((d) => rows.get(T0 + d)?.[0]), [1, 2, 3, 4, 5]);
  assert.equal(writer.counters.errors, 0);
});
