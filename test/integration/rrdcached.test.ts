import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RrdWriter } from '../../src/plugins/rrd/rrd-writer';
import { DaemonStats } from '../../src/util/stats';
import { waitFor } from '../helpers/processes';
import { cluster, host, listFiles, metric, rrdFetch, rrdInfo, snapshot, startRrdcached } from './rrd-fixtures';

const T0 = 1795255455;

test('rrdcached backend: updates queued while rrdcached is down arrive once it is up', async (t) => {
  const top = await fs.mkdtemp(path.join(os.tmpdir(), 'rrdcached test '));
  t.after(() => fs.rm(top, { recursive: true, force: true }));
  const base = path.join(top, 'base dir');
  const root = path.join(base, 'rrd root');
  await fs.mkdir(base);
  const socket = path.join(top, 'rrdcached.sock');
  const daemon = `unix:${socket}`;
  const stats = new DaemonStats();
  const writer = new RrdWriter({
    rootDir: root, rras: [], caseSensitiveHostnames: false, backend: 'rrdcached', rrdcachedAddress: daemon, stats,
    rrdcachedBackoffMaxMs: 200,
    // Every in-process create fits in the slice that asks for it, however slow the machine
    // (the count of UPDATEs below depends on it; rrd-faults covers creates deferred to slices
    // of their own, with sliceMs 0).
    sliceMs: 60_000,
  });
  t.after(() => writer.close());

  const poll = (i: number) => snapshot([cluster('My Cluster', T0 + 15 * i, [
    host('Web 01', [metric('load_one', `${i}.25`), metric('bytes_out', String(1000 + 300 * i), 'uint32', 'positive')]),
  ])]);
  for (let i = 0; i < 3; i++) writer.writeSnapshot(poll(i), 15);

  // rrdcached is not there: files are created locally, the updates wait in the queue.
  await waitFor(async () => (await listFiles(root)).length === 4, { description: 'the four files created' });
  assert.deepEqual(await listFiles(root), [
    'My Cluster/__SummaryInfo__/bytes_out.rrd',
    'My Cluster/__SummaryInfo__/load_one.rrd',
    'My Cluster/web 01/bytes_out.rrd',
    'My Cluster/web 01/load_one.rrd',
  ]);
  assert.equal(writer.rrdcachedCounters!.acknowledged, 0);

  await startRrdcached(t, base, socket);
  writer.writeSnapshot(poll(3), 15);
  await writer.flush();
  const counters = writer.rrdcachedCounters!;
  // Files are created in-process at once (native creates), so no value waited for its file:
  // every poll's value went as its own UPDATE, 4 files x 4 polls.
  assert.equal(counters.acknowledged, 16);
  assert.equal(counters.errors, 0);
  assert.equal(counters.dropped, 0);
  assert.equal(stats.sent('rrdcached').num, 16);

  // rrdcached holds the values (-w 300 s); --daemon makes rrdtool flush the file first.
  const hostFile = path.join(root, 'My Cluster/web 01/load_one.rrd');
  assert.equal((await rrdInfo(hostFile, daemon)).get('last_update'), String(T0 + 45));
  const rows = await rrdFetch(hostFile, T0, T0 + 45, daemon);
  assert.deepEqual([15, 30, 45].map((d) => rows.get(T0 + d)?.[0]), [1.25, 2.25, 3.25]);
  const summary = await rrdFetch(path.join(root, 'My Cluster/__SummaryInfo__/bytes_out.rrd'), T0, T0 + 45, daemon);
  assert.deepEqual(summary.get(T0 + 30), [20, 1]);

  // A source whose LOCALTIME did not move is not sent again.
  writer.writeSnapshot(poll(3), 15);
  await writer.flush();
  assert.equal(writer.rrdcachedCounters!.acknowledged, 16);
  assert.equal(writer.counters.stale, 4);
});
