/**
 * Dump chunks used again (server/chunk-pool): the pool's own rules, and dumps over real
 * sockets that reuse chunks while other readers are still behind, byte for byte.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { ChunkPool, dumpChunkPool } from '../../src/server/chunk-pool';
import { SharedDumpCache } from '../../src/server/shared-dump-cache';
import { fullDumpPieces } from '../../src/server/query';
import { startXmlPort } from '../../src/server/xml-port';
import { snapshotOfImage } from '../../src/store/image/views';
import type { TreeView } from '../../src/store/store';
import { fixedClock } from '../../src/util/clock';
import type { StructuredLogger } from '../../src/util/logging';
import { DaemonStats } from '../../src/util/stats';
import { encodeSnapshot } from '../helpers/encode-snapshot';
import { rawRequest } from '../helpers/net';
import { bigView, snapshot, T_NOW, view } from '../helpers/tree-builders';

const clock = fixedClock(T_NOW * 1000);
const quiet: StructuredLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

test('chunk pool: a chunk given back is handed out again, once; other sizes and a full pool are not kept', () => {
  const pool = new ChunkPool(1024, 2);
  const a = pool.take();
  assert.equal(a.length, 1024);
  assert.equal(a.buffer.byteLength, 1024, 'its own ArrayBuffer, not node\'s shared slab');
  pool.give(a.subarray(0, 10)); // a partial last chunk gives back its whole buffer
  pool.give(a); // already free: not added twice
  assert.equal(pool.freeChunks, 1);
  const b = pool.take();
  assert.equal(b.buffer, a.buffer);
  assert.notEqual(pool.take().buffer, a.buffer, 'handed out once only');
  assert.equal(pool.reused, 1);
  pool.give(Buffer.allocUnsafeSlow(2048));
  assert.equal(pool.freeChunks, 0, 'another size is not a chunk');
  pool.give(Buffer.allocUnsafeSlow(1024));
  pool.give(Buffer.allocUnsafeSlow(1024));
  pool.give(Buffer.allocUnsafeSlow(1024));
  assert.equal(pool.freeChunks, 2, 'at most maxFree kept');
  pool.release();
  assert.equal(pool.freeChunks, 0);
});

test('shared dump: a chunk goes back to the pool only when no reader needs it and its writes are done', () => {
  const pool = new ChunkPool(64, 8);
  const cache = new SharedDumpCache(64, clock, 0, pool); // nothing kept for late joiners
  const text = 'x'.repeat(64 * 3);
  const reader = cache.acquire({}, T_NOW, () => [text]);
  const first = reader.next()!;
  assert.equal(first.length, 64);
  assert.equal(pool.freeChunks, 0, 'handed out, its write not done');
  reader.written!(first);
  assert.equal(pool.freeChunks, 1, 'written and behind the only reader');
  const second = reader.next()!;
  assert.equal(second.buffer, first.buffer, 'the next chunk is the same memory');
  reader.close();
  assert.equal(pool.freeChunks, 0, 'closed with a write in flight: still not free');
  reader.written!(second);
  assert.equal(pool.freeChunks, 1);
});

/** The tree as the daemon holds it after a poll: read from an image, rendered by copying bytes. */
function imageBacked(objects: TreeView): TreeView {
  const polled = snapshotOfImage(encodeSnapshot(snapshot('src', [...objects.nodes.values()], T_NOW)));
  return view(polled.nodes);
}

/** Reads nothing until `release` resolves, then the whole dump. */
function pausedClient(port: number, release: Promise<void>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    void release.then(() => socket.resume());
  });
}

test('XML port: dumps rendered into reused chunks are byte-identical, with a reader far behind', async (t) => {
  const objects = bigView(2, 400, 50); // ~11 MB: about eleven 1 MiB chunks
  const expected = [...fullDumpPieces(objects, T_NOW)].join(''); // object trees render as strings
  const v = imageBacked(objects);
  const fromImage = Buffer.concat([...fullDumpPieces(v, T_NOW)].map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
  assert.ok(fromImage.toString('latin1') === expected, 'the image renders as the objects do');
  const server = await startXmlPort({
    port: 0, host: '127.0.0.1', getView: () => v, access: { isTrusted: () => true }, stats: new DaemonStats(), logger: quiet, clock,
    dumpCache: new SharedDumpCache(undefined, clock), limits: { idleWriteMs: 60_000 },
  });
  t.after(() => server.close());
  const reusedBefore = dumpChunkPool.reused;
  for (let i = 0; i < 3; i++) {
    const reply = await rawRequest(server.port, null);
    assert.equal(reply.ended, 'eof');
    assert.ok(reply.data.toString('latin1') === expected, `sequential dump ${i} differs`);
  }
  assert.ok(dumpChunkPool.reused > reusedBefore, 'later dumps were rendered into chunks of earlier ones');

  // One reader holds back while eight read at full speed (same second: one shared dump).
  let letGo: () => void = () => undefined;
  const behind = pausedClient(server.port, new Promise<void>((r) => { letGo = r; }));
  const fast = await Promise.all(Array.from({ length: 8 }, () => rawRequest(server.port, null)));
  letGo();
  for (const r of fast) assert.ok(r.ended === 'eof' && r.data.toString('latin1') === expected, 'a concurrent dump differs');
  assert.ok((await behind).toString('latin1') === expected, 'the reader that was behind got a different dump');
  // And after all that, one more on its own.
  assert.ok((await rawRequest(server.port, null)).data.toString('latin1') === expected);
});
