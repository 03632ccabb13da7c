/**
 * No Riemann server is installable here (it is a JVM application outside Debian), so the
 * tests receive with the protocol's own definition instead: a TCP listener that reads
 * Riemann's framing (4-byte big-endian length, then a Msg), decodes each Msg with the
 * official riemann.proto through protobufjs and answers `ok` as Riemann does; and a UDP
 * listener decoding each datagram as a Msg.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

/** The repository's copy of the official riemann.proto (not the build's). */
export const RIEMANN_PROTO_SOURCE = path.resolve(__dirname, '..', '..', '..', 'src', 'plugins', 'riemann', 'proto', 'riemann.proto');

export interface DecodedEvent {
  host?: string;
  service?: string;
  state?: string;
  description?: string;
  time?: number;
  ttl?: number;
  tags?: string[];
  attributes?: { key: string; value?: string }[];
  metric_sint64?: number;
  metric_d?: number;
  metric_f?: number;
}

export interface RiemannCapture {
  readonly port: number;
  /** Each Msg received, as its events. */
  readonly messages: DecodedEvent[][];
  /** Frames or datagrams that did not decode. */
  readonly undecodable: number;
  close(): Promise<void>;
}

function msgType(): protobuf.Type {
  const root = new protobuf.Root();
  protobuf.parse(fs.readFileSync(RIEMANN_PROTO_SOURCE, 'utf8'), root, { keepCase: true });
  root.resolveAll();
  return root.lookupType('Msg');
}

function decode(type: protobuf.Type, body: Uint8Array): DecodedEvent[] {
  const msg = type.toObject(type.decode(body), { longs: Number, arrays: false }) as { events?: DecodedEvent[] };
  return msg.events ?? [];
}

export async function startRiemannTcpCapture(): Promise<RiemannCapture> {
  const Msg = msgType();
  const state = { messages: [] as DecodedEvent[][], undecodable: 0 };
  const sockets = new Set<net.Socket>();
  const ok = Buffer.from(Msg.encode({ ok: true }).finish());
  const okFrame = Buffer.concat([Buffer.from([0, 0, 0, ok.length]), ok]);
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32BE(0)) {
        const length = buffer.readUInt32BE(0);
        try {
          state.messages.push(decode(Msg, buffer.subarray(4, 4 + length)));
        } catch {
          state.undecodable += 1;
        }
        buffer = buffer.subarray(4 + length);
        socket.write(okFrame);
      }
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    messages: state.messages,
    get undecodable() { return state.undecodable; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

export async function startRiemannUdpCapture(): Promise<RiemannCapture & { readonly largestDatagram: number }> {
  const Msg = msgType();
  const state = { messages: [] as DecodedEvent[][], undecodable: 0, largest: 0 };
  const socket = dgram.createSocket('udp4');
  socket.on('message', (datagram) => {
    state.largest = Math.max(state.largest, datagram.length);
    try {
      state.messages.push(decode(Msg, datagram));
    } catch {
      state.undecodable += 1;
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    messages: state.messages,
    get undecodable() { return state.undecodable; },
    get largestDatagram() { return state.largest; },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
