import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RrdtoolCommandError, RrdtoolPool } from '../../src/plugins/rrd/rrdtool-pool';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rrdtool pipe '));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

const CREATE = ['--step', '15', '--start', '1000000000', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:10'];

test('paths with spaces and both quote characters reach rrdtool intact', async (t) => {
  const dir = await tempDir(t);
  const pool = new RrdtoolPool({ size: 1 });
  t.after(() => pool.close());
  const file = path.join(dir, `it's a "q" file.rrd`);
  assert.deepEqual(await pool.run(['create', file, ...CREATE]), []);
  await fs.access(file);
  await pool.run(['update', file, '1000000015:1', '1000000030:2']);
  const info = await pool.run(['info', file]);
  assert.ok(info.includes(`filename = "${file}"`), info.slice(0, 3).join('\n'));
  assert.ok(info.includes('last_update = 1000000030'));
  assert.deepEqual(await pool.run(['last', file]), ['1000000030']);
});

test('errors come back per command, in order, and do not disturb the next ones', async (t) => {
  const dir = await tempDir(t);
  const pool = new RrdtoolPool({ size: 2, maxInFlight: 4 });
  t.after(() => pool.close());
  const file = path.join(dir, 'a.rrd');
  await pool.run(['create', file, ...CREATE], 7);
  const results: string[] = [];
  const n = 300;
  for (let i = 1; i <= n; i++) {
    // Same shard: in order. Every 10th value repeats a timestamp and must fail alone.
    const ts = 1000000000 + i - (i % 10 === 0 ? 1 : 0);
    pool.submit(['update', file, `${ts}:${i}`], 7, (err) => results.push(err ? `E${i}` : `ok${i}`));
  }
  await pool.flush();
  assert.equal(results.length, n);
  for (let i = 1; i <= n; i++) assert.equal(results[i - 1], i % 10 === 0 ? `E${i}` : `ok${i}`);
  await assert.rejects(pool.run(['update', path.join(dir, 'missing.rrd'), '1:1']), (err: Error) => {
    assert.ok(err instanceof RrdtoolCommandError);
    assert.match(err.message, /No such file|opening/);
    return true;
  });
});

test('a process that dies is restarted without losing the commands queued behind', async (t) => {
  const dir = await tempDir(t);
  const pool = new RrdtoolPool({ size: 1, restartMinMs: 10, restartMaxMs: 50 });
  t.after(() => pool.close());
  const file = path.join(dir, 'b.rrd');
  await pool.run(['create', file, ...CREATE]);
  // `quit` ends rrdtool without an answer: tried twice, then failed; the rest still runs.
  const quit = pool.run(['quit']);
  const after = [pool.run(['update', file, '1000000015:5']), pool.run(['last', file])];
  await assert.rejects(quit, /exited/);
  assert.deepEqual(await Promise.all(after), [[], ['1000000015']]);
  assert.equal(pool.queued, 0);
});
