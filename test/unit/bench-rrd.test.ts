/** Pure helpers of the RRD benchmark (bench/rrd-*.ts): header parsing, counting, configs, figures. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseRrdcachedStats, rrdcachedArgs } from '../../bench/rrd-cached';
import {
  BENCH_RRAS, DAEMON_DEFAULT_RRAS, estimateTreeBytes, expectedRrdFiles, numericMetricsPerHost, parseModes, renderRrdConfig, rraRows, writeBehindSeconds,
} from '../../bench/rrd-config';
import { clusterLocaltime, countRrdFilesOffThread, lagSummary, parseRrdLastUpdate, rrdLastUpdateOffset, scanTreeOffThread, valuesWrittenBetween } from '../../bench/rrd-files';
import { cpuPerCycle, keepsUp, microsPerMetric, modeRows, type ModeSideResult } from '../../bench/rrd-report';
import { ClusterDocument } from '../../bench/emulated-cluster';

/** A minimal RRD header as rrdtool 1.7 writes it on x86_64 (stat_head, ds/rra defs, live_head). */
function fakeRrdHeader(dsCount: number, rraCount: number, lastUp: number): Buffer {
  const buf = Buffer.alloc(rrdLastUpdateOffset(dsCount, rraCount) + 16);
  buf.write('RRD\0', 0, 'latin1');
  buf.write('0003\0', 4, 'latin1');
  buf.writeDoubleLE(8.642135e130, 16);
  buf.writeBigUInt64LE(BigInt(dsCount), 24);
  buf.writeBigUInt64LE(BigInt(rraCount), 32);
  buf.writeBigUInt64LE(15n, 40);
  buf.writeBigInt64LE(BigInt(lastUp), rrdLastUpdateOffset(dsCount, rraCount));
  return buf;
}

test('last_up is read after the stat head and the ds/rra definitions', () => {
  // 1 DS + 5 RRAs (a gmetad host file): 128 + 120 + 600 = 848, as checked against rrdtool lastupdate.
  assert.equal(rrdLastUpdateOffset(1, 5), 848);
  assert.equal(parseRrdLastUpdate(fakeRrdHeader(1, 5, 1_700_000_031)), 1_700_000_031);
  assert.equal(parseRrdLastUpdate(fakeRrdHeader(2, 5, 1_700_000_123)), 1_700_000_123);
  assert.throws(() => parseRrdLastUpdate(Buffer.from('not an rrd file at all, really, no'.repeat(8))), /not an RRD/);
  assert.throws(() => parseRrdLastUpdate(fakeRrdHeader(2, 5, 1).subarray(0, 900)), RangeError);
});

test('the tree is scanned in a worker thread: every file, its last_up, unreadable files counted, skipped top directories', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scan-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const header = (lastUp: number) => {
    const b = Buffer.alloc(rrdLastUpdateOffset(1, 1) + 8);
    b.write('RRD\0', 0, 'latin1');
    b.writeBigUInt64LE(1n, 24);
    b.writeBigUInt64LE(1n, 32);
    b.writeBigInt64LE(BigInt(lastUp), rrdLastUpdateOffset(1, 1));
    return b;
  };
  for (const [dir, file, lastUp] of [['c/h1', 'a.rrd', 100], ['c/h1', 'b.rrd', 115], ['c/h2', 'a.rrd', 130], ['__SummaryInfo__', 'x.rrd', 7]] as const) {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.writeFileSync(path.join(root, dir, file), header(lastUp));
  }
  fs.writeFileSync(path.join(root, 'c/h2/broken.rrd'), 'not an rrd');
  fs.writeFileSync(path.join(root, 'c/h2/notes.txt'), 'ignored');
  const { files, scan } = await scanTreeOffThread(root, ['__SummaryInfo__']);
  assert.deepEqual(files.map((f) => path.relative(root, f)).sort(), ['c/h1/a.rrd', 'c/h1/b.rrd', 'c/h2/a.rrd', 'c/h2/broken.rrd']);
  assert.deepEqual([...scan.lastUpdate].map(([f, v]) => [path.relative(root, f), v]).sort(), [['c/h1/a.rrd', 100], ['c/h1/b.rrd', 115], ['c/h2/a.rrd', 130]]);
  assert.equal(scan.unreadable, 1);
  assert.equal(await countRrdFilesOffThread(root), 5);
  assert.equal(await countRrdFilesOffThread(path.join(root, 'missing')), 0);
});

test('values written count the served timestamps between the two scans, per file', () => {
  const served = [100, 115, 130, 145, 160];
  const before = new Map([['a', 100], ['b', 130], ['c', 160]]);
  const after = new Map([['a', 160], ['b', 130], ['c', 160], ['d', 145]]);
  // a: 115,130,145,160 -> 4; b: none; c: none; d (new file): 100..145 -> 4
  assert.equal(valuesWrittenBetween(before, after, served), 8);
  // Unsorted input is fine.
  assert.equal(valuesWrittenBetween(before, after, [...served].reverse()), 8);
});

test('lag summary counts files further behind than allowed', () => {
  const lag = lagSummary([160, 160, 160, 145, 100], 160, 30);
  assert.equal(lag.files, 5);
  assert.equal(lag.maxLag, 60);
  assert.equal(lag.medianLag, 0);
  assert.equal(lag.behind, 1);
});

test('the LOCALTIME of a cluster document is found past the DTD', () => {
  const doc = new ClusterDocument({ hosts: 2, metrics: 5, nowSec: 1_800_000_000 });
  assert.equal(clusterLocaltime(doc.current()), 1_800_000_000);
  doc.refresh(1_800_000_042_500);
  assert.equal(clusterLocaltime(doc.current()), 1_800_000_042);
});

test('expected files follow the numeric metrics of the emulated cluster', () => {
  const numeric = numericMetricsPerHost(100);
  // 100 metrics: 4 string metrics among the 35 standard ones, 3 among the 65 extra ones.
  assert.equal(numeric, 93);
  assert.deepEqual(expectedRrdFiles(1000, 100), { host: 93_000, summary: 186, total: 93_186 });
});

test('configs: RRDs on in RRD modes, rrdcached address, write_behind section only for gmetad-ts', () => {
  const base = { gridName: 'G', sourceName: 'S', step: 15, gmondPort: 1, xmlPort: 2, interactivePort: 3, rrdRootdir: '/dev/shm/x/ts' };
  assert.match(renderRrdConfig({ ...base, side: 'c', mode: 'baseline' }), /^write_rrds off$/m);
  const direct = renderRrdConfig({ ...base, side: 'c', mode: 'direct' });
  assert.match(direct, /^write_rrds on$/m);
  assert.match(direct, /^rrd_rootdir "\/dev\/shm\/x\/ts"$/m);
  assert.doesNotMatch(direct, /rrdcached_address|write_behind/);
  assert.doesNotMatch(renderRrdConfig({ ...base, side: 'ts', mode: 'direct' }), /write_behind/);
  assert.match(renderRrdConfig({ ...base, side: 'ts', mode: 'direct-wb120' }), /^rrd \{\n {2}write_behind 120\n\}$/m);
  assert.doesNotMatch(renderRrdConfig({ ...base, side: 'c', mode: 'direct-wb120' }), /write_behind/);
  assert.match(renderRrdConfig({ ...base, side: 'ts', mode: 'direct-rrdtool' }), /^rrd \{\n {2}native_updates off\n\}$/m);
  assert.doesNotMatch(renderRrdConfig({ ...base, side: 'c', mode: 'direct-rrdtool' }), /native_updates/);
  assert.match(renderRrdConfig({ ...base, side: 'ts', mode: 'cached', rrdcachedAddress: '127.0.0.1:9' }), /^rrdcached_address 127\.0\.0\.1:9$/m);
  assert.throws(() => renderRrdConfig({ ...base, side: 'ts', mode: 'cached' }), /address/);
  assert.equal(writeBehindSeconds('ts', 'direct'), 0);
  assert.equal(writeBehindSeconds('ts', 'direct-wb120'), 120);
  assert.equal(writeBehindSeconds('c', 'direct'), 0);
  assert.deepEqual(parseModes('direct, cached,direct'), ['direct', 'cached']);
  assert.throws(() => parseModes('direct,fast'), /unknown mode "fast"/);
});

test('rrdcached: command line and STATS reply', () => {
  const args = rrdcachedArgs({ port: 4242, baseDir: '/dev/shm/b', workDir: '/tmp/w' });
  assert.deepEqual(args.slice(0, 6), ['-g', '-l', '127.0.0.1:4242', '-b', '/dev/shm/b', '-B']);
  assert.ok(args.includes('/tmp/w/rrdcached.pid'));
  const stats = parseRrdcachedStats([
    '9 Statistics follow', 'QueueLength: 3', 'UpdatesReceived: 30', 'FlushesReceived: 2', 'UpdatesWritten: 13',
    'DataSetsWritten: 390', 'TreeNodesNumber: 13', 'TreeDepth: 4', 'JournalBytes: 0', 'JournalRotate: 0',
  ]);
  assert.deepEqual(stats, { queueLength: 3, updatesReceived: 30, updatesWritten: 13, dataSetsWritten: 390 });
  assert.throws(() => parseRrdcachedStats(['1 Statistics follow', 'QueueLength: 0']), /UpdatesReceived/);
});

test('figures: CPU per cycle, µs per metric (minus baseline), keeps up, target verdict', () => {
  const lag = lagSummary([1000, 1000], 1000, 30);
  const ts: ModeSideResult = { side: 'ts', mode: 'direct-wb120', writeBehind: 120, windowSeconds: 60, cpu: { daemon: 2, children: 2, rrdcached: 0 }, lag, meanPollInterval: 15 };
  const c: ModeSideResult = { side: 'c', mode: 'direct', writeBehind: 0, windowSeconds: 60, cpu: { daemon: 12, children: 0, rrdcached: 0 }, lag, meanPollInterval: 16.8 };
  assert.equal(cpuPerCycle(ts, 15), 1);
  assert.equal(cpuPerCycle(c, 15), 3);
  assert.equal(microsPerMetric(1, 100_000), 10);
  assert.equal(microsPerMetric(1, 100_000, 0.5), 5);
  assert.equal(keepsUp(ts, 15), true);
  assert.equal(keepsUp(c, 15), false, 'polls spaced out by more than 10 %');
  const rows = modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts, c, baseline: { ts: 0.5, c: 0.4 } });
  const rrd = rows.find((r) => r.figure.includes('RRD part'))!;
  assert.equal(rrd.ts, '5.0');
  assert.equal(rrd.c, '26.0');
  // C polls spaced out (behind): the per-cycle ratio is not equal work, the per-value one carries the target.
  assert.equal(rrd.verdict, 'n/a');
  const perValueRow = (rs: typeof rows) => rs.find((r) => r.figure.includes('per value written'))!;
  // No values or polls counted: not measured.
  assert.equal(perValueRow(rows).verdict, 'n/a');
  const counted = (r: ModeSideResult, polls: number, valuesWritten: number): ModeSideResult => ({ ...r, polls, valuesWritten });
  // ts: 4 CPU s - 4 polls x 0.5 = 2 s for 400k values = 5 µs; C: 12 - 1 x 0.4 = 11.6 s for 100k values = 116 µs.
  const perValue = perValueRow(modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts: counted(ts, 4, 400_000), c: counted(c, 1, 100_000), baseline: { ts: 0.5, c: 0.4 } }));
  assert.deepEqual([perValue.ts, perValue.c, perValue.ratio, perValue.verdict], ['5.0', '116.0', '0.04x', 'PASS']);
  const costly = perValueRow(modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts: counted(ts, 4, 20_000), c: counted(c, 1, 100_000), baseline: { ts: 0.5, c: 0.4 } }));
  assert.equal(costly.verdict, 'FAIL', '100 µs per value against 116');
  // C keeping up: the per-cycle ratio carries the target again.
  const cUp: ModeSideResult = { ...c, meanPollInterval: 15 };
  const both = modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts, c: cUp, baseline: { ts: 0.5, c: 0.4 } });
  assert.equal(both.find((r) => r.figure.includes('RRD part'))!.verdict, 'PASS');
  assert.equal(perValueRow(both).verdict, 'n/a');
  const slow = modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts: { ...ts, cpu: { daemon: 6, children: 4, rrdcached: 0 } }, c: cUp, baseline: { ts: 0.5, c: 0.4 } });
  assert.equal(slow.find((r) => r.figure.includes('RRD part'))!.verdict, 'FAIL');
  const noBaseline = modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts, c: cUp, baseline: {} });
  assert.equal(noBaseline.find((r) => r.figure.includes('RRD part'))!.verdict, 'n/a');
  // gmetad-ts's event loop, from its /status, is shown when read (never for the C gmetad).
  const loopRow = (rs: typeof rows) => rs.find((r) => r.figure.includes('event-loop'));
  assert.equal(loopRow(rows), undefined);
  const withLoop = loopRow(modeRows({ mode: 'direct', step: 15, metrics: 100_000, ts: { ...ts, tsEventLoop: { maxMs: 12.34, p99Ms: 4.5 } }, c, baseline: {} }));
  assert.deepEqual([withLoop?.ts, withLoop?.c], ['12.3 / 4.5', '-']);
  // /status answer times through the window, both daemons.
  const answered = modeRows({
    mode: 'direct', step: 15, metrics: 100_000, baseline: {},
    ts: { ...ts, statusAnswerMs: Array.from({ length: 100 }, (_, i) => 100 - i) }, c: { ...c, statusAnswerMs: [7] },
  }).find((r) => r.figure.includes('/status answer'));
  assert.deepEqual([answered?.ts, answered?.c], ['100.0 / 99.0 / 51.0 (100 asked)', '7.0 / 7.0 / 7.0 (1 asked)']);
});

test('keeps up through rrdcached in a steady window: the files within -w + -z, and a flushed sample within 2 steps', () => {
  const inFiles = lagSummary([700, 1000], 1000, 300 + 300 + 30);
  const base: ModeSideResult = { side: 'ts', mode: 'cached', writeBehind: 0, windowSeconds: 300, cpu: { daemon: 1, children: 0, rrdcached: 1 }, lag: inFiles, meanPollInterval: 15 };
  assert.equal(keepsUp({ ...base, freshLag: lagSummary([985, 1000], 1000, 30) }, 15), true);
  assert.equal(keepsUp({ ...base, freshLag: lagSummary([955, 1000], 1000, 30) }, 15), false, 'a flushed file 45 s behind');
  assert.equal(keepsUp({ ...base, freshLag: lagSummary([], 1000, 30) }, 15), false, 'no file sampled');
  const rows = modeRows({ mode: 'cached', step: 15, metrics: 2, ts: { ...base, freshLag: lagSummary([985, 1000, 1000], 1000, 30) }, baseline: {} });
  assert.equal(rows.find((r) => r.figure.startsWith('lag as read through rrdcached'))!.ts, '15 / 0 (allowed 30; 3 files)');
});

test('tree size estimate: the daemons\' default RRAs would not fit in RAM, the benchmark\'s do', () => {
  const files = expectedRrdFiles(1000, 100);
  assert.equal(rraRows(DAEMON_DEFAULT_RRAS), 78_720);
  assert.equal(rraRows(BENCH_RRAS), 732);
  assert.ok(estimateTreeBytes(files, DAEMON_DEFAULT_RRAS) > 58e9);
  assert.ok(estimateTreeBytes(files, BENCH_RRAS) < 1e9);
  assert.throws(() => rraRows(['RRA:HWPREDICT:1440:0.1:0.0035:288']), /cannot size/);
  assert.match(
    renderRrdConfig({ side: 'c', mode: 'direct', gridName: 'G', sourceName: 'S', step: 15, gmondPort: 1, xmlPort: 2, interactivePort: 3, rrdRootdir: '/r', rras: BENCH_RRAS }),
    /^RRAs "RRA:AVERAGE:0\.5:1:244" "RRA:AVERAGE:0\.5:4:244" "RRA:AVERAGE:0\.5:40:244"$/m,
  );
});
