/**
 * One SourcePoller per data_source: every step (±5 % jitter, as the C gmetad) it has its
 * DocumentFetcher try the source's addresses in turn (fetch-document: connect, read, parse;
 * in a parse worker for the daemon) and hands the finished snapshot to the store. A failed
 * poll only logs and reports; the store keeps the last good data. Nothing here throws out of the timer loop, so one bad source never
 * disturbs the others.
 *
 * Failover rule (our decision; the C gmetad has no equivalent for mid-document failures):
 *  - An address is skipped in favour of the next one only while it has sent nothing yet:
 *    refused, unreachable, connect deadline, or accepted-then-closed/reset/silent without
 *    a single byte (e.g. a gmond whose ACL drops us, or a hung one).
 *  - Once a byte has arrived the poll is committed to that address: if the document then
 *    fails (parse error, truncation, idle deadline, reset) the poll fails without trying
 *    the others, so a slow or broken source costs at most one document per step. The next
 *    poll starts with the address after the one that failed.
 *  - Otherwise each poll tries the last good address first, then the rest in listed order.
 */
import type { DataSourceConfig, SourceAddress } from '../config/types';
import type { SourceSnapshot } from '../store/model';
import { countTimed, type DaemonStats } from '../util/stats';
import { formatAddress } from './connector';
import { PollAbort, type AttemptResult, type DocumentFetcher } from './fetch-document';
import type { StructuredLogger } from '../util/logging';

export type PollerStatus = 'idle' | 'connecting' | 'reading' | 'waiting' | 'stopped';


export interface PollerTimeouts {
  /** Deadline for one TCP connect (default 5000). */
  readonly connectMs: number;
  /** Deadline between two received chunks (default 10000, the C gmetad's poll timeout). */
  readonly idleMs: number;
  /** Deadline for a whole poll, failover included (default: the source's max_poll_seconds). */
  readonly pollMs: number;
}

export interface SourcePollerDeps {
  /** Runs each attempt at an address (the parse pool's for the daemon; LocalFetcher in tests). */
  readonly fetcher: DocumentFetcher;
  readonly onSnapshot: (snapshot: SourceSnapshot) => void;
  readonly onFailure: (reason: string) => void;
  readonly logger: StructuredLogger;
  readonly stats: DaemonStats;
  readonly timeouts?: Partial<PollerTimeouts>;
  /** Uniform in [0, 1); drives the step jitter (default Math.random). */
  readonly random?: () => number;
  /** The wall clock, epoch milliseconds (default the system's). */
  readonly now?: () => number;
  /** Arms the timer of the next poll (default setTimeout); tests record the delays it is given. */
  readonly scheduleNextPoll?: (run: () => void, delayMs: number) => PollTimer;
}

/** The pending next poll; stop() cancels it. */
export interface PollTimer {
  cancel(): void;
}

function scheduleWithSetTimeout(run: () => void, delayMs: number): PollTimer {
  const timer = setTimeout(run, delayMs);
  return { cancel: () => clearTimeout(timer) };
}

/** Why one address did not deliver. */
export interface AddressFailure {
  readonly address: SourceAddress;
  readonly reason: string;
}

export type PollOutcome =
  | {
      readonly ok: true;
      readonly address: SourceAddress;
      readonly snapshot: SourceSnapshot;
      readonly durationMs: number;
      /** Bytes received on the wire (compressed size for gzip bodies). */
      readonly bytes: number;
      /** Addresses skipped before this one. */
      readonly failures: readonly AddressFailure[];
    }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly durationMs: number;
      readonly failures: readonly AddressFailure[];
      /** True when the poll was cut short by stop(); nothing was counted or reported. */
      readonly stopped: boolean;
    };

/** The jitter of the C gmetad: each sleep is the step ±5 %, uniformly. */
export const STEP_JITTER = 0.05;

/**
 * Delay before the next poll, measured from the start of the one that just ended so the
 * cadence does not drift. `missed` when that poll took longer than its whole interval.
 */
export function nextPollDelay(
  stepMs: number,
  elapsedMs: number,
  random: () => number,
): { readonly intervalMs: number; readonly delayMs: number; readonly missed: boolean } {
  const intervalMs = stepMs * (1 + STEP_JITTER * (2 * random() - 1));
  const delayMs = intervalMs - elapsedMs;
  return delayMs < 0 ? { intervalMs, delayMs: 0, missed: true } : { intervalMs, delayMs, missed: false };
}

export class SourcePoller {
  private readonly config: DataSourceConfig;
  private readonly deps: SourcePollerDeps;
  private readonly timeouts: PollerTimeouts;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly stopController = new AbortController();
  private state: PollerStatus = 'idle';
  private started = false;
  private timer: PollTimer | null = null;
  private inFlight: Promise<PollOutcome> | null = null;
  private lastGoodIndex = -1;
  /** Index of the address the next poll tries first. */
  private firstIndex = 0;

  constructor(config: DataSourceConfig, deps: SourcePollerDeps) {
    this.config = config;
    this.deps = deps;
    this.timeouts = {
      connectMs: deps.timeouts?.connectMs ?? 5_000,
      idleMs: deps.timeouts?.idleMs ?? 10_000,
      pollMs: deps.timeouts?.pollMs ?? config.limits.maxPollSeconds * 1000,
    };
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  get status(): PollerStatus {
    return this.state;
  }

  /** The address that delivered the last good document, or null if none has yet. */
  get lastGoodAddress(): SourceAddress | null {
    return this.lastGoodIndex >= 0 ? this.config.addresses[this.lastGoodIndex] : null;
  }

  get name(): string {
    return this.config.name;
  }

  /** Polls at once, then every step (jittered). Idempotent. */
  start(): void {
    if (this.started || this.state === 'stopped') return;
    this.started = true;
    void this.runCycle();
  }

  /** Cancels the timer and any poll in flight; resolves once nothing is left running. */
  async stop(): Promise<void> {
    if (this.state !== 'stopped') {
      this.state = 'stopped';
      this.timer?.cancel();
      this.timer = null;
      this.stopController.abort(new PollAbort('poller stopped', true));
    }
    if (this.inFlight) await this.inFlight;
  }

  /** Runs one poll now (sharing the one in flight, if any). Never rejects. */
  pollOnce(): Promise<PollOutcome> {
    if (!this.inFlight) {
      this.inFlight = this.poll().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async runCycle(): Promise<void> {
    this.timer = null;
    const startedAt = this.now();
    let failed = true;
    try {
      failed = !(await this.pollOnce()).ok;
    } catch (err) {
      // poll() is written not to throw; this is a last line of defence for the loop.
      this.deps.logger.error({ dataSource: this.config.name, err }, `data_source "${this.config.name}": poll crashed: ${String(err)}`);
    }
    if (this.state === 'stopped') return;
    const { delayMs, missed } = nextPollDelay(this.config.step * 1000, this.now() - startedAt, this.random);
    if (missed) {
      this.deps.stats.polls.misses += 1;
      // A failed poll (a trickle cut at max_poll_seconds, say) has logged its one error already.
      if (!failed) this.deps.logger.warn(
        { dataSource: this.config.name, elapsedMs: this.now() - startedAt },
        `data_source "${this.config.name}": poll took longer than its step of ${this.config.step} s`,
      );
    }
    this.state = 'waiting';
    this.timer = (this.deps.scheduleNextPoll ?? scheduleWithSetTimeout)(() => void this.runCycle(), delayMs);
  }

  private async poll(): Promise<PollOutcome> {
    const name = this.config.name;
    const startedAt = this.now();
    const elapsed = (): number => Math.max(0, this.now() - startedAt);
    const failures: AddressFailure[] = [];
    if (this.state === 'stopped') {
      return { ok: false, reason: 'poller stopped', durationMs: 0, failures, stopped: true };
    }

    const controller = new AbortController();
    const onStop = (): void => controller.abort(this.stopController.signal.reason);
    this.stopController.signal.addEventListener('abort', onStop, { once: true });
    const deadline = setTimeout(
      () => controller.abort(new PollAbort(
        `max_poll_seconds exceeded: the poll took more than ${this.timeouts.pollMs / 1000} s; aborted, last good data kept`, false)),
      this.timeouts.pollMs,
    );
    const pollTime = Math.floor(startedAt / 1000);

    try {
      for (const index of this.addressOrder()) {
        const address = this.config.addresses[index];
        const where = `data_source "${name}": ${formatAddress(address)}`;
        const logFields = { dataSource: name, address: formatAddress(address) };
        const result = await this.attempt(address, pollTime, controller.signal);

        if (result.kind === 'ok') {
          const durationMs = elapsed();
          this.lastGoodIndex = index;
          this.firstIndex = index;
          countTimed(this.deps.stats.polls.ok, durationMs, this.now());
          this.deps.logger.debug({ ...logFields, durationMs, bytes: result.bytes }, `${where}: polled in ${durationMs} ms`);
          this.deliver(result.snapshot);
          return { ok: true, address, snapshot: result.snapshot, durationMs, bytes: result.bytes, failures };
        }

        failures.push({ address, reason: result.reason });
        if (result.kind === 'aborted' && result.stopped) {
          this.deps.logger.debug(logFields, `${where}: poll cancelled: ${result.reason}`);
          return { ok: false, reason: result.reason, durationMs: elapsed(), failures, stopped: true };
        }
        if (result.kind === 'unusable') {
          this.deps.logger.warn(logFields, `${where}: ${result.reason}`);
          continue;
        }
        // Deadline or a document that broke after it started: the poll fails here.
        if (result.bytes > 0) this.firstIndex = (index + 1) % this.config.addresses.length;
        const reason = `${where}: ${result.reason}`;
        this.deps.logger.error(logFields, reason);
        return this.failed(reason, elapsed(), failures);
      }
      const tried = failures.map((f) => formatAddress(f.address)).join(', ');
      const reason = `data_source "${name}": no answer from any address (${tried || 'none configured'})`;
      this.deps.logger.error({ dataSource: name }, reason);
      return this.failed(reason, elapsed(), failures);
    } catch (err) {
      // Only a bug (in a parser factory, say) gets here; still a failed poll, not a crash.
      const reason = `data_source "${name}": poll failed: ${err instanceof Error ? err.message : String(err)}`;
      this.deps.logger.error({ dataSource: name, err }, reason);
      return this.failed(reason, elapsed(), failures);
    } finally {
      clearTimeout(deadline);
      this.stopController.signal.removeEventListener('abort', onStop);
      if (this.state === 'connecting' || this.state === 'reading') this.state = 'idle';
    }
  }

  private failed(reason: string, durationMs: number, failures: AddressFailure[]): PollOutcome {
    countTimed(this.deps.stats.polls.failed, durationMs, this.now());
    this.callSafely('onFailure', () => this.deps.onFailure(reason));
    return { ok: false, reason, durationMs, failures, stopped: false };
  }

  private deliver(snapshot: SourceSnapshot): void {
    this.callSafely('onSnapshot', () => this.deps.onSnapshot(snapshot));
  }

  /** A throwing consumer is its own bug; it must not break this source's loop. */
  private callSafely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.logger.error(
        { dataSource: this.config.name, err },
        `data_source "${this.config.name}": ${what} handler threw: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** The preferred address first, then the others in listed order. */
  private addressOrder(): number[] {
    const count = this.config.addresses.length;
    const first = this.firstIndex < count ? this.firstIndex : 0;
    const order = count > 0 ? [first] : [];
    for (let i = 0; i < count; i++) if (i !== first) order.push(i);
    return order;
  }

  private attempt(address: SourceAddress, pollTime: number, signal: AbortSignal): Promise<AttemptResult> {
    if (this.state !== 'stopped') this.state = 'connecting';
    const request = {
      address, pollTime, connectMs: this.timeouts.connectMs, idleMs: this.timeouts.idleMs, maxDocumentBytes: this.config.limits.maxDocumentBytes,
    };
    return this.deps.fetcher.fetch(request, signal, () => {
      if (this.state !== 'stopped') this.state = 'reading';
    });
  }
}
