/**
 * The bounded queue and the one sender behind each push exporter (remote_write, influxdb).
 *
 * notify() only enqueues (the plugin chain's deadline never waits on a receiver); one
 * request is in flight at a time, so batches arrive in order (a remote-write receiver
 * refuses a sample older than one it already holds for that series). The queue is bounded
 * in values: what does not fit is dropped and counted, the oldest data stays queued.
 *
 * Delivery outcomes, as the receivers' own clients treat them:
 * - 2xx: delivered.
 * - 429, 5xx, network errors and timeouts: retried, same batch, with exponential backoff
 *   (jittered), or after the receiver's Retry-After; the queue fills meanwhile and drops
 *   what no longer fits, so a receiver that is down for long costs bounded memory.
 * - any other 4xx: the receiver refuses this data (malformed, too old, unauthorized):
 *   counted as rejected, logged, not retried (it would fail forever and block the rest).
 *
 * flush() (SIGTERM) sends everything queued, retrying until its deadline; what is still
 * queued then is counted as dropped and logged.
 */
import type { StructuredLogger } from '../../util/logging';

export type DeliveryOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'rejected'; readonly reason: string };

/** The exporter's figures for /status and logs (all counts are values, except requests and retries). */
export interface PushCounters {
  /** Values waiting to be sent. (The chain's own `queued`/`dropped` count events, not values.) */
  queuedValues: number;
  /** Values the receiver accepted. */
  sent: number;
  /** Values lost here: the queue was full, or still queued when flush() gave up. */
  droppedValues: number;
  /** Values the receiver refused (4xx other than 429). */
  rejected: number;
  /** HTTP requests made (retries included). */
  requests: number;
  /** Requests that failed and were retried. */
  retries: number;
  /** The last failure, '' if none yet. */
  lastError: string;
}

export function newPushCounters(): PushCounters {
  return { queuedValues: 0, sent: 0, droppedValues: 0, rejected: 0, requests: 0, retries: 0, lastError: '' };
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export interface PushQueueOptions<T> {
  /** For log lines. */
  readonly name: string;
  /** Most values queued (items are dropped whole when they do not fit). */
  readonly capacity: number;
  /** Most values per request (an item larger than this goes alone). */
  readonly batchSize: number;
  /** How many values an item carries. */
  readonly weight: (item: T) => number;
  readonly deliver: (batch: readonly T[]) => Promise<DeliveryOutcome>;
  readonly logger: StructuredLogger;
  /**
   * Counters to count into (default: its own). A queue that replaces another after SIGHUP
   * shares them, so /status carries on and both together stay within `capacity`.
   */
  readonly counters?: PushCounters;
  readonly backoff?: BackoffOptions;
  /** Waits `ms` unless `signal` aborts first (tests pass a fake). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** [0, 1) for the backoff jitter. */
  readonly random?: () => number;
  readonly now?: () => number;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Delay before retry number `attempt` (0-based): doubling from initialMs up to maxMs, jittered to 50-100 %. */
export function backoffDelay(attempt: number, backoff: BackoffOptions, random: () => number): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.5 + random() / 2));
}

export class PushQueue<T> {
  readonly counters: PushCounters;
  private items: T[] = [];
  private head = 0;
  private sending: Promise<void> | null = null;
  /** Epoch ms after which failed batches are dropped instead of retried (set by flush/close). */
  private giveUpAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private waiting = new AbortController();
  private readonly backoff: BackoffOptions;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: PushQueueOptions<T>) {
    if (!(options.capacity > 0) || !(options.batchSize > 0)) throw new Error(`${options.name}: capacity and batch size must be positive`);
    this.counters = options.counters ?? newPushCounters();
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.sleep = options.sleep ?? abortableSleep;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /** Queues what fits; counts the rest as dropped. Never blocks. */
  enqueue(items: readonly T[]): void {
    let dropped = 0;
    for (const item of items) {
      const weight = this.options.weight(item);
      if (this.closed || this.counters.queuedValues + weight > this.options.capacity) {
        dropped += weight;
        continue;
      }
      this.items.push(item);
      this.counters.queuedValues += weight;
    }
    if (dropped > 0) this.drop(dropped, this.closed ? 'exporter stopped' : 'queue full');
    if (!this.sending && this.head < this.items.length) {
      this.sending = this.sendAll().finally(() => { this.sending = null; });
    }
  }

  /**
   * Sends everything queued; failed batches are retried until `timeoutMs` from now, then
   * what is left is dropped (counted). Resolves when the queue is empty.
   */
  async flush(timeoutMs: number): Promise<void> {
    this.giveUpAt = Math.min(this.giveUpAt, this.now() + timeoutMs);
    const timer = setTimeout(() => this.waiting.abort(), Math.max(0, timeoutMs));
    try {
      while (this.sending) await this.sending;
    } finally {
      clearTimeout(timer);
      this.giveUpAt = Number.POSITIVE_INFINITY;
      this.waiting = new AbortController();
    }
  }

  /** flush(timeoutMs), then refuses new items. */
  async close(timeoutMs: number): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
  }

  private drop(values: number, why: string): void {
    const before = this.counters.droppedValues;
    this.counters.droppedValues += values;
    // One line at the first drop and then about every 100k values, not one per poll.
    if (before === 0 || Math.floor(before / 100_000) !== Math.floor(this.counters.droppedValues / 100_000)) {
      this.options.logger.warn({ exporter: this.options.name, dropped: this.counters.droppedValues, why }, 'push exporter dropped values');
    }
  }

  private nextBatch(): T[] {
    const batch: T[] = [];
    let weight = 0;
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      const w = this.options.weight(item);
      if (batch.length > 0 && weight + w > this.options.batchSize) break;
      batch.push(item);
      weight += w;
      this.head += 1;
    }
    // Compact once the consumed part dominates (amortized O(1) per item).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private async sendAll(): Promise<void> {
    while (this.head < this.items.length) {
      const batch = this.nextBatch();
      let weight = 0;
      for (const item of batch) weight += this.options.weight(item);
      await this.sendBatch(batch, weight);
      this.counters.queuedValues -= weight;
    }
  }

  private async sendBatch(batch: readonly T[], weight: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.now() >= this.giveUpAt) {
        this.drop(weight, 'receiver unavailable at shutdown');
        return;
      }
      this.counters.requests += 1;
      let outcome: DeliveryOutcome;
      try {
        outcome = await this.options.deliver(batch);
      } catch (err) {
        outcome = { kind: 'retry', reason: (err as Error).message ?? String(err) };
      }
      if (outcome.kind === 'delivered') {
        this.counters.sent += weight;
        return;
      }
      this.counters.lastError = outcome.reason;
      if (outcome.kind === 'rejected') {
        this.counters.rejected += weight;
        this.options.logger.error({ exporter: this.options.name, values: weight, err: outcome.reason },
          'receiver refused a batch; not retried');
        return;
      }
      this.counters.retries += 1;
      const delay = outcome.retryAfterMs ?? backoffDelay(attempt, this.backoff, this.random);
      if (attempt === 0 || attempt % 10 === 0) {
        this.options.logger.warn({ exporter: this.options.name, attempt: attempt + 1, retry_in_ms: delay, err: outcome.reason },
          'push failed; retrying');
      }
      await this.sleep(Math.min(delay, Math.max(0, this.giveUpAt - this.now())), this.waiting.signal);
    }
  }
}
