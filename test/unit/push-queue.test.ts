import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { classifyResponse, parseRetryAfter, postBatch } from '../../src/plugins/push/http-post';
import { backoffDelay, type DeliveryOutcome, PushQueue } from '../../src/plugins/push/push-queue';
import { SILENT_LOGGER } from '../../src/util/logging';

/** A queue of numbers (weight 1 each) whose deliveries follow `script`, recording every batch. */
function scripted(script: DeliveryOutcome[], opts: { capacity?: number; batchSize?: number } = {}) {
  const batches: number[][] = [];
  const sleeps: number[] = [];
  let clock = 0;
  const queue = new PushQueue<number>({
    name: 'test',
    capacity: opts.capacity ?? 100,
    batchSize: opts.batchSize ?? 3,
    weight: () => 1,
    logger: SILENT_LOGGER,
    random: () => 0.5,
    now: () => clock,
    sleep: async (ms) => { sleeps.push(ms); clock += ms; },
    deliver: async (batch) => {
      batches.push([...batch]);
      return script.shift() ?? { kind: 'delivered' };
    },
  });
  return { queue, batches, sleeps, advance: (ms: number) => { clock += ms; } };
}

test('batches go out in order, batch_size values at a time', async () => {
  const { queue, batches } = scripted([]);
  queue.enqueue([1, 2, 3, 4, 5, 6, 7]);
  await queue.flush(1_000);
  assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6], [7]]);
  assert.equal(queue.counters.sent, 7);
  assert.equal(queue.counters.queuedValues, 0);
  assert.equal(queue.counters.requests, 3);
});

test('5xx and 429 are retried with the same batch (backoff, or Retry-After), then the rest follows', async () => {
  const { queue, batches, sleeps } = scripted([
    { kind: 'retry', reason: 'HTTP 503' },
    { kind: 'retry', reason: 'HTTP 503' },
    { kind: 'retry', reason: 'HTTP 429', retryAfterMs: 7_000 },
  ]);
  queue.enqueue([1, 2, 3, 4]);
  await queue.flush(60_000);
  assert.deepEqual(batches, [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [4]]);
  // Backoff 500 ms doubling, jittered to 75 % with random 0.5; then the receiver's 7 s.
  assert.deepEqual(sleeps, [375, 750, 7_000]);
  assert.equal(queue.counters.retries, 3);
  assert.equal(queue.counters.sent, 4);
  assert.equal(queue.counters.lastError, 'HTTP 429');
});

test('other 4xx are not retried: the batch is counted as rejected and the next one goes', async () => {
  const { queue, batches } = scripted([{ kind: 'rejected', reason: 'HTTP 400: out of bounds' }]);
  queue.enqueue([1, 2, 3, 4]);
  await queue.flush(1_000);
  assert.deepEqual(batches, [[1, 2, 3], [4]]);
  assert.equal(queue.counters.rejected, 3);
  assert.equal(queue.counters.sent, 1);
  assert.equal(queue.counters.retries, 0);
});

test('a full queue drops (and counts) what does not fit, keeping what was queued first', async () => {
  const { queue, batches } = scripted([], { capacity: 5, batchSize: 10 });
  queue.enqueue([1, 2, 3, 4, 5, 6, 7]);
  assert.equal(queue.counters.droppedValues, 2);
  await queue.flush(1_000);
  assert.deepEqual(batches, [[1, 2, 3, 4, 5]]);
});

test('flush gives up at its deadline: what is still queued is dropped and counted', async () => {
  const retries: DeliveryOutcome[] = Array.from({ length: 100 }, () => ({ kind: 'retry', reason: 'ECONNREFUSED' }));
  const { queue } = scripted(retries, { batchSize: 2 });
  queue.enqueue([1, 2, 3, 4, 5]);
  await queue.flush(10_000);
  assert.equal(queue.counters.sent, 0);
  assert.equal(queue.counters.droppedValues, 5);
  assert.equal(queue.counters.queuedValues, 0);
});

test('backoff doubles up to its cap', () => {
  const b = { initialMs: 100, maxMs: 1_000 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, b, () => 0.999999)), [100, 200, 400, 800, 1_000, 1_000]);
  assert.equal(backoffDelay(0, b, () => 0), 50);
});

test('statuses are classified as the receivers mean them; Retry-After in seconds or as a date', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.deepEqual(classifyResponse(204, null, '', now), { kind: 'delivered' });
  assert.deepEqual(classifyResponse(429, '3', 'slow down', now), { kind: 'retry', reason: 'HTTP 429: slow down', retryAfterMs: 3_000 });
  assert.deepEqual(classifyResponse(503, null, '', now), { kind: 'retry', reason: 'HTTP 503' });
  assert.deepEqual(classifyResponse(400, '3', 'bad', now), { kind: 'rejected', reason: 'HTTP 400: bad' });
  assert.deepEqual(classifyResponse(401, null, '', now), { kind: 'rejected', reason: 'HTTP 401' });
  assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:10 GMT', now), 10_000);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('999999', now), 300_000, 'capped');
});

test('postBatch against an HTTP server: body and headers sent, statuses and timeouts classified', async (t) => {
  const replies: ((res: http.ServerResponse) => void)[] = [
    (res) => res.writeHead(204).end(),
    (res) => res.writeHead(429, { 'Retry-After': '2' }).end('too many'),
    (res) => res.writeHead(404).end('no such path'),
    () => undefined, // never answers
  ];
  const seen: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      replies.shift()!(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/write`);
  const post = (timeoutMs = 5_000) => postBatch({ url, headers: { 'X-Test': 'yes' }, body: Buffer.from('abc'), timeoutMs });
  assert.deepEqual(await post(), { kind: 'delivered' });
  assert.deepEqual(await post(), { kind: 'retry', reason: 'HTTP 429: too many', retryAfterMs: 2_000 });
  assert.deepEqual(await post(), { kind: 'rejected', reason: 'HTTP 404: no such path' });
  const timedOut = await post(200);
  assert.equal(timedOut.kind, 'retry');
  assert.match((timedOut as { reason: string }).reason, /no answer within 200 ms/);
  assert.equal(seen[0].body, 'abc');
  assert.equal(seen[0].headers['x-test'], 'yes');
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  // The receiver is gone: the kept-alive socket is closed or the connection refused, retried either way.
  const gone = await post();
  assert.equal(gone.kind, 'retry');
  assert.match((gone as { reason: string }).reason, /^http:\/\/127\.0\.0\.1:\d+: (ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET)/);
});
