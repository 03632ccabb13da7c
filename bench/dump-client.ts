/**
 * Benchmark clients: full dumps from a gmetad XML port (read to EOF, nothing kept but counts),
 * many of them at once, and the interactive port's /status JSON.
 */
import * as net from 'node:net';

export interface DumpResult {
  /** Clean EOF after a document that ends with `</GANGLIA_XML>`. */
  readonly ok: boolean;
  readonly ended: 'eof' | 'reset' | 'timeout' | 'error';
  readonly bytes: number;
  /** From connect() to EOF. */
  readonly ms: number;
  /** From connect() to the first byte (-1 if none). */
  readonly firstByteMs: number;
  /** `<HOST ` and `<METRIC ` start tags seen (only when counting was asked for, else -1). */
  readonly hosts: number;
  readonly metrics: number;
  readonly error?: string;
}

const CLOSING = Buffer.from('</GANGLIA_XML>');

/** Counts occurrences of a pattern across chunk boundaries. */
class PatternCounter {
  count = 0;
  private carry: Buffer = Buffer.alloc(0);
  constructor(private readonly pattern: Buffer) {}

  feed(chunk: Buffer): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let at = data.indexOf(this.pattern);
    while (at >= 0) {
      this.count++;
      at = data.indexOf(this.pattern, at + this.pattern.length);
    }
    // Keep the last pattern.length-1 bytes: a match split over two chunks completes next time.
    this.carry = Buffer.from(data.subarray(Math.max(0, data.length - (this.pattern.length - 1))));
  }
}

/**
 * One full dump: connects, sends nothing (gmetad writes on accept), reads to EOF into a reused
 * buffer (no per-chunk allocation, so 50 parallel clients stay cheap for the benchmark process).
 */
export function fetchDump(
  port: number,
  { host = '127.0.0.1', timeoutMs = 90_000, count = false }: { host?: string; timeoutMs?: number; count?: boolean } = {},
): Promise<DumpResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    let bytes = 0;
    let firstByteMs = -1;
    let tail = Buffer.alloc(0);
    const hostCounter = count ? new PatternCounter(Buffer.from('<HOST ')) : null;
    const metricCounter = count ? new PatternCounter(Buffer.from('<METRIC ')) : null;
    const readBuffer = Buffer.allocUnsafe(256 * 1024);
    let settled = false;
    const finish = (ended: DumpResult['ended'], error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const ok = ended === 'eof' && tail.includes(CLOSING);
      resolve({
        ok,
        ended,
        bytes,
        ms: performance.now() - start,
        firstByteMs,
        hosts: hostCounter ? hostCounter.count : -1,
        metrics: metricCounter ? metricCounter.count : -1,
        ...(error ? { error } : {}),
      });
    };
    const socket = net.connect({
      host,
      port,
      onread: {
        buffer: readBuffer,
        callback: (nread: number, buf: Uint8Array): boolean => {
          if (firstByteMs < 0) firstByteMs = performance.now() - start;
          bytes += nread;
          const chunk = Buffer.from(buf.buffer, buf.byteOffset, nread);
          // Only the last few bytes matter for the end-of-document check.
          tail = Buffer.concat([tail, chunk.subarray(Math.max(0, nread - 32))]).subarray(-32);
          if (hostCounter && metricCounter) {
            hostCounter.feed(chunk);
            metricCounter.feed(chunk);
          }
          return true;
        },
      },
    });
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('end', () => finish('eof'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'error', err.message);
    });
  });
}

export interface ConcurrentDumps {
  /** From starting the first connect to the last client finishing (done or timed out). */
  readonly wallMs: number;
  readonly results: readonly DumpResult[];
  /** When the batch started/ended (epoch ms), to relate it to poll timestamps. */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** `clients` simultaneous full dumps. */
export async function concurrentDumps(port: number, clients: number, timeoutMs: number): Promise<ConcurrentDumps> {
  const startedAt = Date.now();
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, () => fetchDump(port, { timeoutMs })));
  return { wallMs: performance.now() - start, results, startedAt, endedAt: Date.now() };
}

/** Sends `/status` to an interactive port and parses the JSON body (HTTP header stripped). */
export function fetchStatus(port: number, { host = '127.0.0.1', timeoutMs = 5000 } = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port }, () => socket.write('/status\n'));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`/status on port ${port}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const headerEnd = text.indexOf('\r\n\r\n');
      const body = headerEnd >= 0 ? text.slice(headerEnd + 4) : text;
      try {
        resolve(JSON.parse(body));
      } catch {
        reject(new Error(`/status on port ${port}: not JSON: ${body.slice(0, 200)}`));
      }
    });
  });
}
