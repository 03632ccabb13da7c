/**
 * The rrdcached client's protocol against a scripted rrdcached (BATCH framing, replies,
 * failed commands, a connection that breaks mid-batch). The real rrdcached is in
 * test/integration/rrdcached.test.ts and rrd-faults.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { RrdcachedClient } from '../../src/plugins/rrd/rrdcached-client';

interface FakeRrdcached {
  readonly port: number;
  /** Commands of each BATCH received in full, in order. */
  readonly batches: string[][];
  connections: number;
  close(): Promise<void>;
}

/**
 * Answers BATCH as rrd_daemon.c does; `errors(commands)` says which commands (1-based) fail
 * and why. With `breakAfter`, the first connection is closed once that many commands of a
 * batch have arrived (before its end).
 */
async function fakeRrdcached(
  errors: (commands: string[]) => [number, string][] = () => [],
  breakAfter?: number,
): Promise<FakeRrdcached> {
  const batches: string[][] = [];
  const sockets = new Set<net.Socket>();
  const fake = { batches, connections: 0 } as { -readonly [K in keyof FakeRrdcached]: FakeRrdcached[K] };
  const server = net.createServer((socket) => {
    fake.connections += 1;
    const first = fake.connections === 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    let partial = '';
    let current: string[] | null = null;
    socket.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (current === null) {
          assert.equal(line, 'BATCH');
          current = [];
          socket.write('0 Go ahead.  End with dot \'.\' on its own line.\n');
        } else if (line === '.') {
          batches.push(current);
          const failed = errors(current);
          socket.write(`${failed.length} errors\n${failed.map(([n, m]) => `${n} ${m}\n`).join('')}`);
          current = null;
        } else {
          current.push(line);
          if (first && breakAfter !== undefined && current.length === breakAfter) {
            socket.destroy();
            return;
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as net.AddressInfo).port;
  fake.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return fake;
}

test('updates go out in BATCHes, each command once and in order, through reused batch buffers', async (t) => {
  const fake = await fakeRrdcached();
  t.after(() => fake.close());
  const client = new RrdcachedClient({ address: `127.0.0.1:${fake.port}`, maxBatch: 7 });
  t.after(() => client.close());
  const sent: string[] = [];
  // Several rounds, so that batch buffers are used again after rrdcached answered.
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 40; i++) {
      const file = `/r/host ${i}/m\\${round}.rrd`;
      assert.equal(client.update(file, [`${1000 + round}:${i}.5`, `${1001 + round}:U`]), true);
      sent.push(`UPDATE /r/host\\ ${i}/m\\\\${round}.rrd ${1000 + round}:${i}.5 ${1001 + round}:U`);
    }
    assert.equal(client.updateEscaped('/r/pre\\ escaped.rrd', `${2000 + round}:1`), true);
    sent.push(`UPDATE /r/pre\\ escaped.rrd ${2000 + round}:1`);
    await client.flush();
  }
  assert.deepEqual(fake.batches.flat(), sent);
  assert.ok(fake.batches.every((b) => b.length >= 1 && b.length <= 7), `batch sizes ${fake.batches.map((b) => b.length)}`);
  // The first update goes out alone; the rest gather while a batch is in flight.
  assert.ok(fake.batches.length < sent.length / 2, `${fake.batches.length} batches for ${sent.length} updates`);
  assert.deepEqual(client.counters, { acknowledged: sent.length, errors: 0, dropped: 0, reconnects: 0 });
  assert.equal(client.pending, 0);
  assert.equal(client.oldestQueuedAt, null);
});

test('failed commands are counted, except a FORGET of a file rrdcached held nothing for', async (t) => {
  const fake = await fakeRrdcached((commands) => commands.flatMap((c, i): [number, string][] => {
    if (c.startsWith('FORGET ')) return [[i + 1, 'No such file: /r/gone.rrd']];
    if (c.includes(' 5:')) return [[i + 1, 'illegal attempt to update using time 5 when last update time is 9']];
    return [];
  }));
  t.after(() => fake.close());
  const client = new RrdcachedClient({ address: `127.0.0.1:${fake.port}` });
  t.after(() => client.close());
  client.update('/r/a.rrd', ['9:1']);
  await client.flush();
  client.update('/r/a.rrd', ['5:1']);
  client.forget('/r/gone.rrd');
  client.update('/r/b.rrd', ['5:2']);
  client.update('/r/c.rrd', ['10:3']);
  await client.flush();
  // The first command after a pause goes alone; the next ones gather behind it.
  assert.deepEqual(fake.batches, [
    ['UPDATE /r/a.rrd 9:1'],
    ['UPDATE /r/a.rrd 5:1'],
    ['FORGET /r/gone.rrd', 'UPDATE /r/b.rrd 5:2', 'UPDATE /r/c.rrd 10:3'],
  ]);
  assert.equal(client.counters.acknowledged, 5);
  assert.equal(client.counters.errors, 2);
});

test('a batch in flight when the connection breaks is sent again, whole, on the next connection', async (t) => {
  const fake = await fakeRrdcached(() => [], 3);
  t.after(() => fake.close());
  const client = new RrdcachedClient({ address: `127.0.0.1:${fake.port}`, backoffMinMs: 1, backoffMaxMs: 5 });
  t.after(() => client.close());
  const sent: string[] = [];
  for (let i = 0; i < 10; i++) {
    client.update(`/r/f${i}.rrd`, [`${100 + i}:${i}`]);
    sent.push(`UPDATE /r/f${i}.rrd ${100 + i}:${i}`);
  }
  await client.flush();
  assert.equal(fake.connections, 2);
  assert.equal(client.counters.reconnects, 1);
  // The batch cut off on the first connection arrived whole on the second: every command once.
  assert.deepEqual(fake.batches.flat(), sent);
  assert.equal(client.counters.acknowledged, 10);
  assert.equal(client.pending, 0);
});

test('the queue is bounded: updates beyond maxQueued are dropped and counted', async (t) => {
  // Nothing listens on this port: updates queue while the client retries.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = new RrdcachedClient({ address: `127.0.0.1:${port}`, maxQueued: 5, backoffMinMs: 60_000, backoffMaxMs: 60_000 });
  t.after(() => client.close(0));
  const accepted = Array.from({ length: 8 }, (_, i) => client.update(`/r/f${i}.rrd`, [`${i + 1}:1`]));
  assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
  assert.equal(client.pending, 5);
  assert.equal(client.counters.dropped, 3);
  assert.notEqual(client.oldestQueuedAt, null);
});
