/**
 * A real rrdcached for the RRD benchmark: started in the foreground on a TCP port (the C gmetad
 * 3.7.2 only speaks TCP to rrdcached), confined to one RRD tree, stopped by its pid; plus the
 * two protocol commands the benchmark needs (STATS, FLUSHALL).
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { startDaemon, waitListening, type RunningDaemon, type Side } from './daemons';

export interface RrdcachedOptions {
  readonly port: number;
  /** The RRD tree it may write into (-b DIR -B). */
  readonly baseDir: string;
  /** Where its pid file and log go. */
  readonly workDir: string;
  /** -w: seconds between writes of a file's cached values. */
  readonly writeInterval?: number;
  /** -z: random extra delay per file, spreading the writes. */
  readonly writeJitter?: number;
  readonly binary?: string;
}

/**
 * Command line: foreground, TCP on 127.0.0.1 only, no journal (the tree is thrown away
 * afterwards). rrdcached refuses -z 0 (no jitter is leaving -z out) and warns unless the scan
 * for stale values (-f) runs at most every 2 x -w.
 */
export function rrdcachedArgs(opts: RrdcachedOptions): string[] {
  const writeInterval = opts.writeInterval ?? 60;
  const jitter = opts.writeJitter ?? 10;
  return [
    '-g',
    '-l', `127.0.0.1:${opts.port}`,
    '-b', opts.baseDir,
    '-B',
    '-w', String(writeInterval),
    ...(jitter > 0 ? ['-z', String(jitter)] : []),
    '-f', String(Math.max(120, 2 * writeInterval)),
    '-p', path.join(opts.workDir, 'rrdcached.pid'),
  ];
}

export interface RunningRrdcached {
  readonly daemon: RunningDaemon;
  readonly port: number;
}

/** Starts it (`label` only names the side it serves in messages) and waits for its port. */
export async function startRrdcached(side: Side, opts: RrdcachedOptions): Promise<RunningRrdcached> {
  const daemon = startDaemon(side, { command: opts.binary ?? '/usr/bin/rrdcached', args: rrdcachedArgs(opts) }, path.join(opts.workDir, 'rrdcached.log'));
  try {
    await waitListening(daemon, [opts.port]);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return { daemon, port: opts.port };
}

/**
 * One command, one reply: the status line "N message" followed, when N > 0, by N lines
 * (STATS lists its values that way; FLUSHALL answers a single line).
 */
export function rrdcachedCommand(port: number, command: string, timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`rrdcached ${command}: no complete reply after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err: Error | null, lines?: string[]) => {
      clearTimeout(timer);
      socket.end();
      if (err) reject(err);
      else resolve(lines!);
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
      const lines = text.split('\n');
      if (lines.length < 2) return;
      const status = Number.parseInt(lines[0]!, 10);
      if (Number.isNaN(status)) return finish(new Error(`rrdcached ${command}: bad reply "${lines[0]}"`));
      if (status < 0) return finish(new Error(`rrdcached ${command}: ${lines[0]}`));
      // Complete once the status line and `status` more lines have arrived (each ended by \n).
      if (lines.length - 1 >= status + 1) finish(null, lines.slice(0, status + 1));
    });
    socket.on('error', (err) => finish(err));
  });
}

export interface RrdcachedStats {
  readonly queueLength: number;
  readonly updatesReceived: number;
  readonly updatesWritten: number;
  readonly dataSetsWritten: number;
}

/** The STATS reply lines ("9 Statistics follow", "QueueLength: 0", ...). */
export function parseRrdcachedStats(lines: readonly string[]): RrdcachedStats {
  const values = new Map<string, number>();
  for (const line of lines.slice(1)) {
    const m = /^(\w+):\s*(\d+)/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  const get = (key: string): number => {
    const v = values.get(key);
    if (v === undefined) throw new Error(`rrdcached STATS without ${key}`);
    return v;
  };
  return {
    queueLength: get('QueueLength'),
    updatesReceived: get('UpdatesReceived'),
    updatesWritten: get('UpdatesWritten'),
    dataSetsWritten: get('DataSetsWritten'),
  };
}

export async function rrdcachedStats(port: number): Promise<RrdcachedStats> {
  return parseRrdcachedStats(await rrdcachedCommand(port, 'STATS'));
}

/**
 * FLUSHALL, then waits until the write queue is empty and nothing was written for `quietMs`
 * (FLUSHALL only queues the files; the writer threads empty the queue afterwards).
 */
export async function flushAll(port: number, { quietMs = 1000, timeoutMs = 120_000 } = {}): Promise<RrdcachedStats> {
  await rrdcachedCommand(port, 'FLUSHALL');
  const deadline = Date.now() + timeoutMs;
  let last = await rrdcachedStats(port);
  let quietSince = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await rrdcachedStats(port);
    if (now.queueLength > 0 || now.updatesWritten !== last.updatesWritten) quietSince = Date.now();
    last = now;
    if (now.queueLength === 0 && Date.now() - quietSince >= quietMs) return now;
    if (Date.now() > deadline) throw new Error(`rrdcached on ${port}: still flushing after ${timeoutMs} ms (queue ${now.queueLength})`);
  }
}

/**
 * FLUSH of each file (what `rrdtool graph --daemon`, and so gweb, does before reading one):
 * rrdcached writes that file's cached values at once and answers when they are in it. Files it
 * holds nothing for answer "Nothing to flush"; a file it cannot find is an error.
 */
export async function flushFiles(port: number, files: readonly string[], { concurrency = 4, timeoutMs = 30_000 } = {}): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++]!;
      await rrdcachedCommand(port, `FLUSH ${file}`, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
}

/** `count` items spread evenly over `items` (all of them when there are fewer). */
export function spreadSample<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  const every = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * every)]!);
}
