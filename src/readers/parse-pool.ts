/**
 * The parse workers, seen from the main thread (docs/architecture.md). Each data source is
 * pinned to one worker (its interner lives there); workers start on first use, up to one
 * per core. The poller asks for one attempt at one address at a time; the worker connects,
 * reads and parses, and the snapshot comes back as a SourceImage read in place, so the port
 * thread never reads a polled socket.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { snapshotOfImage } from '../store/image/views';
import type { DaemonStats } from '../util/stats';
import { processBaseNice } from '../util/thread-priority';
import { aborted, type AttemptResult, type DocumentFetcher, type FetchRequest } from './fetch-document';
import type { FromWorker, ParseWorkerData, SourceSettings, ToWorker } from './parse-protocol';

const WORKER_FILE = path.join(__dirname, 'parse-worker.js');
/**
 * A parse worker's young generation, MiB (V8 sizes it as 3 semi-spaces): 4 MiB semi-spaces,
 * whatever the process-wide --max-semi-space-size. bin/gmetad gives the port thread 1 MiB
 * ones (it allocates little: the trees are off its heap), but the worker building a 1M-metric
 * tree took 3.38 s instead of 3.10 s with them (bench/parse.js, 1 × 10,000 × 100). Larger
 * ones (48 and 96 MiB) changed nothing measurable at S2 (bench/run.js, 2026-12-01).
 */
const WORKER_YOUNG_GENERATION_MB = 12;

/**
 * A poll that fails or is aborted (a limit, the deadline, a broken document) after this many
 * bytes gets its worker replaced once the worker is idle: a hostile document grows the
 * worker's heap (its tree, its source's interner, V8's pages), and a collection returns
 * little of that to the system, while ending the thread returns all of it.
 */
export const RECYCLE_AFTER_BYTES = 16 * 1024 * 1024;

/**
 * How long an aborted attempt may take to answer. The worker ends it at once (a socket read
 * parses in well under a millisecond); one that does not answer is stuck, and is replaced.
 */
export const ABORT_ANSWER_MS = 2_000;

/** One attempt waiting for its worker's answer. */
interface PendingAttempt {
  readonly onConnected: () => void;
  readonly settle: (result: AttemptResult) => void;
}

/** A worker and what runs in it; the worker is (re)started on demand. */
class WorkerSlot {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, PendingAttempt>();
  readonly sources = new Set<string>();
  /** A large attempt failed here: replace the worker as soon as no attempt is in flight. */
  private recycleWanted = false;
  /** Workers ended to give their memory back (see RECYCLE_AFTER_BYTES). */
  recycled = 0;

  constructor(
    private readonly file: string,
    private readonly recycleAfterBytes: number,
    private readonly abortAnswerMs: number,
    private readonly stats: DaemonStats | undefined,
  ) {}

  post(message: ToWorker): void {
    this.start().postMessage(message);
  }

  /** For what only a running worker holds (a source's interner). */
  postIfRunning(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  /** One attempt; resolves with the worker's answer (or at once when the worker dies). */
  fetch(id: number, source: string, settings: SourceSettings, request: FetchRequest, signal: AbortSignal, onConnected: () => void): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve) => {
      if (signal.aborted) {
        resolve(aborted(signal.reason, 0));
        return;
      }
      let answerTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        const reason: unknown = signal.reason;
        const stopped = typeof reason === 'object' && reason !== null && (reason as { stopped?: unknown }).stopped === true;
        this.worker?.postMessage({ type: 'abort', id, reason: reason instanceof Error ? reason.message : String(reason), stopped } satisfies ToWorker);
        answerTimer = setTimeout(() => {
          settle(aborted(reason, 0));
          this.replaceStuck();
        }, this.abortAnswerMs);
        answerTimer.unref();
      };
      const settle = (result: AttemptResult): void => {
        if (!this.pending.delete(id)) return;
        clearTimeout(answerTimer);
        signal.removeEventListener('abort', onAbort);
        resolve(result);
        this.idleCheck();
      };
      // Posted first: a worker that cannot start rejects this attempt and leaves nothing pending.
      this.post({ type: 'fetch', id, source, settings, request });
      this.pending.set(id, { onConnected, settle });
      this.worker?.ref();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private receive(message: FromWorker): void {
    const attempt = this.pending.get(message.id);
    if (attempt === undefined) return;
    if (message.type === 'connected') {
      attempt.onConnected();
      return;
    }
    const { result } = message;
    if (result.kind === 'ok') {
      if (this.stats) this.stats.metricsReceived += message.metricsReceived;
      attempt.settle({ kind: 'ok', snapshot: snapshotOfImage(result.snapshot), bytes: result.bytes });
      return;
    }
    if (message.documentBytes >= this.recycleAfterBytes) this.recycleWanted = true;
    attempt.settle(result);
  }

  /** An idle worker does not keep the process alive, and goes if it was asked to. */
  private idleCheck(): void {
    if (this.pending.size > 0) return;
    this.worker?.unref();
    if (this.recycleWanted) this.recycle();
  }

  /**
   * Ends the idle worker; the next poll starts a fresh one. The interners of the sources
   * pinned here go with it (their next poll builds them again, as at start-up) and the
   * sources stay pinned to this slot.
   */
  private recycle(): void {
    const worker = this.worker;
    this.recycleWanted = false;
    if (worker === null) return;
    this.worker = null; // its exit is then not a death to report
    this.recycled += 1;
    void worker.terminate().catch(() => undefined);
  }

  /** A worker that did not answer an abort: its other attempts fail, and a new one starts on demand. */
  private replaceStuck(): void {
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    this.failAll('parse worker did not answer an abort and was replaced');
    void worker.terminate().catch(() => undefined);
  }

  private failAll(reason: string): void {
    for (const attempt of [...this.pending.values()]) attempt.settle({ kind: 'failed', reason, bytes: 0 });
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    // A worker inherits the port thread's nice value (util/thread-priority): it sets the base one itself.
    const worker = new Worker(this.file, {
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: { baseNice: processBaseNice() } satisfies ParseWorkerData,
    });
    worker.unref();
    worker.on('message', (message: FromWorker) => this.receive(message));
    const died = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.failAll(`parse worker ${why}`);
    };
    worker.on('error', (err) => died(`failed: ${err.message}`));
    worker.on('exit', (code) => died(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failAll('parse worker stopped');
    if (worker) await worker.terminate();
  }
}

export interface PoolSourceOptions {
  readonly source: string;
  readonly settings: SourceSettings;
}

export interface ParsePoolOptions {
  readonly stats?: DaemonStats;
  /** The worker's script (default parse-worker.js). */
  readonly file?: string;
  readonly recycleAfterBytes?: number;
  readonly abortAnswerMs?: number;
}

export class ParsePool {
  private readonly slots: WorkerSlot[];
  private readonly assigned = new Map<string, WorkerSlot>();
  private nextId = 1;

  /** `stats`: metrics.received counts what the workers parsed; the rest is for tests. */
  constructor(size = os.availableParallelism(), options: ParsePoolOptions = {}) {
    const { file = WORKER_FILE, recycleAfterBytes = RECYCLE_AFTER_BYTES, abortAnswerMs = ABORT_ANSWER_MS, stats } = options;
    this.slots = Array.from({ length: Math.max(1, size) }, () => new WorkerSlot(file, recycleAfterBytes, abortAnswerMs, stats));
  }

  /** Workers ended so far to give back a hostile poll's memory. */
  get recycledWorkers(): number {
    return this.slots.reduce((n, s) => n + s.recycled, 0);
  }

  /** The DocumentFetcher of one source: every attempt of it runs in the same worker. */
  fetcher(options: PoolSourceOptions): DocumentFetcher {
    return {
      fetch: (request, signal, onConnected) =>
        this.slotOf(options.source).fetch(this.nextId++, options.source, options.settings, request, signal, onConnected),
    };
  }

  /** The source is gone: its worker may drop its interner. */
  forget(source: string): void {
    const slot = this.assigned.get(source);
    if (slot === undefined) return;
    this.assigned.delete(source);
    slot.sources.delete(source);
    slot.postIfRunning({ type: 'forget', source });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.stop()));
  }

  /** Pins a new source to the worker with the fewest sources (started workers first). */
  private slotOf(source: string): WorkerSlot {
    let slot = this.assigned.get(source);
    if (slot === undefined) {
      slot = this.slots.reduce((best, s) => (s.sources.size < best.sources.size ? s : best));
      slot.sources.add(source);
      this.assigned.set(source, slot);
    }
    return slot;
  }
}
