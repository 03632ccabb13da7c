/**
 * A scriptable stand-in for gmond's TCP XML port: each accepted connection is served
 * according to the current behaviour (a clean body, gzip, hang, trickle, cut-off, garbage,
 * reset). close() destroys every socket it still holds, so tests never leak handles.
 */
import * as net from 'node:net';
import * as zlib from 'node:zlib';

export type FakeGmondBehaviour =
  /**
   * Writes the body and closes: in one piece, in `chunkSize` pieces, or cut at the
   * `splitAt` offsets; `gapMs` (default 1) between pieces so the client reads them apart.
   */
  | {
      readonly kind: 'serve';
      readonly body: string | Buffer;
      readonly chunkSize?: number;
      readonly splitAt?: readonly number[];
      readonly gapMs?: number;
    }
  /** Writes the gzip of the body and closes. */
  | { readonly kind: 'gzip'; readonly body: string | Buffer }
  /** Writes the first `afterBytes` bytes and then stays silent, never closing. */
  | { readonly kind: 'hang'; readonly body: string | Buffer; readonly afterBytes: number }
  /** Writes one byte every `intervalMs`, closing after the last. */
  | { readonly kind: 'trickle'; readonly body: string | Buffer; readonly intervalMs: number }
  /** Writes the first `afterBytes` bytes and closes cleanly (FIN). */
  | { readonly kind: 'close-mid'; readonly body: string | Buffer; readonly afterBytes: number }
  /** Writes bytes that are not XML and closes. */
  | { readonly kind: 'garbage'; readonly bytes?: Buffer }
  /** Accepts and immediately resets (RST), sending nothing. */
  | { readonly kind: 'reset' }
  /**
   * Writes `head`, then `unit` again and again, as fast as the client reads, never ending:
   * a document without end (e.g. an endless run of HOST elements). Each `{n}` in `unit`
   * becomes a new number every time (endless new names).
   */
  | { readonly kind: 'endless'; readonly head: string; readonly unit: string }
  /** The same endless document, gzipped on the fly: a few MB on the wire, unbounded inflated. */
  | { readonly kind: 'gzip-bomb'; readonly head: string; readonly unit: string };

export interface FakeGmond {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections still open on the server side. */
  readonly active: number;
  /** Changes what later connections get (e.g. a source that dies and comes back). */
  setBehaviour(behaviour: FakeGmondBehaviour): void;
  close(): Promise<void>;
}

const DEFAULT_GARBAGE = Buffer.from('\x00\x01 this is not XML at all \xff\xfe<<<>>>\n', 'latin1');

export async function startFakeGmond(
  initial: FakeGmondBehaviour,
  { host = '127.0.0.1', port = 0 }: { host?: string; port?: number } = {},
): Promise<FakeGmond> {
  let behaviour = initial;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // the client may reset us; that is its business
    serve(socket, behaviour, later);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as net.AddressInfo).port;

  return {
    host,
    port: bound,
    get connections() {
      return connections;
    },
    get active() {
      return sockets.size;
    },
    setBehaviour(next) {
      behaviour = next;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      sockets.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serve(socket: net.Socket, b: FakeGmondBehaviour, later: (ms: number, fn: () => void) => void): void {
  switch (b.kind) {
    case 'serve': {
      const body = toBuffer(b.body);
      const pieces = split(body, b.splitAt ?? offsetsEvery(b.chunkSize ?? body.length, body.length));
      const writeFrom = (index: number): void => {
        if (socket.destroyed) return;
        if (index >= pieces.length) {
          socket.end();
          return;
        }
        socket.write(pieces[index], () => later(b.gapMs ?? 1, () => writeFrom(index + 1)));
      };
      writeFrom(0);
      return;
    }
    case 'gzip':
      socket.end(zlib.gzipSync(toBuffer(b.body)));
      return;
    case 'hang':
      socket.write(toBuffer(b.body).subarray(0, b.afterBytes));
      return;
    case 'close-mid':
      socket.end(toBuffer(b.body).subarray(0, b.afterBytes));
      return;
    case 'trickle': {
      const body = toBuffer(b.body);
      const step = (offset: number): void => {
        if (socket.destroyed) return;
        if (offset >= body.length) {
          socket.end();
          return;
        }
        socket.write(body.subarray(offset, offset + 1));
        later(b.intervalMs, () => step(offset + 1));
      };
      step(0);
      return;
    }
    case 'garbage':
      socket.end(b.bytes ?? DEFAULT_GARBAGE);
      return;
    case 'reset':
      socket.resetAndDestroy();
      return;
    case 'endless':
      writeForever(socket, socket, b.head, b.unit);
      return;
    case 'gzip-bomb': {
      const gzip = zlib.createGzip({ level: 9 });
      gzip.on('error', () => undefined);
      gzip.pipe(socket);
      socket.on('close', () => gzip.destroy());
      writeForever(gzip, socket, b.head, b.unit);
      return;
    }
  }
}

/** Writes `head` then `unit` repeated (in 64 KiB batches) into `out` while `socket` lives. */
function writeForever(out: NodeJS.WritableStream & { destroyed?: boolean }, socket: net.Socket, head: string, unit: string): void {
  const perBatch = Math.max(1, Math.floor(65536 / Math.max(1, unit.length)));
  const numbered = unit.includes('{n}');
  const fixed = numbered ? null : Buffer.from(unit.repeat(perBatch), 'latin1');
  let n = 0;
  const nextBatch = (): Buffer => {
    if (fixed !== null) return fixed;
    const parts: string[] = [];
    for (let i = 0; i < perBatch; i++, n++) parts.push(unit.replaceAll('{n}', String(n)));
    return Buffer.from(parts.join(''), 'latin1');
  };
  const pump = (): void => {
    while (!socket.destroyed && !out.destroyed) {
      if (!out.write(nextBatch())) {
        out.once('drain', pump);
        return;
      }
    }
  };
  out.write(Buffer.from(head, 'latin1'));
  pump();
}

function toBuffer(body: string | Buffer): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
}

function offsetsEvery(size: number, length: number): number[] {
  const offsets: number[] = [];
  for (let at = size; at < length; at += Math.max(1, size)) offsets.push(at);
  return offsets;
}

function split(body: Buffer, offsets: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of [...offsets, body.length]) {
    if (at > from) pieces.push(body.subarray(from, at));
    from = Math.max(from, at);
  }
  return pieces.length > 0 ? pieces : [body];
}
