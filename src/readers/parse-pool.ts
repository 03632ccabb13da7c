/**
 * The parse workers, seen from the main thread (docs/architecture.md). Each data source is
 * pinned to one worker (its interner lives there); workers start on first use, up to one
 * per core. A poll's bytes go to the worker as they arrive (copied once into a buffer that
 * is transferred), and its snapshot comes back as a SourceImage read in place.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { snapshotOfImage } from '../store/image/views';
import type { SourceSnapshot } from '../store/model';
import type { DaemonStats } from '../util/stats';
import { processBaseNice } from '../util/thread-priority';
import { DocumentError, LimitExceeded, type DocumentParser, type DocumentParserFactory } from './document';
import { ACK_EVERY_BYTES, type FromWorker, type ParseWorkerData, type SourceSettings, type ToWorker } from './parse-protocol';

/** Unparsed bytes in flight to a worker above which the poller stops reading its socket. */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** ... and below which it reads again. */
const LOW_WATER_BYTES = 2 * 1024 * 1024;
if (ACK_EVERY_BYTES >= LOW_WATER_BYTES) throw new Error('parse pool: acknowledgements must come below the low-water mark');

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
 * The bytes to move to a worker: a socket read owns its whole ArrayBuffer and is moved as
 * is (the caller does not use it again); anything else (a slice of a shared pool, gunzip
 * output) is copied once into a buffer of its own.
 */
function ownBytes(chunk: Buffer): Uint8Array {
  const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
  return whole ? chunk : new Uint8Array(chunk);
}

/** One poll in a worker, as the poller's DocumentParser. */
class WorkerDocument implements DocumentParser {
  private inFlight = 0;
  /** Bytes written so far (after gunzip). */
  private written = 0;
  private error: DocumentError | LimitExceeded | null = null;
  private drainCallbacks: (() => void)[] = [];
  private finished: { resolve: (s: SourceSnapshot) => void; reject: (e: Error) => void } | null = null;
  private closed = false;

  constructor(private readonly slot: WorkerSlot, readonly id: number, private readonly stats: DaemonStats | undefined) {}

  write(chunk: Buffer): boolean {
    if (this.error !== null) throw this.error;
    if (this.closed) return true;
    this.inFlight += chunk.byteLength;
    this.written += chunk.byteLength;
    const bytes = ownBytes(chunk);
    try {
      this.slot.post({ type: 'chunk', id: this.id, bytes }, [bytes.buffer as ArrayBuffer]);
    } catch {
      // Not transferable after all (a buffer node keeps for itself): send a copy.
      const copy = new Uint8Array(chunk);
      this.slot.post({ type: 'chunk', id: this.id, bytes: copy }, [copy.buffer as ArrayBuffer]);
    }
    return this.inFlight <= HIGH_WATER_BYTES;
  }

  onDrain(callback: () => void): void {
    if (this.inFlight <= LOW_WATER_BYTES || this.error !== null) callback();
    else this.drainCallbacks.push(callback);
  }

  finish(): Promise<SourceSnapshot> {
    if (this.error !== null) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.finished = { resolve, reject };
      this.slot.post({ type: 'end', id: this.id });
    });
  }

  abort(): void {
    if (this.closed) return;
    this.slot.post({ type: 'abort', id: this.id });
    this.slot.recycleIfLarge(this.written);
    this.close();
  }

  /** From the worker. */
  receive(message: FromWorker): void {
    switch (message.type) {
      case 'ack':
        this.inFlight -= message.bytes;
        if (this.inFlight <= LOW_WATER_BYTES) this.drain();
        return;
      case 'error':
        this.failWith(message.limit === undefined
          ? new DocumentError(message.message, message.atEnd)
          : Object.assign(new LimitExceeded(message.limit, ''), { message: message.message }));
        return;
      case 'done':
        if (this.stats) this.stats.metricsReceived += message.metricsReceived;
        this.finished?.resolve(snapshotOfImage(message.image));
        this.close();
        return;
    }
  }

  failWith(error: DocumentError | LimitExceeded): void {
    this.error = error;
    this.slot.recycleIfLarge(this.written);
    this.finished?.reject(error);
    // A paused reader resumes, and its next write reports the error.
    this.drain();
    if (this.finished) this.close();
  }

  private drain(): void {
    const callbacks = this.drainCallbacks;
    this.drainCallbacks = [];
    for (const cb of callbacks) cb();
  }

  private close(): void {
    this.closed = true;
    this.finished = null;
    this.slot.remove(this.id);
  }
}

/** A worker and what runs in it; the worker is (re)started on demand. */
class WorkerSlot {
  private worker: Worker | null = null;
  readonly documents = new Map<number, WorkerDocument>();
  readonly sources = new Set<string>();
  /** A large poll failed here: replace the worker as soon as no poll is in flight. */
  private recycleWanted = false;
  /** Workers ended to give their memory back (see RECYCLE_AFTER_BYTES). */
  recycled = 0;

  constructor(private readonly file: string, private readonly recycleAfterBytes: number) {}

  recycleIfLarge(bytes: number): void {
    if (bytes >= this.recycleAfterBytes && this.worker !== null) this.recycleWanted = true;
  }

  post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.start().postMessage(message, transfer);
  }

  /** A poll in flight keeps the process alive until its worker answers; an idle worker does not. */
  add(document: WorkerDocument): void {
    this.documents.set(document.id, document);
    this.worker?.ref();
  }

  remove(id: number): void {
    this.documents.delete(id);
    if (this.documents.size > 0) return;
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

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    // A worker inherits the port thread's nice value (util/thread-priority): it sets the base one itself.
    const worker = new Worker(this.file, {
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: { baseNice: processBaseNice() } satisfies ParseWorkerData,
    });
    if (this.documents.size === 0) worker.unref();
    worker.on('message', (message: FromWorker) => this.documents.get(message.id)?.receive(message));
    const died = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const doc of [...this.documents.values()]) doc.failWith(new DocumentError(`parse worker ${why}`, false));
    };
    worker.on('error', (err) => died(`failed: ${err.message}`));
    worker.on('exit', (code) => died(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    for (const doc of [...this.documents.values()]) doc.failWith(new DocumentError('parse worker stopped', false));
    if (worker) await worker.terminate();
  }
}

export interface PoolSourceOptions {
  readonly source: string;
  readonly settings: SourceSettings;
  readonly stats?: DaemonStats;
}

export class ParsePool {
  private readonly slots: WorkerSlot[];
  private readonly assigned = new Map<string, WorkerSlot>();
  private nextId = 1;

  constructor(size = os.availableParallelism(), file = WORKER_FILE, recycleAfterBytes = RECYCLE_AFTER_BYTES) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => new WorkerSlot(file, recycleAfterBytes));
  }

  /** Workers ended so far to give back a hostile poll's memory. */
  get recycledWorkers(): number {
    return this.slots.reduce((n, s) => n + s.recycled, 0);
  }

  /** The DocumentParserFactory of one source: every poll of it parses in the same worker. */
  factory(options: PoolSourceOptions): DocumentParserFactory {
    return (pollTime: number): DocumentParser => {
      const slot = this.slotOf(options.source);
      const id = this.nextId++;
      const document = new WorkerDocument(slot, id, options.stats);
      slot.add(document);
      slot.post({ type: 'begin', id, source: options.source, pollTime, settings: options.settings });
      return document;
    };
  }

  /** The source is gone: its worker may drop its interner. */
  forget(source: string): void {
    const slot = this.assigned.get(source);
    if (slot === undefined) return;
    this.assigned.delete(source);
    slot.sources.delete(source);
    slot.post({ type: 'forget', source });
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
