/**
 * The in-process RRD updates, run in a thread of their own (update-worker.ts) so that the
 * port thread only decides what to write. The updates are synchronous file I/O: at a
 * million metrics they took most of a core, on the thread that also serves both ports, at
 * its raised priority (BENCHMARKS.md, "With RRDs on"). Here they use another core, at the
 * process's base priority, while the port thread goes on serving.
 *
 * The writer names each file once by an id (allocate); the worker keeps the file's
 * NativeRrdFile under that id, so an update carries a number, a time and a value text
 * instead of a path to look up in a map of every file. Updates are gathered into batches
 * (one message per BATCH_ITEMS or per event-loop turn), applied in order, and answered with
 * the count written and the updates that were not: those go back to the writer with their
 * owner (its file state), which handles them as it handled the synchronous updater's
 * outcomes (rrdtool for a file the updater does not understand, create a missing file again,
 * count a stale or refused value).
 *
 * If the worker dies, every update it had not answered comes back as 'unsupported' (the
 * writer sends those files through rrdtool from then on, so nothing is lost and no loop of
 * restarts can follow), and a new worker starts for the other files.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SILENT_LOGGER, type StructuredLogger } from '../../../util/logging';
import type { RrdUpdateErrorKind } from './rrd-update';

/** One item of a batch. */
export const enum UpdateOp {
  /** Names file `id`: `texts[i]` is its byte-string path. */
  Define = 0,
  /** One update: `times[i]`, and `texts[i]` the values after `time:` (`3.50`, `U`, `SUM:NUM`). */
  Update = 1,
  /** Several updates: `texts[i]` is rrdtool's `time:v[:v]` arguments, joined by spaces. */
  UpdateArguments = 2,
  /** Forgets file `id` (the id may be named again afterwards). */
  Forget = 3,
}

export interface UpdateBatch {
  readonly type: 'batch';
  readonly seq: number;
  readonly ops: Uint8Array;
  readonly ids: Int32Array;
  readonly times: Float64Array;
  readonly texts: string[];
}

export type ToUpdateWorker = UpdateBatch | { readonly type: 'close' };

/** What was not written: the item's index in its batch, why, and rrdtool's words for it. */
export type UpdateProblemKind = RrdUpdateErrorKind | 'unsupported';

export type FromUpdateWorker =
  | { readonly type: 'done'; readonly seq: number; readonly updated: number; readonly problems: readonly (readonly [number, UpdateProblemKind, string])[] }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly fields: object; readonly msg: string };

export interface UpdateWorkerData {
  /** The process's nice value: the worker leaves the port thread's raised one. */
  readonly baseNice: number;
}

/** What the thread asks of the writer about the files it updates (Owner: the writer's state of a file). */
export interface UpdateOwners<Owner> {
  /** The file's byte-string path (see rrd-paths): asked once per file per worker. */
  pathOf(owner: Owner): string;
  /** `count` updates were written. */
  updated(count: number): void;
  /** One update (or one group of `time:...` arguments, `args`) was not written. */
  notWritten(owner: Owner, kind: UpdateProblemKind, message: string, args: string[]): void;
}

export interface NativeUpdateThreadOptions<Owner> {
  readonly owners: UpdateOwners<Owner>;
  readonly baseNice: number;
  readonly logger?: StructuredLogger;
  /** The worker's script (default update-worker.js beside this file). */
  readonly file?: string;
}

/** The name the update worker gives its thread (`top -H`, the benchmarks). */
export const UPDATE_THREAD_NAME = 'gmetad-rrd';

/** Items per message: large enough that posting costs little, small enough to answer often. */
export const BATCH_ITEMS = 4096;

const WORKER_FILE = path.join(__dirname, 'update-worker.js');

/**
 * The worker's young generation, MiB (V8 sizes it as 3 semi-spaces), whatever bin/gmetad's
 * process-wide --max-semi-space-size=1. With that 1 MiB the values of a batch outlived two
 * scavenges and were promoted: at a million files the thread used 13.8 CPU s per 15 s and
 * the daemon 709 MiB; with 12, 10.9 s and 664 MiB (BENCHMARKS.md). The parse workers use the
 * same size.
 */
const WORKER_YOUNG_GENERATION_MB = 12;

/** A batch being filled on the port thread. */
class OpenBatch<Owner> {
  readonly ops: number[] = [];
  readonly ids: number[] = [];
  readonly times: number[] = [];
  readonly texts: string[] = [];
  /** The owner of each update item (undefined for defines and forgets). */
  readonly owners: (Owner | undefined)[] = [];
  updates = 0;

  push(op: UpdateOp, id: number, time: number, text: string, owner: Owner | undefined): void {
    this.ops.push(op);
    this.ids.push(id);
    this.times.push(time);
    this.texts.push(text);
    this.owners.push(owner);
    if (owner !== undefined) this.updates += 1;
  }

  get length(): number {
    return this.ops.length;
  }
}

/** A batch posted and not yet answered. */
interface SentBatch<Owner> {
  readonly batch: OpenBatch<Owner>;
  readonly sentAt: number;
}

export class NativeUpdateThread<Owner> {
  private readonly owners: UpdateOwners<Owner>;
  private readonly baseNice: number;
  private readonly logger: StructuredLogger;
  private readonly file: string;
  private worker: Worker | null = null;
  private open = new OpenBatch<Owner>();
  private postScheduled = false;
  private readonly sent = new Map<number, SentBatch<Owner>>();
  private seq = 0;
  /** Updates batched or sent and not yet answered. */
  private inFlight = 0;
  private readonly waiters: { readonly below: number; readonly wake: () => void }[] = [];
  /** Whether the current worker has been told each id's path (cleared when a worker dies). */
  private defined = new Uint8Array(1024);
  private readonly freeIds: number[] = [];
  private nextId = 0;
  private closed = false;

  constructor(options: NativeUpdateThreadOptions<Owner>) {
    this.owners = options.owners;
    this.baseNice = options.baseNice;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.file = options.file ?? WORKER_FILE;
  }

  /** A new file id; its path goes to the worker with its first update. */
  allocate(): number {
    const id = this.freeIds.pop() ?? this.nextId++;
    if (id >= this.defined.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.defined.length * 2));
      grown.set(this.defined);
      this.defined = grown;
    }
    return id;
  }

  /** One update of file `id`, whose state is `owner`: `text` is what follows `time:`. */
  update(id: number, owner: Owner, time: number, text: string): void {
    this.define(id, owner);
    this.push(UpdateOp.Update, id, time, text, owner);
  }

  /** Several updates of file `id`, as rrdtool's `time:v[:v]` arguments, in order. */
  updateArguments(id: number, owner: Owner, args: readonly string[]): void {
    this.define(id, owner);
    this.push(UpdateOp.UpdateArguments, id, 0, args.join(' '), owner);
  }

  /** The file left the tree: the worker forgets it after the updates before, and the id is free again. */
  forget(id: number): void {
    this.undefine(id);
    this.freeIds.push(id);
  }

  /** Updates handed over and not yet answered. */
  get pending(): number {
    return this.inFlight;
  }

  /** performance.now() when the oldest unanswered batch was posted (null: none). */
  get oldestSubmittedAt(): number | null {
    for (const sent of this.sent.values()) return sent.sentAt; // a Map iterates in insertion order
    return this.open.updates > 0 ? performance.now() : null;
  }

  /** Resolves once fewer than `count` updates are unanswered. */
  whenPendingBelow(count: number): Promise<void> {
    if (this.inFlight < count) return Promise.resolve();
    this.post();
    return new Promise((wake) => this.waiters.push({ below: count, wake }));
  }

  /** Posts what is batched and resolves once every update has been answered. */
  flush(): Promise<void> {
    return this.whenPendingBelow(1);
  }

  /** flush(), then ends the worker (it closes the descriptors it kept). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref(); // its exit is awaited
    worker.postMessage({ type: 'close' } satisfies ToUpdateWorker);
    await exited;
  }

  private undefine(id: number): void {
    if (this.defined[id] !== 1) return;
    this.defined[id] = 0;
    this.push(UpdateOp.Forget, id, 0, '', undefined);
  }

  private define(id: number, owner: Owner): void {
    if (this.defined[id] === 1) return;
    this.defined[id] = 1;
    this.push(UpdateOp.Define, id, 0, this.owners.pathOf(owner), undefined);
  }

  private push(op: UpdateOp, id: number, time: number, text: string, owner: Owner | undefined): void {
    if (this.closed) throw new Error('the RRD update thread is closed');
    this.open.push(op, id, time, text, owner);
    if (owner !== undefined) this.inFlight += 1;
    if (this.open.length >= BATCH_ITEMS) this.post();
    else if (!this.postScheduled) {
      this.postScheduled = true;
      setImmediate(() => this.post());
    }
  }

  /** Sends the open batch to the worker. */
  private post(): void {
    this.postScheduled = false;
    const batch = this.open;
    if (batch.length === 0) return;
    this.open = new OpenBatch<Owner>();
    const seq = ++this.seq;
    this.sent.set(seq, { batch, sentAt: performance.now() });
    const worker = this.start();
    worker.ref(); // answers are awaited: keep the process up until they come
    // Copies of the batch's columns, moved to the worker; the batch keeps its own for the answer.
    const ops = Uint8Array.from(batch.ops);
    const ids = Int32Array.from(batch.ids);
    const times = Float64Array.from(batch.times);
    const message: UpdateBatch = { type: 'batch', seq, ops, ids, times, texts: batch.texts };
    worker.postMessage(message, [ops.buffer, ids.buffer, times.buffer]);
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = new Worker(this.file, {
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: { baseNice: this.baseNice } satisfies UpdateWorkerData,
    });
    worker.on('message', (message: FromUpdateWorker) => this.receive(message));
    const died = (why: string, err?: Error): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.lostWorker(why, err);
    };
    worker.on('error', (err) => died('failed', err));
    worker.on('exit', (code) => died(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private receive(message: FromUpdateWorker): void {
    if (message.type === 'log') {
      this.logger[message.level](message.fields, message.msg);
      return;
    }
    const sent = this.sent.get(message.seq);
    if (sent === undefined) return;
    this.sent.delete(message.seq);
    this.answer(sent.batch, message.updated, message.problems);
    if (this.sent.size === 0 && this.open.length === 0) this.worker?.unref();
  }

  private answer(batch: OpenBatch<Owner>, updated: number, problems: readonly (readonly [number, UpdateProblemKind, string])[]): void {
    this.inFlight -= batch.updates;
    if (updated > 0) this.owners.updated(updated);
    for (const [index, kind, message] of problems) {
      const owner = batch.owners[index];
      if (owner === undefined) continue;
      const args = batch.ops[index] === UpdateOp.Update ? [`${batch.times[index]}:${batch.texts[index]}`] : batch.texts[index]!.split(' ');
      this.owners.notWritten(owner, kind, message, args);
    }
    this.wakeWaiters();
  }

  /** The worker died: what it had not answered goes back as 'unsupported'; a new worker names every file again. */
  private lostWorker(why: string, err?: Error): void {
    this.logger.error({ ...(err ? { err } : {}), batches: this.sent.size }, `rrd: the update thread ${why}; its unanswered updates go through rrdtool`);
    this.defined.fill(0);
    const lost = [...this.sent.values()];
    this.sent.clear();
    for (const { batch } of lost) {
      const problems: [number, UpdateProblemKind, string][] = [];
      for (let i = 0; i < batch.length; i++) {
        if (batch.owners[i] !== undefined) problems.push([i, 'unsupported', `the update thread ${why}`]);
      }
      this.answer(batch, 0, problems);
    }
    // The batch not yet sent goes to the next worker, which is told each file's path again.
    // Its forgets stay: an id forgotten and given to another file within it is named anew.
    const open = this.open;
    this.open = new OpenBatch<Owner>();
    for (let i = 0; i < open.length; i++) {
      const op = open.ops[i] as UpdateOp;
      const owner = open.owners[i];
      if (op === UpdateOp.Forget) this.undefine(open.ids[i]!);
      if (owner === undefined) continue;
      this.inFlight -= 1;
      if (op === UpdateOp.Update) this.update(open.ids[i]!, owner, open.times[i]!, open.texts[i]!);
      else this.updateArguments(open.ids[i]!, owner, open.texts[i]!.split(' '));
    }
  }

  private wakeWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (this.inFlight < waiter.below) {
        this.waiters.splice(i, 1);
        waiter.wake();
      }
    }
  }
}
