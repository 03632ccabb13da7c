/** The persistent-connection sender against local sockets: reconnects, requeues, bounds, shutdown. */
import { SILENT_LOGGER } from '../../src/util/logging';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { StreamSender } from '../../src/plugins/transport/stream-sender';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/processes';

const silent = SILENT_LOGGER;
const batch = (text: string) => ({ data: Buffer.from(text, 'latin1'), items: text.split('\n').length - 1 });

async function listen(port = 0): Promise<{ server: net.Server; port: number; received: () => string; sockets: Set<net.Socket> }> {
  let data = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (c) => { data += c.toString('latin1'); });
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, received: () => data, sockets };
}

test('queued while the receiver is down, delivered in order once it is up, over one connection', async () => {
  const port = await freePort();
  const sender = new StreamSender({
    host: '127.0.0.1', port, connectTimeoutMs: 500, maxQueueBytes: 1 << 20, logger: silent,
    backoff: { baseMs: 20, maxMs: 50 },
  });
  sender.send(batch('a 1 1\n'));
  sender.send(batch('b 2 1\n'));
  await waitFor(() => sender.counters.connectFailures >= 2, { description: 'failed attempts' });
  const rx = await listen(port);
  try {
    await waitFor(() => rx.received() === 'a 1 1\nb 2 1\n', { description: 'delivery' });
    sender.send(batch('c 3 1\n'));
    await sender.flush(); // the kernel has it; the receiver reads it a moment later
    await waitFor(() => rx.received() === 'a 1 1\nb 2 1\nc 3 1\n', { description: 'third line' });
    assert.equal(sender.counters.sent, 3);
    assert.equal(sender.counters.connects, 1);
    assert.equal(sender.counters.dropped, 0);
  } finally {
    await sender.close();
    rx.server.close();
  }
});

test('a lost connection is re-established and later batches arrive', async () => {
  const rx = await listen();
  const sender = new StreamSender({
    host: '127.0.0.1', port: rx.port, connectTimeoutMs: 500, maxQueueBytes: 1 << 20, logger: silent,
    backoff: { baseMs: 10, maxMs: 20 },
  });
  try {
    sender.send(batch('x 1 1\n'));
    await sender.flush();
    for (const s of rx.sockets) s.destroy();
    await waitFor(() => sender.counters.disconnects === 1, { description: 'disconnect noticed' });
    sender.send(batch('y 2 1\n'));
    await waitFor(() => rx.received().endsWith('y 2 1\n'), { description: 'after reconnect' });
    assert.equal(sender.counters.connects, 2);
  } finally {
    await sender.close();
    rx.server.close();
  }
});

test('bounded: with the receiver down the oldest batches are dropped and counted; flush gives up at once', async () => {
  const port = await freePort();
  const sender = new StreamSender({
    host: '127.0.0.1', port, connectTimeoutMs: 200, maxQueueBytes: 20, logger: silent, backoff: { baseMs: 10_000, maxMs: 10_000 },
  });
  for (let i = 0; i < 10; i++) sender.send(batch(`m ${i} 1\n`)); // 6 bytes each: 3 fit
  assert.equal(sender.counters.queuedItems, 3);
  assert.equal(sender.counters.dropped, 7);
  await sender.flush(); // the receiver is unreachable: resolves without waiting out the backoff
  assert.equal(sender.counters.dropped, 10);
  assert.equal(sender.counters.queuedItems, 0);
  await sender.close();
});

test('a receiver that stops reading cannot grow memory past the bound', async () => {
  const rx = await listen();
  for (const s of rx.sockets) s.pause();
  rx.server.on('connection', (s) => s.pause());
  const sender = new StreamSender({
    host: '127.0.0.1', port: rx.port, connectTimeoutMs: 500, maxQueueBytes: 1 << 20, logger: silent,
  });
  try {
    const big = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 200; i++) sender.send({ data: big, items: 1 }); // 12.5 MiB offered
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(sender.counters.queuedBytes <= 1 << 20);
    assert.ok(sender.counters.dropped > 100, JSON.stringify(sender.counters));
  } finally {
    for (const s of rx.sockets) s.destroy();
    rx.server.close();
    await sender.close();
  }
});

test('flush gives up on a receiver that accepts but does not read, counting what is left', async () => {
  const rx = await listen();
  rx.server.on('connection', (s) => s.pause());
  const sender = new StreamSender({
    host: '127.0.0.1', port: rx.port, connectTimeoutMs: 500, maxQueueBytes: 64 << 20, logger: silent, flushTimeoutMs: 300,
  });
  try {
    const big = Buffer.alloc(64 * 1024, 0x62);
    for (let i = 0; i < 400; i++) sender.send({ data: big, items: 1 }); // 25 MiB: more than the socket buffers hold
    await sender.flush();
    assert.ok(sender.counters.dropped > 0, JSON.stringify(sender.counters));
    assert.equal(sender.counters.queuedItems, 0);
  } finally {
    for (const s of rx.sockets) s.destroy();
    rx.server.close();
    await sender.close();
  }
});
