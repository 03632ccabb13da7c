/**
 * A client for rrdcached's text protocol that sends UPDATEs in BATCHes:
 *
 *   -> BATCH                     <- 0 Go ahead.  End with dot '.' on its own line.
 *   -> UPDATE <file> <ts:v>...   (no reply per command in a batch unless it fails)
 *   -> .                         <- <N> errors   then N lines "<command#> <message>"
 *
 * rrdcached splits a command on ' ' and takes a backslash as "next character literally"
 * (rrd_daemon.c buffer_get_field), so a path with spaces is sent with `\ `.
 *
 * Unlike the C gmetad, which exits when rrdcached cannot be reached, this client keeps the
 * updates in a bounded queue (overflow is dropped and counted) and reconnects with capped,
 * jittered exponential backoff. A batch that was in flight when the connection broke is
 * sent again (some of it may then fail as already applied: harmless, counted as errors).
 */
import { parseAddress } from '../../config/address';
import * as net from 'node:net';
import { Fifo } from './fifo';
import { SILENT_LOGGER, type StructuredLogger } from '../../util/logging';

export const RRDCACHED_DEFAULT_PORT = 42217;

export type RrdcachedAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/**
 * The address forms librrd accepts: `unix:/path`, `/path` (a UNIX socket), `host`,
 * `host:port`, `[v6addr]`, `[v6addr]:port` (default port 42217).
 */
export function parseRrdcachedAddress(text: string): RrdcachedAddress {
  const address = text.trim();
  if (address === '') throw new RangeError('empty rrdcached address');
  if (address.startsWith('unix:')) {
    const path = address.slice(5);
    if (path === '') throw new RangeError(`bad rrdcached address "${text}"`);
    return { kind: 'unix', path };
  }
  if (address.startsWith('/')) return { kind: 'unix', path: address };
  // host[:port] is parsed by the config's one address parser.
  const parsed = parseAddress(address, RRDCACHED_DEFAULT_PORT);
  if (!parsed.ok) throw new RangeError(`bad rrdcached address "${text}": ${parsed.reason}`);
  return { kind: 'tcp', host: parsed.address.host, port: parsed.address.port };
}

/** `rrdcached_address` from gmetad.conf, else the RRDCACHED_ADDRESS environment variable (as librrd). */
export function resolveRrdcachedAddress(
  configured: string | null | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  if (configured && configured.trim() !== '') return configured.trim();
  const fromEnv = env.RRDCACHED_ADDRESS;
  return fromEnv && fromEnv.trim() !== '' ? fromEnv.trim() : null;
}

/** Escapes one protocol field: backslash and space get a backslash. */
export function escapeRrdcachedField(field: string): string {
  if (/[\n\r\u0000]/.test(field)) throw new RangeError(`rrdcached field cannot contain newline/NUL: ${JSON.stringify(field)}`);
  return /[\\ ]/.test(field) ? field.replace(/[\\ ]/g, '\\$&') : field;
}

export interface RrdcachedClientOptions {
  readonly address: string;
  /** Updates kept while rrdcached is slow or unreachable; more are dropped (default 500000). */
  readonly maxQueued?: number;
  /** Commands per BATCH (default 5000; a batch also ends at BATCH_BYTES). */
  readonly maxBatch?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly logger?: StructuredLogger;
}

export interface RrdcachedCounters {
  /** UPDATE commands acknowledged by rrdcached (including those it reported as failed). */
  acknowledged: number;
  /** UPDATE commands rrdcached reported as failed. */
  errors: number;
  /** UPDATE commands dropped: queue full, or still queued at close(). */
  dropped: number;
  /** Connections made after a failure or disconnect. */
  reconnects: number;
}

/**
 * One BATCH, written into one buffer as its commands are queued: `BATCH\n`, one line per
 * command, and `.\n` once it is sent. The bytes go to the socket as they are (no string per
 * batch, no copy), and the buffer is used again for a later batch once rrdcached answered.
 */
interface Batch {
  buffer: Buffer;
  /** Bytes used. */
  length: number;
  commands: number;
  /** The closing `.\n` is written (it is being or was sent). */
  sealed: boolean;
  /** performance.now() when its first command was queued. */
  readonly queuedAt: number;
  phase: 'go-ahead' | 'result' | 'errors';
  errorsLeft: number;
  errorsLogged: number;
  /** Where reading back failed commands got to (errors come in command order): number and byte offset. */
  readNumber: number;
  readOffset: number;
}

const ERRORS_LOGGED_PER_BATCH = 5;
const BATCH_HEAD = 'BATCH\n';
const BATCH_END = '.\n';
/**
 * Bytes of one batch buffer: about 4,500 updates of a 10,000-host tree. Buffers are kept and
 * used again (the daemon's fixed glibc mmap threshold would otherwise make every batch an
 * mmap, page faults on its first write and an munmap).
 */
const BATCH_BYTES = 512 * 1024;
/** Batch buffers kept for reuse (at most this many batches are usually queued at once). */
const SPARE_BUFFERS = 4;

export class RrdcachedClient {
  readonly address: RrdcachedAddress;
  readonly counters: RrdcachedCounters = { acknowledged: 0, errors: 0, dropped: 0, reconnects: 0 };
  /** Batches waiting to be sent, oldest first; the last one may still be filling. */
  private readonly queue = new Fifo<Batch>();
  /** Commands in `queue`. */
  private queuedCommands = 0;
  private readonly spareBuffers: Buffer[] = [];
  private readonly maxQueued: number;
  private readonly maxBatch: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly logger: StructuredLogger;
  private socket: net.Socket | null = null;
  private connected = false;
  private inFlight: Batch | null = null;
  private partial = '';
  private failures = 0;
  private everConnected = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private enqueuedSeq = 0;
  private settledSeq = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private belowWaiters: { count: number; resolve: () => void }[] = [];

  constructor(options: RrdcachedClientOptions) {
    this.address = parseRrdcachedAddress(options.address);
    this.maxQueued = Math.max(1, options.maxQueued ?? 500_000);
    this.maxBatch = Math.max(1, options.maxBatch ?? 5000);
    this.backoffMinMs = options.backoffMinMs ?? 100;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.logger = options.logger ?? SILENT_LOGGER;
  }

  /** Updates queued or in flight. */
  get pending(): number {
    return this.queuedCommands + (this.inFlight ? this.inFlight.commands : 0);
  }

  /** performance.now() when the oldest update not yet acknowledged was queued; null if none. */
  get oldestQueuedAt(): number | null {
    if (this.inFlight) return this.inFlight.queuedAt;
    return this.queue.peek()?.queuedAt ?? null;
  }

  /**
   * Resolves once fewer than `count` updates are pending, or as soon as the connection is
   * down (updates then queue, bounded, instead of making the caller wait) or closed.
   */
  whenPendingBelow(count: number): Promise<void> {
    if (this.pending < count || !this.connected || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.belowWaiters.push({ count, resolve }));
  }

  private wakeBelow(all: boolean): void {
    if (this.belowWaiters.length === 0) return;
    const still: { count: number; resolve: () => void }[] = [];
    for (const w of this.belowWaiters) {
      if (all || this.pending < w.count) w.resolve();
      else still.push(w);
    }
    this.belowWaiters = still;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Queues `UPDATE <file> <values...>`; false when dropped (queue full or closed). */
  update(file: string, values: readonly string[]): boolean {
    return this.updateEscaped(escapeRrdcachedField(file), values.join(' '));
  }

  /**
   * update() for a file already escaped with escapeRrdcachedField (a caller that writes
   * a file at every poll escapes its directory once) and its `ts:value...` arguments
   * joined by spaces; false when dropped.
   */
  updateEscaped(escapedFile: string, values: string): boolean {
    if (this.closed || this.pending >= this.maxQueued) {
      this.counters.dropped += 1;
      return false;
    }
    this.queueCommand(`UPDATE ${escapedFile} ${values}\n`);
    return true;
  }

  /**
   * Queues `FORGET <file>`: rrdcached drops what it holds for the file. Sent for a file found
   * deleted, before it is created again: rrdcached checks a file only when it first sees it,
   * so it would otherwise apply the values it held for the old file first, and the new
   * file, created after them, would refuse that whole flush. A FORGET rrdcached answers with
   * an error (it held nothing for the file) is not counted as an error.
   */
  forget(file: string): boolean {
    if (this.closed || this.pending >= this.maxQueued) return false;
    this.queueCommand(`FORGET ${escapeRrdcachedField(file)}\n`);
    return true;
  }

  /** Appends one command line (latin1: one byte per char) to the batch being filled. */
  private queueCommand(line: string): void {
    let batch = this.filling();
    if (batch === null || batch.commands >= this.maxBatch || batch.length + line.length + BATCH_END.length > batch.buffer.length) {
      batch = this.newBatch(line.length);
      this.queue.push(batch);
    }
    batch.length += batch.buffer.write(line, batch.length, 'latin1');
    batch.commands += 1;
    this.queuedCommands += 1;
    this.enqueuedSeq += 1;
    this.kick();
  }

  /** The newest queued batch while more commands may go into it. */
  private filling(): Batch | null {
    const last = this.queue.last();
    return last !== undefined && !last.sealed ? last : null;
  }

  private newBatch(lineLength: number): Batch {
    const needed = BATCH_HEAD.length + lineLength + BATCH_END.length;
    const buffer = needed <= BATCH_BYTES ? (this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES)) : Buffer.allocUnsafeSlow(needed);
    const length = buffer.write(BATCH_HEAD, 0, 'latin1');
    return {
      buffer, length, commands: 0, sealed: false, queuedAt: performance.now(), phase: 'go-ahead', errorsLeft: 0, errorsLogged: 0, readNumber: 1, readOffset: length,
    };
  }

  /** A batch rrdcached answered, or one that is thrown away: its buffer serves a later batch. */
  private recycle(batch: Batch): void {
    if (batch.buffer.length === BATCH_BYTES && this.spareBuffers.length < SPARE_BUFFERS) this.spareBuffers.push(batch.buffer);
  }

  /** Resolves when every update queued before the call was answered, dropped, or the client closed. */
  flush(): Promise<void> {
    if (this.settledSeq >= this.enqueuedSeq || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq: this.enqueuedSeq, resolve }));
  }

  /** Waits up to `timeoutMs` for the queue to drain, then drops the rest and disconnects. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
    ]);
    if (timer) clearTimeout(timer);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const left = this.pending;
    if (left > 0) {
      this.counters.dropped += left;
      this.logger.warn({ rrdcached: this.describe(), dropped: left }, 'rrdcached: updates dropped at shutdown');
    }
    this.queue.drain();
    this.queuedCommands = 0;
    this.inFlight = null;
    this.spareBuffers.length = 0;
    this.settle(left);
    for (const w of this.waiters.splice(0)) w.resolve();
    const socket = this.socket;
    this.socket = null;
    this.connected = false;
    if (socket) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end('QUIT\n');
        setTimeout(() => { socket.destroy(); resolve(); }, 1000).unref();
      });
    }
  }

  describe(): string {
    return this.address.kind === 'unix' ? `unix:${this.address.path}` : `${this.address.host}:${this.address.port}`;
  }

  private kick(): void {
    if (this.closed) return;
    if (this.socket === null && this.retryTimer === null) this.connect();
    else if (this.connected) this.sendNextBatch();
  }

  private connect(): void {
    const socket = this.address.kind === 'unix'
      ? net.createConnection({ path: this.address.path })
      : net.createConnection({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    this.partial = '';
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      if (this.failures > 0 || this.everConnected) {
        this.counters.reconnects += 1;
        this.logger.info({ rrdcached: this.describe() }, 'rrdcached: connected again');
      }
      this.everConnected = true;
      this.failures = 0;
      this.sendNextBatch();
    });
    socket.on('data', (chunk: string) => this.onData(socket, chunk));
    socket.on('error', (err) => {
      if (this.socket !== socket) return;
      if (this.failures === 0) {
        this.logger.warn({ rrdcached: this.describe(), err: err.message }, 'rrdcached: connection failed; updates are queued');
      }
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.connected = false;
    this.wakeBelow(true);
    const batch = this.inFlight;
    if (batch) {
      // Unknown how much of it was applied: send it again (duplicates fail harmlessly).
      batch.phase = 'go-ahead';
      batch.errorsLeft = 0;
      batch.errorsLogged = 0;
      batch.readNumber = 1;
      batch.readOffset = BATCH_HEAD.length;
      this.queue.unshiftAll([batch]);
      this.queuedCommands += batch.commands;
      this.inFlight = null;
    }
    if (this.closed) return;
    this.failures += 1;
    if (this.queue.length === 0) return; // reconnect lazily on the next update
    const base = Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** Math.min(this.failures - 1, 20));
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
  }

  private sendNextBatch(): void {
    const socket = this.socket;
    if (!socket || !this.connected || this.inFlight) return;
    const batch = this.queue.shift();
    if (batch === undefined) return;
    this.queuedCommands -= batch.commands;
    if (!batch.sealed) {
      batch.length += batch.buffer.write(BATCH_END, batch.length, 'latin1');
      batch.sealed = true;
    }
    this.inFlight = batch;
    // A view of the batch's own bytes: rrdcached has read them all once it answers, so the
    // buffer is free for reuse by then.
    socket.write(batch.buffer.subarray(0, batch.length));
  }

  private onData(socket: net.Socket, chunk: string): void {
    if (this.socket !== socket) return;
    const text = this.partial + chunk;
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline >= 0) {
      this.onLine(socket, text.slice(start, newline));
      if (this.socket !== socket) return;
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    this.partial = text.slice(start);
  }

  private onLine(socket: net.Socket, line: string): void {
    const batch = this.inFlight;
    if (!batch) {
      this.logger.warn({ rrdcached: this.describe(), line }, 'rrdcached: unexpected reply');
      return;
    }
    const space = line.indexOf(' ');
    const status = Number.parseInt(space < 0 ? line : line.slice(0, space), 10);
    const message = space < 0 ? '' : line.slice(space + 1);
    switch (batch.phase) {
      case 'go-ahead':
        if (!(status >= 0)) {
          this.logger.error({ rrdcached: this.describe(), reply: line }, 'rrdcached refused BATCH; reconnecting');
          socket.destroy();
          return;
        }
        batch.phase = 'result';
        return;
      case 'result':
        if (!(status >= 0)) {
          this.logger.error({ rrdcached: this.describe(), reply: line }, 'rrdcached: bad BATCH result; reconnecting');
          socket.destroy();
          return;
        }
        batch.errorsLeft = status;
        this.counters.errors += status;
        if (status > 0) {
          batch.phase = 'errors';
          return;
        }
        break;
      case 'errors': {
        batch.errorsLeft -= 1;
        // "<command number> <message>"; command 1 is the first command after BATCH.
        const sent = commandOf(batch, status);
        const forgot = sent !== undefined && sent.startsWith('FORGET ');
        if (forgot) this.counters.errors -= 1;
        if (batch.errorsLogged < ERRORS_LOGGED_PER_BATCH) {
          batch.errorsLogged += 1;
          const level = forgot || message.includes('illegal attempt to update') ? 'debug' : 'warn';
          this.logger[level]({ rrdcached: this.describe(), error: message, command: sent }, 'rrdcached: update failed');
        }
        if (batch.errorsLeft > 0) return;
        break;
      }
    }
    this.inFlight = null;
    this.counters.acknowledged += batch.commands;
    this.recycle(batch);
    this.settle(batch.commands);
    this.sendNextBatch();
  }

  private settle(count: number): void {
    this.settledSeq += count;
    this.wakeBelow(this.closed);
    if (this.waiters.length === 0) return;
    const still: { seq: number; resolve: () => void }[] = [];
    for (const w of this.waiters) {
      if (w.seq <= this.settledSeq) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}

/**
 * Command `number` (1 = the first after BATCH) of a batch, read back from its bytes, from
 * where the previous one was found when it comes later; undefined if out of range.
 */
function commandOf(batch: Batch, number: number): string | undefined {
  if (!(number >= 1 && number <= batch.commands)) return undefined;
  if (number < batch.readNumber) {
    batch.readNumber = 1;
    batch.readOffset = BATCH_HEAD.length;
  }
  while (batch.readNumber < number) {
    batch.readOffset = batch.buffer.indexOf(10, batch.readOffset) + 1;
    batch.readNumber += 1;
  }
  return batch.buffer.toString('latin1', batch.readOffset, batch.buffer.indexOf(10, batch.readOffset));
}
