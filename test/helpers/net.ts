/** Small network helpers shared by the tests: free ports and raw one-shot requests. */
import * as fs from 'node:fs';
import * as net from 'node:net';

/**
 * Ports are picked below the kernel's ephemeral range (ip_local_port_range), where the OS
 * never hands out a port by itself: between the check here and the bind of the process a
 * test starts later, no outgoing connection on the busy test machine can take the port, as
 * it could take one the OS picked with bind(0) from that very range. No port is handed out
 * twice by one test process.
 */
const handedOut = new Set<number>();

function pickableRange(): readonly [number, number] {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 12_000) return [10_000, low - 1];
  } catch {
    // not Linux: fall back to a range that is below the usual ephemeral ranges
  }
  return [20_000, 32_767];
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free on `host` a moment ago, for a process the test starts next. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [low, high] = pickableRange();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    if (await canBind(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${low} and ${high} on ${host}`);
}

export interface RawReply {
  readonly data: Buffer;
  /** How the connection ended: 'eof' (clean close), 'reset', or 'timeout'. */
  readonly ended: 'eof' | 'reset' | 'timeout';
}

/**
 * Connects, sends `request` (nothing if null), and collects everything until the server
 * closes. Never rejects for reset/timeout; those are reported in `ended`.
 */
export async function rawRequest(
  port: number,
  request: string | Buffer | null,
  { host = '127.0.0.1', timeoutMs = 10_000 }: { host?: string; timeoutMs?: number } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    let settled = false;
    const finish = (ended: RawReply['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), ended });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => {
      if (request !== null) socket.write(request);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => finish('eof'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish('reset');
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}
