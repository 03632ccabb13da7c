/** Carbon names and lines (the C gmetad's rules), and the bounded batch queue. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { carbonLines } from '../../src/plugins/graphite/carbon-lines';
import { CarbonNamer } from '../../src/plugins/graphite/carbon-names';
import { BatchBuilder, BatchQueue, type Batch } from '../../src/plugins/transport/batch-queue';
import { Backoff } from '../../src/plugins/transport/backoff';
import { cluster, grid, host, metric, snapshot } from '../helpers/tree-builders';

const namer = (over: Partial<ConstructorParameters<typeof CarbonNamer>[0]> = {}) =>
  new CarbonNamer({ prefix: null, path: null, caseSensitiveHostnames: true, ...over });

test('default path: CLUSTER.HOST.METRIC, spaces in CLUSTER and dots in HOST become _', () => {
  assert.equal(namer().path('My Cluster', 'web1.example.com', 'load_one'), 'My Cluster'.replace(' ', '_') + '.web1_example_com.load_one');
  assert.equal(namer().path('a.b', 'Host.X', 'm.n'), 'a.b.Host_X.m.n');
});

test('case_sensitive_hostnames 0 lowercases the host only', () => {
  assert.equal(namer({ caseSensitiveHostnames: false }).path('Clu', 'WEB.Ex', 'Load'), 'Clu.web_ex.Load');
});

test('graphite_prefix is prepended verbatim; graphite_path replaces %s %h %m, each as often as it appears', () => {
  assert.equal(namer({ prefix: 'Ganglia.Site A' }).path('c', 'h', 'm'), 'Ganglia.Site A.c.h.m');
  assert.equal(namer({ prefix: 'p', path: '%h.%s.%m' }).path('c 1', 'h.2', 'm 3'), 'p.h_2.c_1.m_3');
  assert.equal(namer({ path: 'x.%m.%h.%m' }).path('c', 'h', 'm'), 'x.m.h.m');
  assert.equal(namer({ path: 'static' }).path('c', 'h', 'm'), 'static');
  // Replacement text is not expanded again (a CLUSTER "%s" makes the C gmetad loop forever).
  assert.equal(namer({ path: '%s.%h' }).path('%h', 'h', 'm'), '%h.h');
});

test('whitespace and control characters in names cannot forge lines', () => {
  assert.equal(namer().path('c', 'h', 'evil 1 2\nroot.x'), 'c.h.evil_1_2_root.x');
  assert.equal(namer().path('c\t', 'h\r', 'm'), 'c_.h_.m');
});

test('lines: numeric metrics of up hosts of local clusters, VAL verbatim, LOCALTIME (or the poll time)', () => {
  const lines: string[] = [];
  const sink = { addText: (line: string) => lines.push(line) };
  const snap = snapshot('src', [
    cluster('C', [
      host('h1', [
        metric('f', { val: '1.50', type: 'float' }), metric('d', { val: '2', type: 'double' }),
        metric('u', { val: '3', type: 'uint32' }), metric('i', { val: '-4', type: 'int8' }),
        metric('s', { val: 'text', type: 'string' }), metric('t', { val: '17', type: 'timestamp' }),
        metric('bad', { val: '1 2', type: 'float' }), metric('empty', { val: '', type: 'float' }),
      ]),
      host('down', [metric('f')], { up: false }),
    ], { localtime: 1000 }),
    cluster('NoTime', [host('h', [metric('f', { val: '7' })])], { localtime: 0 }),
    grid('Remote'),
  ], 2000.6);
  const counts = carbonLines(snap, namer(), sink);
  assert.deepEqual(lines, [
    'C.h1.f 1.50 1000\n', 'C.h1.d 2 1000\n', 'C.h1.u 3 1000\n', 'C.h1.i -4 1000\n', 'NoTime.h.f 7 2000\n',
  ]);
  assert.deepEqual(counts, { lines: 5, invalid: 2 });
});

test('BatchBuilder packs whole items up to the size; BatchQueue drops the oldest and counts', () => {
  const batches: Batch[] = [];
  const builder = new BatchBuilder(10, (b) => batches.push(b));
  for (const item of ['aaaa\n', 'bbbb\n', 'cccc\n', 'dddddddddddd\n', 'e\n']) builder.addText(item);
  builder.finish();
  assert.deepEqual(batches.map((b) => [b.data.toString('latin1'), b.items]),
    [['aaaa\nbbbb\n', 2], ['cccc\n', 1], ['dddddddddddd\n', 1], ['e\n', 1]]);

  const queue = new BatchQueue(12);
  for (const b of batches) queue.push(b);
  // 10 + 5 > 12: the first goes; 5 + 13 > 12: the next two go; 13 + 2 > 12: the big one goes.
  assert.deepEqual(queue.counters, { enqueued: 5, dropped: 4, queuedItems: 1, queuedBytes: 2 });
  assert.equal(queue.shift()?.data.toString('latin1'), 'e\n');
  queue.requeue([batches[1]]);
  assert.equal(queue.dropAll(), 1);
  assert.equal(queue.counters.dropped, 5);
});

test('latin1 bytes pass through unchanged', () => {
  const batches: Batch[] = [];
  const builder = new BatchBuilder(100, (b) => batches.push(b));
  builder.addText('h\xe9te 1 2\n');
  builder.finish();
  assert.deepEqual([...batches[0].data], [0x68, 0xe9, 0x74, 0x65, 0x20, 0x31, 0x20, 0x32, 0x0a]);
});

test('Backoff: full jitter under a cap that doubles up to the maximum, reset after success', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.5 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [50, 100, 200, 400, 500, 500]);
  b.reset();
  assert.equal(b.next(), 50);
  const r = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999 });
  assert.ok(r.next() < 100);
});
