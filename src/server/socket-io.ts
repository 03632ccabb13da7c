/**
 * Socket plumbing shared by both ports: writing a ChunkSource with backpressure and a
 * stall deadline, listening with an IPv6→IPv4 fallback, and tracking open connections so
 * close() can destroy them.
 */
import * as net from 'node:net';
import { portThreadTurns, type TurnBudget } from '../util/turn-budget';
import type { ChunkSource } from './shared-dump-cache';

export type WriteOutcome = 'done' | 'gone' | 'stalled';

/**
 * Writes every chunk of `source`, waiting for 'drain' whenever the socket's buffer is
 * full. A client that reads nothing for `idleWriteMs` is destroyed ('stalled'); one that
 * goes away gives 'gone'. The source is always closed.
 */
export async function writeChunks(socket: net.Socket, source: ChunkSource, idleWriteMs: number, turns: TurnBudget = portThreadTurns): Promise<WriteOutcome> {
  try {
    let didWork = false;
    for (;;) {
      if (socket.destroyed || !socket.writable) return 'gone';
      if (!turns.mayWork()) {
        await turns.wait(didWork);
        didWork = false;
        continue;
      }
      didWork = true;
      const chunk = source.next();
      if (chunk === null) return 'done';
      // Node calls back once the bytes are written or the write failed (socket destroyed).
      if (!socket.write(chunk, source.written ? () => source.written!(chunk) : undefined)) {
        const drained = await waitForDrain(socket, idleWriteMs);
        if (drained !== 'drain') {
          if (drained === 'timeout') socket.destroy();
          return drained === 'timeout' ? 'stalled' : 'gone';
        }
      }
    }
  } finally {
    source.close();
  }
}

function waitForDrain(socket: net.Socket, timeoutMs: number): Promise<'drain' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const done = (result: 'drain' | 'closed' | 'timeout') => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(result);
    };
    const onDrain = () => done('drain');
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

/** Ends the socket after everything written so far is flushed; destroys it if that stalls. */
export function finish(socket: net.Socket, idleWriteMs: number): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), idleWriteMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end();
}

export interface ListeningServer {
  readonly server: net.Server;
  readonly port: number;
}

/**
 * Listens on `host`, or on all interfaces ('::', falling back to '0.0.0.0' when IPv6 is
 * unavailable). Rejects with "<label> <port>: address already in use" and the like.
 */
export async function listen(server: net.Server, port: number, host: string | undefined, label: string): Promise<number> {
  const attempt = (bindHost: string) => new Promise<number>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host: bindHost, backlog: 511 });
  });
  try {
    if (host !== undefined) return await attempt(host);
    try {
      return await attempt('::');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
      return await attempt('0.0.0.0');
    }
  } catch (err) {
    throw new Error(`${label} ${port}: ${describeListenError(err as NodeJS.ErrnoException)}`, { cause: err });
  }
}

function describeListenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE': return 'address already in use';
    case 'EACCES': return 'permission denied';
    case 'EADDRNOTAVAIL': return 'address not available';
    default: return err.message;
  }
}

/** The sockets a server has open, so that close() can end them all. */
export class ConnectionSet {
  private readonly sockets = new Set<net.Socket>();

  add(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Stops listening and destroys open connections; resolves when the server is closed. */
export function closeServer(server: net.Server, connections: ConnectionSet): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      connections.destroyAll();
      resolve();
      return;
    }
    server.close(() => resolve());
    connections.destroyAll();
  });
}

/** The client's address without the IPv4-mapped prefix, for logs and access checks. */
export function remoteAddress(socket: net.Socket): string {
  const addr = socket.remoteAddress ?? '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
