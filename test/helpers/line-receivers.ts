/**
 * Stand-in receivers that record what an exporter sends: a TCP listener that splits what
 * each connection sends into lines (as carbon's line receiver does) and a UDP one that
 * does the same per datagram. Used to capture both gmetads' carbon output side by side.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';

export interface LineCapture {
  readonly port: number;
  /** Every line received, in arrival order, without its "\n" (and without NUL bytes). */
  readonly lines: string[];
  /** Connections accepted (TCP) or datagrams received (UDP). */
  readonly connections: number;
  /** NUL bytes seen between or after lines (the C gmetad sends one after each TCP line). */
  readonly nulBytes: number;
  /** Bytes received that did not end in "\n" when their connection or datagram ended. */
  readonly partial: string[];
  close(): Promise<void>;
}

function splitInto(capture: { lines: string[]; nulBytes: number; partial: string[] }, text: string): void {
  const withoutNul = text.replace(/\0/g, '');
  capture.nulBytes += text.length - withoutNul.length;
  const pieces = withoutNul.split('\n');
  const last = pieces.pop()!;
  capture.lines.push(...pieces);
  if (last !== '') capture.partial.push(last);
}

export async function startTcpLineCapture(): Promise<LineCapture> {
  const state = { lines: [] as string[], nulBytes: 0, partial: [] as string[], connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const cut = pending.lastIndexOf('\n');
      if (cut >= 0) {
        splitInto(state, pending.slice(0, cut + 1));
        pending = pending.slice(cut + 1);
      }
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (pending !== '') splitInto(state, pending);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    lines: state.lines,
    get connections() { return state.connections; },
    get nulBytes() { return state.nulBytes; },
    partial: state.partial,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

export async function startUdpLineCapture(): Promise<LineCapture> {
  const state = { lines: [] as string[], nulBytes: 0, partial: [] as string[], connections: 0 };
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg) => {
    state.connections += 1;
    // A datagram's last line may lack its "\n" (the C gmetad's do not): count it as a line.
    const text = msg.toString('latin1');
    splitInto(state, text.endsWith('\n') ? text : `${text}\n`);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    lines: state.lines,
    get connections() { return state.connections; },
    get nulBytes() { return state.nulBytes; },
    partial: state.partial,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
