/**
 * Logging with pino. Foreground (debug level > 0 or -f): readable lines on stderr.
 * Daemon mode: JSON lines to --logfile, or to syslog through the system's `logger`.
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import pino, { type Logger as PinoLogger } from 'pino';

/** The daemon's logger: pino, handed to everything else as util/logging's StructuredLogger. */
export type DaemonLogger = PinoLogger;

export interface LoggerOptions {
  /** gmetad debug_level: 0 info, 1 debug, 2+ trace. */
  readonly debugLevel: number;
  readonly foreground: boolean;
  readonly logfile: string | null;
}

export function levelFor(debugLevel: number): pino.Level {
  if (debugLevel <= 0) return 'info';
  if (debugLevel === 1) return 'debug';
  return 'trace';
}

export function createLogger(options: LoggerOptions): DaemonLogger {
  const level = levelFor(options.debugLevel);
  const base = { base: undefined, level };
  if (options.logfile) {
    return pino(base, pino.destination({ dest: options.logfile, append: true, mkdir: true, sync: false }));
  }
  if (options.foreground) return pino(base, new ReadableLineStream(process.stderr));
  return pino(base, syslogStream());
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Turns pino's JSON lines into `time LEVEL message key=value ...` for a terminal. */
export function formatLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = record;
  const when = typeof time === 'number' ? new Date(time).toISOString() : '';
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${when} ${LEVEL_NAMES[level as number] ?? level} ${msg ?? ''}${fields ? ` ${fields}` : ''}`;
}

class ReadableLineStream extends Writable {
  constructor(private readonly out: NodeJS.WritableStream) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const text = chunk.toString('utf8');
    const lines = text.split('\n').filter((l) => l.length > 0).map(formatLogLine);
    this.out.write(`${lines.join('\n')}\n`);
    done();
  }
}

/** Syslog via util-linux `logger` (Node has no unix datagram sockets for /dev/log). */
function syslogStream(): Writable {
  const child = spawn('logger', ['-t', 'gmetad', '--id=' + process.pid, '-p', 'daemon.info'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => undefined); // no logger binary: logs are lost, the daemon keeps running
  child.stdin.on('error', () => undefined);
  child.unref();
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = chunk.toString('utf8').split('\n').filter((l) => l.length > 0).map(formatLogLine);
      child.stdin.write(`${lines.join('\n')}\n`, () => done());
    },
  });
}
