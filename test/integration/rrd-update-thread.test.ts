/**
 * The RRD update thread (src/plugins/rrd/native/update-thread.ts) against real files made
 * by rrdtool: updates land in order and are counted, refused ones come back with their
 * values and rrdtool's reason, ids are reused safely, the thread is named and ends on
 * close, and a worker that dies hands its unanswered updates back instead of losing them.
 * Timestamps are fixed; nothing depends on the date.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NativeUpdateThread, type UpdateProblemKind } from '../../src/plugins/rrd/native/update-thread';
import { processBaseNice } from '../../src/util/thread-priority';
import { rrdFetch, rrdInfo } from './rrd-fixtures';

const T0 = 1795255455; // a multiple of 15

interface File { readonly path: string }
interface NotWritten { readonly file: string; readonly kind: UpdateProblemKind; readonly message: string; readonly args: string[] }

function setup(t: { after(fn: () => unknown): void }, workerFile?: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrd update thread '));
  const updated: number[] = [];
  const notWritten: NotWritten[] = [];
  const thread = new NativeUpdateThread<File>({
    baseNice: processBaseNice(),
    ...(workerFile ? { file: workerFile } : {}),
    owners: {
      pathOf: (file) => file.path,
      updated: (count) => updated.push(count),
      notWritten: (file, kind, message, args) => notWritten.push({ file: path.basename(file.path), kind, message, args }),
    },
  });
  t.after(async () => {
    await thread.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const create = (name: string): File => {
    const file = path.join(dir, name);
    execFileSync('rrdtool', ['create', file, '--start', String(T0 - 1), '--step', '15', 'DS:sum:GAUGE:30:U:U', 'RRA:AVERAGE:0.5:1:100']);
    return { path: file };
  };
  return { dir, thread, updated, notWritten, create };
}

function threadNames(): string[] {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  });
}

test('updates land in the files in order, are counted, and flush waits for all of them', async (t) => {
  const { thread, updated, notWritten, create } = setup(t);
  const a = create('a.rrd');
  const b = create('b.rrd');
  const ida = thread.allocate();
  const idb = thread.allocate();
  for (let i = 0; i < 4; i++) {
    thread.update(ida, a, T0 + 15 * i, `${i}.5`);
    thread.update(idb, b, T0 + 15 * i, String(10 * i));
  }
  thread.updateArguments(ida, a, [`${T0 + 60}:9`, `${T0 + 75}:10`]);
  assert.equal(thread.pending, 9);
  await thread.flush();
  assert.equal(thread.pending, 0);
  assert.deepEqual(notWritten, []);
  assert.equal(updated.reduce((x, y) => x + y, 0), 9);
  assert.ok(threadNames().includes('gmetad-rrd'), 'the worker names its thread');
  assert.equal((await rrdInfo(a.path)).get('last_update'), String(T0 + 75));
  const rows = await rrdFetch(b.path, T0, T0 + 45);
  assert.deepEqual([15, 30, 45].map((d) => rows.get(T0 + d)), [[10], [20], [30]]);
  await thread.close();
  assert.ok(!threadNames().includes('gmetad-rrd'), 'close ends the thread');
});

test('what is not written comes back with its values and rrdtool\'s reason', async (t) => {
  const { dir, thread, notWritten, create } = setup(t);
  const a = create('a.rrd');
  const id = thread.allocate();
  thread.update(id, a, T0 + 15, '1');
  thread.update(id, a, T0 + 15, '2'); // same second again: stale
  thread.update(id, a, T0 + 30, 'not-a-number');
  const gone = thread.allocate();
  thread.update(gone, { path: path.join(dir, 'missing.rrd') }, T0 + 15, '3');
  await thread.flush();
  assert.deepEqual(notWritten.map(({ file, kind, args }) => [file, kind, args]), [
    ['a.rrd', 'stale', [`${T0 + 15}:2`]],
    ['a.rrd', 'invalid', [`${T0 + 30}:not-a-number`]],
    ['missing.rrd', 'missing', [`${T0 + 15}:3`]],
  ]);
  assert.match(notWritten[2]!.message, /ENOENT/);
});

test('an id forgotten and given to another file writes that file', async (t) => {
  const { thread, notWritten, create } = setup(t);
  const a = create('a.rrd');
  const b = create('b.rrd');
  const id = thread.allocate();
  thread.update(id, a, T0 + 15, '1');
  thread.forget(id);
  const reused = thread.allocate();
  assert.equal(reused, id);
  thread.update(reused, b, T0 + 15, '2');
  await thread.flush();
  assert.deepEqual(notWritten, []);
  assert.equal((await rrdInfo(a.path)).get('ds[sum].last_ds'), '1');
  assert.equal((await rrdInfo(b.path)).get('ds[sum].last_ds'), '2');
});

test('a worker that dies hands its unanswered updates back; the next ones go to a new worker', async (t) => {
  const dying = path.join(__dirname, '..', 'helpers', 'dying-update-worker.js');
  const { thread, updated, notWritten, create } = setup(t, dying);
  const a = create('a.rrd');
  const id = thread.allocate();
  thread.update(id, a, T0 + 15, '1');
  thread.update(id, a, T0 + 30, '2');
  await thread.flush();
  assert.deepEqual(notWritten.map(({ kind, args }) => [kind, args]), [
    ['unsupported', [`${T0 + 15}:1`]],
    ['unsupported', [`${T0 + 30}:2`]],
  ]);
  assert.match(notWritten[0]!.message, /exited with code 3/);
  thread.update(id, a, T0 + 45, '3');
  await thread.flush();
  assert.equal(notWritten.length, 3, 'a new worker took the next update (and died too)');
  assert.deepEqual(updated, []);
  assert.equal(thread.pending, 0);
});
