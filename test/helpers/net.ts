/** Small network helpers shared by the tests: free ports and raw one-shot requests. */
import * as net from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
