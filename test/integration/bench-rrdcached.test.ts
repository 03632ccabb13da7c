/**
 * The RRD benchmark's steady-state rrdcached window reads freshness as gweb does: FLUSH a sample
 * of files, then read their last_update. Against a real rrdcached that holds values (-w 3600).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pickFreePorts } from '../../bench/daemons';
import { flushFiles, rrdcachedArgs, rrdcachedCommand, rrdcachedStats, spreadSample, startRrdcached } from '../../bench/rrd-cached';
import { readRrdLastUpdate } from '../../bench/rrd-files';

const T0 = 1795255455;

test('spreadSample takes items evenly over the whole list', () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(spreadSample(items, 5), [0, 2, 4, 6, 8]);
  assert.deepEqual(spreadSample(items, 3), [0, 3, 6]);
  assert.deepEqual(spreadSample([1, 2], 5), [1, 2]);
});

test('rrdcached -w/-z reach its command line', () => {
  const args = rrdcachedArgs({ port: 1, baseDir: '/b', workDir: '/w', writeInterval: 300, writeJitter: 150 });
  assert.equal(args[args.indexOf('-w') + 1], '300');
  assert.equal(args[args.indexOf('-z') + 1], '150');
  assert.equal(args[args.indexOf('-f') + 1], '600', 'the stale-value scan at 2 x -w');
  assert.ok(!rrdcachedArgs({ port: 1, baseDir: '/b', workDir: '/w', writeJitter: 0 }).includes('-z'), 'rrdcached refuses -z 0');
});

test('flushFiles writes what rrdcached holds for exactly those files', async (t) => {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rrdcached-'));
  t.after(() => fs.rmSync(top, { recursive: true, force: true }));
  const base = path.join(top, 'rrds');
  fs.mkdirSync(base);
  const files = ['a.rrd', 'b.rrd', 'c.rrd'].map((f) => path.join(base, f));
  for (const file of files) {
    execFileSync('rrdtool', ['create', file, '--start', String(T0), '--step', '15', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:10']);
  }
  const [port] = await pickFreePorts(1);
  const cached = await startRrdcached('ts', { port: port!, baseDir: base, workDir: top, writeInterval: 3600, writeJitter: 0 });
  t.after(() => cached.daemon.stop());

  for (const file of files) await rrdcachedCommand(port!, `UPDATE ${file} ${T0 + 15}:1`);
  assert.equal((await rrdcachedStats(port!)).updatesReceived, 3);
  // Held by rrdcached: nothing in the files yet.
  assert.deepEqual(files.map((f) => readRrdLastUpdate(f)), [T0, T0, T0]);

  await flushFiles(port!, files.slice(0, 2));
  assert.deepEqual(files.map((f) => readRrdLastUpdate(f)), [T0 + 15, T0 + 15, T0], 'the two flushed files only');
  // A file rrdcached holds nothing for is not an error; one that does not exist is.
  await flushFiles(port!, files.slice(0, 1));
  await assert.rejects(flushFiles(port!, [path.join(base, 'missing.rrd')]), /rrdcached FLUSH/);
});
