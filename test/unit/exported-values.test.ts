import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceEvent } from '../../src/plugins/api';
import { exportedValueChunks, exportedValues } from '../../src/plugins/push/exported-values';
import { cluster, grid, host, metric, snapshot, T_NOW, view } from '../helpers/tree-builders';

function event(): SourceEvent {
  const hosts = Array.from({ length: 5 }, (_, i) => host(`h${i}`, [
    metric('load_one', { val: String(i) }),
    metric('os_name', { type: 'string', val: 'Linux' }),
    metric('gone', { t0: T_NOW - 100, dmax: 30 }),
    metric('bad', { val: 'nan' }),
  ]));
  const down = host('down', [metric('load_one')], { up: false });
  const nodes = [cluster('C', [...hosts, down]), grid('Remote'), grid('TestGrid')];
  return { kind: 'source', snapshot: snapshot('src', nodes, T_NOW), step: 15, view: view(nodes) };
}

test('exported values: numeric, current values of up hosts; summaries; a remote grid named like ours is left to the root', () => {
  const values = exportedValues(event());
  assert.equal(values.source, 'src');
  assert.equal(values.time, T_NOW);
  assert.deepEqual(values.hosts.map((h) => [h.host, h.metrics.map((m) => `${m.name}=${m.value}`)]), [
    ['h0', ['load_one=0']], ['h1', ['load_one=1']], ['h2', ['load_one=2']], ['h3', ['load_one=3']], ['h4', ['load_one=4']],
  ]);
  assert.equal(values.invalid, 5, 'the "nan" of each host');
  assert.deepEqual(values.summaries.map((s) => [s.grid, s.cluster, s.hostsUp, s.hostsDown]), [['TestGrid', 'C', 5, 1], ['Remote', null, 0, 0]]);
});

test('chunks hold whole hosts, at most N of them, and together the same values', () => {
  const chunks = [...exportedValueChunks(event(), 2)];
  assert.deepEqual(chunks.map((c) => c.hosts.length), [2, 2, 1]);
  assert.deepEqual(chunks.flatMap((c) => c.hosts), exportedValues(event()).hosts);
  assert.equal(chunks.reduce((n, c) => n + c.invalid, 0), 5);
  assert.equal(chunks.flatMap((c) => c.summaries).length, 2);
});
