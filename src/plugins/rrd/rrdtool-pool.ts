/**
 * A pool of long-lived `rrdtool -` processes (rrdtool's pipe or "remote" mode): commands
 * are written one per line to stdin, and rrdtool answers each with its output lines, then
 * exactly one status line, `OK u:<user> s:<sys> r:<real>` or `ERROR: <message>`. Replies
 * come back in order, so each process keeps a FIFO of commands written and not yet
 * answered. Exec'ing one rrdtool per update would cost far more than the update itself.
 *
 * Commands for the same key (shard) always go to the same process, so they run in the
 * order they were submitted (a file's `create` before its `update`s).
 *
 * A crashed process is restarted (with backoff) and the commands it had not answered are
 * sent again (an update already applied then fails harmlessly as "illegal attempt to
 * update"); the command it was running when it died twice fails instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Fifo } from './fifo';
import { SILENT_LOGGER, type StructuredLogger } from '../../util/logging';
import { restoreBaseNice } from '../../util/thread-priority';

/** Called once per command: error null on `OK`; output = lines printed before the status line. */
export type CommandCallback = (error: Error | null, output: readonly string[]) => void;

export class RrdtoolCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RrdtoolCommandError';
  }
}

/**
 * Quotes one argument for rrdtool's pipe-mode tokenizer (rrd_tool.c CreateArgs): arguments
 * are split on ' ' only; '"' or '\'' open a quoted run ended by the same character, inside
 * which the other quote character is literal; runs concatenate into one argument. There is
 * no escape character, so an argument holding both quote characters is written as several
 * runs, each quoted with the character it does not contain. Newline, CR and NUL cannot be
 * passed at all (the line ends there).
 */
export function quoteRrdtoolArgument(arg: string): string {
  if (/[\n\r\u0000]/.test(arg)) throw new RangeError(`rrdtool argument cannot contain newline/NUL: ${JSON.stringify(arg)}`);
  if (arg !== '' && !/[ "']/.test(arg)) return arg;
  let out = '';
  let quote: '"' | "'" | null = null;
  for (const c of arg) {
    const wanted: '"' | "'" = c === '"' ? "'" : c === "'" ? '"' : (quote ?? '"');
    if (wanted !== quote) {
      if (quote !== null) out += quote;
      out += wanted;
      quote = wanted;
    }
    out += c;
  }
  return quote === null ? '""' : out + quote;
}

/** One command line (with its trailing newline). */
export function rrdtoolCommandLine(args: readonly string[]): string {
  let line = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) line += ' ';
    line += quoteRrdtoolArgument(args[i]);
  }
  return line + '\n';
}

export interface RrdtoolPoolOptions {
  /** Number of rrdtool processes (default 2). */
  readonly size?: number;
  /** rrdtool binary (default "rrdtool" from PATH). */
  readonly rrdtoolPath?: string;
  /** umask for the rrdtool processes (the files they create); null/undefined: inherit. */
  readonly umask?: number | null;
  /** Commands written to one process and not yet answered (default 512). */
  readonly maxInFlight?: number;
  /** Commands queued in the whole pool; submit() refuses more (default 200000). */
  readonly maxQueued?: number;
  readonly logger?: StructuredLogger;
  /** Restart backoff after a crash, ms (default 100 .. 10000). */
  readonly restartMinMs?: number;
  readonly restartMaxMs?: number;
}

interface Command {
  /** The command line, latin1 bytes (paths are byte strings, see rrd-paths). */
  readonly line: string;
  readonly callback: CommandCallback | undefined;
  /** performance.now() when it was submitted (for the writer's lag figure). */
  readonly submittedAt: number;
  attempts: number;
  output: string[];
}

/** Shared counters of one pool. */
interface PoolShared {
  queued: number;
  readonly maxQueued: number;
  /** whenQueuedBelow() callers, woken as commands are answered. */
  belowWaiters: { count: number; resolve: () => void }[];
}

const MAX_CHUNK_BYTES = 64 * 1024;

class RrdtoolProcess {
  private child: ChildProcess | null = null;
  private readonly waiting = new Fifo<Command>();
  private readonly inFlight = new Fifo<Command>();
  private partial = '';
  private needDrain = false;
  private closing = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private consecutiveCrashes = 0;
  private exited: Promise<void> = Promise.resolve();
  private submitted = 0;
  private completed = 0;
  private seqWaiters: { seq: number; resolve: () => void }[] = [];

  constructor(
    private readonly id: number,
    private readonly options: Required<Omit<RrdtoolPoolOptions, 'umask' | 'logger'>> & { umask: number | null },
    private readonly logger: StructuredLogger,
    private readonly shared: PoolShared,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get backlog(): number {
    return this.waiting.length + this.inFlight.length;
  }

  /** performance.now() when the oldest command not yet answered was submitted; null if none. */
  get oldestSubmittedAt(): number | null {
    const oldest = this.inFlight.peek() ?? this.waiting.peek();
    return oldest ? oldest.submittedAt : null;
  }

  submit(command: Command): void {
    this.waiting.push(command);
    this.submitted += 1;
    if (this.child === null && this.restartTimer === null) this.start();
    else this.pump();
  }

  /** Resolves once every command submitted so far has been answered. */
  flush(): Promise<void> {
    if (this.completed >= this.submitted) return Promise.resolve();
    return new Promise((resolve) => this.seqWaiters.push({ seq: this.submitted, resolve }));
  }

  async close(): Promise<void> {
    await this.flush();
    this.closing = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    const child = this.child;
    if (child && child.stdin && !child.stdin.destroyed) child.stdin.end();
    await this.exited;
  }

  private start(): void {
    if (this.closing) return;
    const { rrdtoolPath, umask } = this.options;
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
    // Creates must be local files, as the C gmetad does, even with RRDCACHED_ADDRESS set.
    delete env.RRDCACHED_ADDRESS;
    const child = umask === null
      ? spawn(rrdtoolPath, ['-'], { stdio: ['pipe', 'pipe', 'pipe'], env })
      : spawn('/bin/sh', ['-c', `umask ${umask.toString(8).padStart(3, '0')} && exec "$0" -`, rrdtoolPath], {
        stdio: ['pipe', 'pipe', 'pipe'], env,
      });
    // Spawned by the port thread, it has that thread's nice value; rrdtool is bulk work.
    restoreBaseNice(child.pid);
    this.child = child;
    this.partial = '';
    this.needDrain = false;
    let finished = false;
    let resolveExited: () => void = () => {};
    this.exited = new Promise((resolve) => { resolveExited = resolve; });
    const onGone = (reason: string): void => {
      if (finished) return;
      finished = true;
      resolveExited();
      this.onExit(child, reason);
    };
    child.on('error', (err) => onGone(`rrdtool error: ${err.message}`));
    child.on('close', (code, signal) => onGone(`rrdtool exited (code ${code}, signal ${signal})`));
    child.stdin!.on('error', () => { /* reported through 'close' */ });
    child.stdin!.on('drain', () => {
      this.needDrain = false;
      this.pump();
    });
    child.stdout!.setEncoding('latin1');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('latin1');
    child.stderr!.on('data', (chunk: string) => {
      this.logger.warn({ rrdtool: this.id, stderr: chunk.trim() }, 'rrdtool wrote to stderr');
    });
    this.pump();
  }

  private pump(): void {
    const child = this.child;
    if (!child || this.needDrain || !child.stdin || child.stdin.destroyed) return;
    while (this.waiting.length > 0 && this.inFlight.length < this.options.maxInFlight) {
      let chunk = '';
      while (this.waiting.length > 0 && this.inFlight.length < this.options.maxInFlight && chunk.length < MAX_CHUNK_BYTES) {
        const command = this.waiting.shift()!;
        this.inFlight.push(command);
        chunk += command.line;
      }
      if (!child.stdin.write(Buffer.from(chunk, 'latin1'))) {
        this.needDrain = true;
        return;
      }
    }
  }

  private onStdout(chunk: string): void {
    let text = this.partial + chunk;
    let newline = text.indexOf('\n');
    let start = 0;
    while (newline >= 0) {
      this.onLine(text.slice(start, newline));
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    text = text.slice(start);
    this.partial = text;
    this.pump();
  }

  private onLine(line: string): void {
    const command = this.inFlight.peek();
    if (!command) {
      this.logger.warn({ rrdtool: this.id, line }, 'unexpected rrdtool output');
      return;
    }
    if (line.startsWith('OK ') || line === 'OK') {
      this.inFlight.shift();
      this.consecutiveCrashes = 0;
      this.finish(command, null);
    } else if (line.startsWith('ERROR:')) {
      this.inFlight.shift();
      this.consecutiveCrashes = 0;
      this.finish(command, new RrdtoolCommandError(line.slice(6).trim()));
    } else {
      command.output.push(line);
    }
  }

  private finish(command: Command, error: Error | null): void {
    this.shared.queued -= 1;
    if (this.shared.belowWaiters.length > 0) wakeBelow(this.shared);
    this.completed += 1;
    if (command.callback) {
      try {
        command.callback(error, command.output);
      } catch (err) {
        this.logger.error({ rrdtool: this.id, err }, 'rrdtool command callback threw');
      }
    }
    if (this.seqWaiters.length > 0) {
      const ready = this.seqWaiters.filter((w) => w.seq <= this.completed);
      if (ready.length > 0) {
        this.seqWaiters = this.seqWaiters.filter((w) => w.seq > this.completed);
        for (const w of ready) w.resolve();
      }
    }
  }

  private onExit(child: ChildProcess, reason: string): void {
    if (this.child !== child) return;
    this.child = null;
    const unanswered = this.inFlight.drain();
    if (this.closing && unanswered.length === 0 && this.waiting.length === 0) return;
    this.consecutiveCrashes += 1;
    this.logger.warn({ rrdtool: this.id, reason, unanswered: unanswered.length }, 'rrdtool process ended; restarting');
    const retry: Command[] = [];
    // rrdtool runs one command at a time: the first unanswered one was running when it
    // died. It gets one more try; the others are sent again as they were.
    const running = unanswered[0];
    if (running) {
      running.attempts += 1;
      running.output = [];
      if (running.attempts >= 2) this.finish(running, new RrdtoolCommandError(`${reason} while running this command`));
      else retry.push(running);
    }
    for (const command of unanswered.slice(1)) {
      command.output = [];
      retry.push(command);
    }
    this.waiting.unshiftAll(retry);
    if (this.closing) {
      for (const command of this.waiting.drain()) this.finish(command, new RrdtoolCommandError('rrdtool pool closed'));
      return;
    }
    const delay = Math.min(
      this.options.restartMaxMs,
      this.options.restartMinMs * 2 ** Math.min(this.consecutiveCrashes - 1, 16),
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.waiting.length > 0) this.start();
    }, delay * (0.5 + Math.random() / 2));
  }
}

function wakeBelow(shared: PoolShared): void {
  const still: PoolShared['belowWaiters'] = [];
  for (const w of shared.belowWaiters) {
    if (shared.queued < w.count) w.resolve();
    else still.push(w);
  }
  shared.belowWaiters = still;
}

export class RrdtoolPool {
  private readonly processes: RrdtoolProcess[];
  private readonly shared: PoolShared;
  private closed = false;

  constructor(options: RrdtoolPoolOptions = {}) {
    const resolved = {
      size: Math.max(1, Math.floor(options.size ?? 2)),
      rrdtoolPath: options.rrdtoolPath ?? 'rrdtool',
      maxInFlight: Math.max(1, options.maxInFlight ?? 512),
      maxQueued: Math.max(1, options.maxQueued ?? 200_000),
      restartMinMs: options.restartMinMs ?? 100,
      restartMaxMs: options.restartMaxMs ?? 10_000,
      umask: options.umask ?? null,
    };
    this.shared = { queued: 0, maxQueued: resolved.maxQueued, belowWaiters: [] };
    const logger = options.logger ?? SILENT_LOGGER;
    this.processes = Array.from({ length: resolved.size }, (_, i) => new RrdtoolProcess(i, resolved, logger, this.shared));
  }

  get size(): number {
    return this.processes.length;
  }

  /** Process ids of the running rrdtool processes (for monitoring). */
  get pids(): number[] {
    return this.processes.map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Commands submitted and not yet answered. */
  get queued(): number {
    return this.shared.queued;
  }

  /** Resolves once fewer than `count` commands are queued (or the pool is closed). */
  whenQueuedBelow(count: number): Promise<void> {
    if (this.shared.queued < count || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.shared.belowWaiters.push({ count, resolve }));
  }

  /** performance.now() when the oldest command not yet answered was submitted; null if none. */
  get oldestSubmittedAt(): number | null {
    let oldest: number | null = null;
    for (const p of this.processes) {
      const at = p.oldestSubmittedAt;
      if (at !== null && (oldest === null || at < oldest)) oldest = at;
    }
    return oldest;
  }

  /**
   * Queues `rrdtool <args...>` on the process for `shard`. Returns false (and never calls
   * back) when the pool is closed or its queue is full.
   */
  submit(args: readonly string[], shard: number, callback?: CommandCallback): boolean {
    return this.submitLine(rrdtoolCommandLine(args), shard, callback);
  }

  /** As submit(), with a line already built by rrdtoolCommandLine(). */
  submitLine(line: string, shard: number, callback?: CommandCallback): boolean {
    if (this.closed || this.shared.queued >= this.shared.maxQueued) return false;
    this.shared.queued += 1;
    const index = ((shard % this.processes.length) + this.processes.length) % this.processes.length;
    this.processes[index].submit({ line, callback, submittedAt: performance.now(), attempts: 0, output: [] });
    return true;
  }

  /** Runs one command; resolves with its output lines, rejects with its ERROR. */
  run(args: readonly string[], shard = 0): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const accepted = this.submit(args, shard, (error, output) => (error ? reject(error) : resolve([...output])));
      if (!accepted) reject(new RrdtoolCommandError(this.closed ? 'rrdtool pool closed' : 'rrdtool queue full'));
    });
  }

  /** Resolves when every command submitted before the call has been answered. */
  async flush(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.flush()));
  }

  /** Finishes queued commands, then ends the processes. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.processes.map((p) => p.close()));
  }
}
