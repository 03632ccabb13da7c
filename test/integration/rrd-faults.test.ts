/**
 * The RRD writer (real rrdtool) under file-system faults: files and host directories deleted
 * while it runs, a file system that fills up and is then grown, and many creates at once.
 * Timestamps are injected (fixed LOCALTIMEs), so nothing depends on the date or on timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RrdWriter } from '../../src/plugins/rrd/rrd-writer';
import { DaemonStats } from '../../src/util/stats';
import { cluster, host, listFiles, metric, rrdFetch, rrdInfo, snapshot, startRrdcached } from './rrd-fixtures';

const T0 = 1795255455; // a multiple of 15
/** Small files (~4 KB), so that a small tmpfs holds a known handful. */
const SMALL_RRAS = ['RRA:AVERAGE:0.5:1:400'];

async function tempDir(t: { after(fn: () => Promise<void>): void }, name: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `rrd ${name} `));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function poll(i: number, hosts: readonly string[], metrics = ['load_one']) {
  return snapshot([cluster('C', T0 + 15 * i, hosts.map((h) => host(h, metrics.map((m) => metric(m, `${i}.5`)))))]);
}

async function lastUpdate(file: string): Promise<number> {
  return Number((await rrdInfo(file)).get('last_update'));
}

test('deleted files and host directories are created again at the next write, with that value', async (t) => {
  const root = await tempDir(t, 'deleted');
  const writer = new RrdWriter({ rootDir: root, rras: SMALL_RRAS, caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats() });
  t.after(() => writer.close());
  const hosts = ['h1', 'h2'];
  for (let i = 0; i < 3; i++) await writer.writeSnapshot(poll(i, hosts, ['load_one', 'cpu_num']), 15);
  await writer.flush();
  assert.equal(writer.counters.created, 6);

  // An operator resets one metric, a purge script removes a whole host.
  await fs.rm(path.join(root, 'C/h1/load_one.rrd'));
  await fs.rm(path.join(root, 'C/h2'), { recursive: true });
  await writer.writeSnapshot(poll(3, hosts, ['load_one', 'cpu_num']), 15);
  await writer.flush();
  assert.deepEqual(await listFiles(root), [
    'C/__SummaryInfo__/cpu_num.rrd', 'C/__SummaryInfo__/load_one.rrd',
    'C/h1/cpu_num.rrd', 'C/h1/load_one.rrd', 'C/h2/cpu_num.rrd', 'C/h2/load_one.rrd',
  ]);
  assert.equal(writer.counters.recreated, 3);
  for (const file of ['C/h1/load_one.rrd', 'C/h2/load_one.rrd', 'C/h2/cpu_num.rrd']) {
    assert.equal(await lastUpdate(path.join(root, file)), T0 + 45, file);
  }
  // The next polls go on into the new files.
  await writer.writeSnapshot(poll(4, hosts, ['load_one', 'cpu_num']), 15);
  await writer.flush();
  const rows = await rrdFetch(path.join(root, 'C/h2/load_one.rrd'), T0 + 45, T0 + 60);
  assert.deepEqual(rows.get(T0 + 60), [4.5]);
  assert.equal(writer.counters.errors, 0);
  assert.equal(writer.counters.dropped, 0);
});

test('rrdcached: deleted files and host directories are created again at the next write, at one directory stat per poll', async (t) => {
  const top = await tempDir(t, 'cached deleted');
  const base = path.join(top, 'base');
  const root = path.join(base, 'rrds');
  await fs.mkdir(base);
  const socket = path.join(top, 'rrdcached.sock');
  await startRrdcached(t, base, socket);
  const daemon = `unix:${socket}`;
  const writer = new RrdWriter({
    rootDir: root, rras: SMALL_RRAS, caseSensitiveHostnames: false, backend: 'rrdcached', rrdcachedAddress: daemon, stats: new DaemonStats(),
  });
  t.after(() => writer.close());
  const hosts = ['h1', 'h2'];
  const metrics = ['load_one', 'cpu_num'];
  for (let i = 0; i < 3; i++) {
    await writer.writeSnapshot(poll(i, hosts, metrics), 15);
    await writer.flush();
  }
  assert.equal(writer.counters.created, 6);
  // A poll with nothing deleted: one stat per directory (h1, h2, __SummaryInfo__), no file stats.
  const checks = writer.counters.presenceChecks;
  await writer.writeSnapshot(poll(3, hosts, metrics), 15);
  await writer.flush();
  assert.equal(writer.counters.presenceChecks - checks, 3);

  // rrdcached holds these files' values and would acknowledge updates to them after a delete.
  await fs.rm(path.join(root, 'C/h1/load_one.rrd'));
  await fs.rm(path.join(root, 'C/h2'), { recursive: true });
  await writer.writeSnapshot(poll(4, hosts, metrics), 15);
  await writer.flush();
  assert.deepEqual(await listFiles(root), [
    'C/__SummaryInfo__/cpu_num.rrd', 'C/__SummaryInfo__/load_one.rrd',
    'C/h1/cpu_num.rrd', 'C/h1/load_one.rrd', 'C/h2/cpu_num.rrd', 'C/h2/load_one.rrd',
  ]);
  assert.equal(writer.counters.recreated, 3);
  await writer.writeSnapshot(poll(5, hosts, metrics), 15);
  await writer.flush();
  for (const file of ['C/h1/load_one.rrd', 'C/h2/load_one.rrd', 'C/h2/cpu_num.rrd', 'C/h1/cpu_num.rrd']) {
    // --daemon: rrdcached writes what it holds for the file first.
    assert.equal((await rrdInfo(path.join(root, file), daemon)).get('last_update'), String(T0 + 75), file);
    const rows = await rrdFetch(path.join(root, file), T0 + 60, T0 + 75, daemon);
    assert.deepEqual(rows.get(T0 + 75), [5.5], file);
  }
  assert.equal(writer.counters.errors, 0);
  assert.equal(writer.counters.dropped, 0);
  assert.equal(writer.rrdcachedCounters!.errors, 0);
});

test('a file system that fills up and is then grown: every file is created once there is room', async (t) => {
  const mountPoint = await fs.mkdtemp(path.join(os.tmpdir(), 'rrd tmpfs '));
  // Room for a handful of the ~4 KB files, not for the 40 this poll wants.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]);
  const root = path.join(mountPoint, 'rrds');
  await fs.mkdir(root);
  const writer = new RrdWriter({ rootDir: root, rras: SMALL_RRAS, caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats() });
  t.after(async () => {
    await writer.close();
    execFileSync('umount', ['-l', mountPoint]);
    await fs.rm(mountPoint, { recursive: true, force: true });
  });
  const hosts = Array.from({ length: 40 }, (_, i) => `node${String(i).padStart(2, '0')}`);
  const expected = [...hosts.map((h) => `C/${h}/load_one.rrd`), 'C/__SummaryInfo__/load_one.rrd'].sort();

  await writer.writeSnapshot(poll(0, hosts), 15);
  await writer.flush();
  const whileFull = await listFiles(root);
  assert.ok(whileFull.length < expected.length, `the file system holds ${whileFull.length} of ${expected.length} files`);
  assert.ok(writer.counters.errors >= expected.length - whileFull.length, `errors ${writer.counters.errors}`);
  assert.equal(writer.counters.created, whileFull.length);

  execFileSync('mount', ['-o', 'remount,size=2m', mountPoint]);
  await writer.writeSnapshot(poll(1, hosts), 15);
  await writer.flush();
  assert.deepEqual(await listFiles(root), expected);
  assert.equal(writer.counters.created, expected.length);
  for (const file of expected) assert.equal(await lastUpdate(path.join(root, file)), T0 + 15, file);
});

test('many new files at once: rrdtool creates run a bounded number at a time, and the walk yields to the event loop', async (t) => {
  const root = await tempDir(t, 'many');
  const writer = new RrdWriter({
    rootDir: root, rras: SMALL_RRAS, caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats(),
    maxCreatesInFlight: 4, sliceMs: 0, nativeCreates: false,
  });
  t.after(() => writer.close());
  const hosts = Array.from({ length: 400 }, (_, i) => `n${i}`);
  let peak = 0;
  const probe = setInterval(() => { peak = Math.max(peak, writer.createsRunning); }, 0);
  t.after(() => clearInterval(probe));
  await walkYieldingToTheLoop(writer, hosts);
  await writer.flush();
  clearInterval(probe);
  assert.ok(peak <= 4, `at most 4 creates at once, saw ${peak}`);
  assert.ok(peak >= 1);
  assert.equal((await listFiles(root)).length, 802);
  assert.equal(writer.counters.created, 802);
  assert.equal(writer.counters.nativeCreates, 0);
  assert.equal(writer.counters.dropped, 0);
});

test('many new files at once, created in-process: in bounded slices, which yield to the event loop', async (t) => {
  const root = await tempDir(t, 'many-native');
  const writer = new RrdWriter({
    rootDir: root, rras: SMALL_RRAS, caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats(), sliceMs: 0,
  });
  t.after(() => writer.close());
  const hosts = Array.from({ length: 400 }, (_, i) => `n${i}`);
  await walkYieldingToTheLoop(writer, hosts);
  // With no time left in any slice (sliceMs 0) every create waits for a slice of its own.
  assert.ok(writer.status().creating as number > 0);
  await writer.flush();
  assert.equal(writer.status().creating, 0);
  assert.equal(writer.createsRunning, 0);
  assert.equal((await listFiles(root)).length, 802);
  assert.equal(writer.counters.created, 802);
  assert.equal(writer.counters.nativeCreates, 802);
  assert.equal(writer.counters.nativeUpdates, 802);
  assert.equal(writer.counters.dropped, 0);
  for (const file of ['n0/a.rrd', 'n399/b.rrd']) assert.equal(await lastUpdate(path.join(root, 'C', file)), T0, file);
});

test('in-process updates by default; a file another program replaced is read again before the next write', async (t) => {
  const root = await tempDir(t, 'replaced');
  const writer = new RrdWriter({ rootDir: root, rras: SMALL_RRAS, caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats() });
  t.after(() => writer.close());
  for (let i = 0; i < 3; i++) {
    await writer.writeSnapshot(poll(i, ['h1']), 15);
    await writer.flush();
  }
  // Host file and summary, one update per poll each: all written in-process.
  assert.equal(writer.counters.nativeUpdates, 6);
  assert.equal(writer.counters.handedToRrdtool, 0);
  const file = path.join(root, 'C/h1/load_one.rrd');
  // An operator restores another file in its place (other archive, other size).
  const replacement = path.join(root, 'replacement.rrd');
  execFileSync('rrdtool', ['create', replacement, '--step', '15', '--start', String(T0), 'DS:sum:GAUGE:120:U:U', 'RRA:MAX:0.5:1:50', 'RRA:LAST:0.5:2:30']);
  await fs.rename(replacement, file);
  await writer.writeSnapshot(poll(3, ['h1']), 15);
  await writer.writeSnapshot(poll(4, ['h1']), 15);
  await writer.flush();
  const info = await rrdInfo(file);
  assert.equal(info.get('rra[0].cf'), 'MAX');
  assert.equal(info.get('rra[1].cf'), 'LAST');
  assert.equal(info.get('last_update'), String(T0 + 60));
  const rows = await rrdFetch(file, T0 + 45, T0 + 60);
  assert.deepEqual(rows.get(T0 + 60), [4.5]);
  assert.equal(writer.counters.errors, 0);
});

test('a file the in-process updater does not understand is updated through rrdtool', async (t) => {
  const root = await tempDir(t, 'handed back');
  // Holt-Winters archives: valid for rrdtool, not updated in-process.
  const rras = ['RRA:AVERAGE:0.5:1:100', 'RRA:HWPREDICT:100:0.1:0.0035:20'];
  const writer = new RrdWriter({ rootDir: root, rras, caseSensitiveHostnames: false, backend: 'rrdtool', stats: new DaemonStats() });
  t.after(() => writer.close());
  for (let i = 0; i < 4; i++) await writer.writeSnapshot(poll(i, ['h1']), 15);
  await writer.flush();
  assert.equal(writer.counters.handedToRrdtool, 2); // the host file and the summary
  assert.equal(writer.counters.errors, 0);
  const file = path.join(root, 'C/h1/load_one.rrd');
  assert.equal(await lastUpdate(file), T0 + 45);
  const rows = await rrdFetch(file, T0, T0 + 45);
  assert.deepEqual([15, 30, 45].map((d) => rows.get(T0 + d)?.[0]), [1.5, 2.5, 3.5]);
});

/** Writes one poll of `hosts` × {a, b} and checks that the walk yields: a callback queued
 *  before it runs before the walk is finished. */
async function walkYieldingToTheLoop(writer: RrdWriter, hosts: readonly string[]): Promise<void> {
  let immediateRan = false;
  setImmediate(() => { immediateRan = true; });
  const walk = writer.writeSnapshot(poll(0, hosts, ['a', 'b']), 15);
  let walkDone = false;
  void walk.then(() => { walkDone = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(immediateRan, true);
  assert.equal(walkDone, false, `the walk of ${hosts.length} hosts is not done after one turn of the loop`);
  await walk;
}
