/**
 * Receivers for the exporter benchmark, counting what arrives per poll (by the timestamp
 * every value of a poll carries: the CLUSTER LOCALTIME) and when the last value of each poll
 * arrived: a carbon line receiver (for both gmetads) and a Riemann TCP receiver decoding with
 * the official riemann.proto. memcached is the real server (its cmd_set counter).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

export interface PollArrivals {
  /** Values received per timestamp. */
  readonly counts: Map<number, number>;
  /** Epoch ms of the last value received per timestamp. */
  readonly lastAt: Map<number, number>;
  readonly connections: number;
  close(): Promise<void>;
  readonly port: number;
}

function count(arrivals: { counts: Map<number, number>; lastAt: Map<number, number> }, time: number, n = 1): void {
  arrivals.counts.set(time, (arrivals.counts.get(time) ?? 0) + n);
  arrivals.lastAt.set(time, Date.now());
}

async function listen(onSocket: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
}

/** Carbon plaintext: "path value time\n" (NUL bytes, which the C gmetad appends, ignored). */
export async function startCarbonCounter(): Promise<PollArrivals> {
  const state = { counts: new Map<number, number>(), lastAt: new Map<number, number>(), connections: 0 };
  const { server, port, sockets } = await listen((socket) => {
    state.connections += 1;
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const text = pending + chunk.toString('latin1');
      const cut = text.lastIndexOf('\n');
      pending = text.slice(cut + 1);
      let start = 0;
      while (start <= cut) {
        const end = text.indexOf('\n', start);
        const space = text.lastIndexOf(' ', end);
        if (space > start) count(state, Number(text.slice(space + 1, end)));
        start = end + 1;
      }
    });
  });
  return { ...state, get connections() { return state.connections; }, port, close: closer(server, sockets) };
}

/** Riemann over TCP: length-framed Msgs, each answered with ok; events counted by their time. */
export async function startRiemannCounter(protoFile: string): Promise<PollArrivals> {
  const root = new protobuf.Root();
  protobuf.parse(fs.readFileSync(path.resolve(protoFile), 'utf8'), root, { keepCase: true });
  root.resolveAll();
  const Msg = root.lookupType('Msg');
  const ok = Buffer.from(Msg.encode({ ok: true }).finish());
  const okFrame = Buffer.concat([Buffer.from([0, 0, 0, ok.length]), ok]);
  const state = { counts: new Map<number, number>(), lastAt: new Map<number, number>(), connections: 0 };
  const { server, port, sockets } = await listen((socket) => {
    state.connections += 1;
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32BE(0)) {
        const length = buffer.readUInt32BE(0);
        const msg = Msg.toObject(Msg.decode(buffer.subarray(4, 4 + length)), { longs: Number }) as { events?: { time?: number }[] };
        for (const e of msg.events ?? []) count(state, e.time ?? 0);
        buffer = buffer.subarray(4 + length);
        socket.write(okFrame);
      }
    });
  });
  return { ...state, get connections() { return state.connections; }, port, close: closer(server, sockets) };
}

/** memcached's `stats` counters (cmd_set, curr_items). */
export function memcachedStats(port: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('stats\r\n'));
    socket.on('data', (c) => {
      reply += c.toString('latin1');
      if (reply.endsWith('END\r\n')) {
        socket.destroy();
        const out: Record<string, number> = {};
        for (const m of reply.matchAll(/^STAT (\S+) (\S+)\r$/gm)) out[m[1]] = Number(m[2]);
        resolve(out);
      }
    });
    socket.on('error', reject);
    setTimeout(() => { socket.destroy(); reject(new Error('memcached stats: no answer')); }, 5000).unref();
  });
}
