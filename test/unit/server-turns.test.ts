/**
 * The port thread's time is shared among all connections being written to: however many
 * clients read a dump at once, timers (polls) run after a bounded amount of dump work. The
 * budget runs on an injected clock that each rendered chunk advances by 1 ms, so the test
 * counts chunks per event-loop iteration instead of measuring time.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import type { ChunkSource } from '../../src/server/shared-dump-cache';
import { writeChunks } from '../../src/server/socket-io';
import { TurnBudget } from '../../src/util/turn-budget';

const CLIENTS = 10;
const CHUNKS = 300;
const CHUNK = Buffer.alloc(100, 0x41);

/** Largest number of chunks rendered in one event-loop iteration (between two runs of a re-armed setImmediate). */
async function largestBurst(budgetMs: number): Promise<{ burst: number; received: number[] }> {
  let fakeMs = 0;
  let pulled = 0;
  const turns = new TurnBudget(budgetMs, () => fakeMs);
  const source = (): ChunkSource => {
    let left = CHUNKS;
    return {
      next: () => {
        if (left === 0) return null;
        left -= 1;
        pulled += 1;
        fakeMs += 1; // rendering a chunk "takes" 1 ms
        return CHUNK;
      },
      close: () => undefined,
    };
  };
  const writers: Promise<string>[] = [];
  const server = net.createServer((socket) => {
    writers.push(writeChunks(socket, source(), 10_000, turns).then((outcome) => {
      socket.end();
      return outcome;
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  let burst = 0;
  let lastPulled = 0;
  let probing = true;
  const probe = (): void => {
    burst = Math.max(burst, pulled - lastPulled);
    lastPulled = pulled;
    if (probing) setImmediate(probe); // re-armed from the check phase: runs once per iteration
  };
  setImmediate(probe);

  const received = await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<number>((resolve, reject) => {
    let bytes = 0;
    const c = net.connect(port, '127.0.0.1');
    c.on('data', (d: Buffer) => { bytes += d.length; });
    c.on('end', () => resolve(bytes));
    c.on('error', reject);
  })));
  probing = false;
  assert.deepEqual(await Promise.all(writers), Array(CLIENTS).fill('done'));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { burst, received };
}

test('dump writers share one budget per event-loop turn: bounded work per event-loop iteration', async () => {
  const { burst, received } = await largestBurst(4);
  assert.deepEqual(received, Array(CLIENTS).fill(CHUNKS * CHUNK.length), 'every client got its whole dump');
  // A budget of 4 (fake) ms may be opened by I/O callbacks and again by the check phase
  // of the same iteration; each overruns by at most the chunk that crossed it.
  assert.ok(burst <= 2 * (4 + 1), `at most ~2 budgets of work per iteration, got ${burst} chunks`);
  // The same clients with an unbounded budget: the writers do far more per iteration,
  // which is what the shared budget prevents (and shows that this test can fail).
  const unbounded = await largestBurst(Number.POSITIVE_INFINITY);
  assert.ok(unbounded.burst > 4 * burst, `unbounded budget burst ${unbounded.burst} vs bounded ${burst}`);
});
