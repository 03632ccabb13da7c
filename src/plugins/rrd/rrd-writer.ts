/**
 * Writes polled data to RRD files the way the C gmetad 3.7.2 does (see rrd-paths and
 * rrd-definitions for the layout and the file definitions): in-process, in the RRD update
 * thread (native/update-thread), with a pool of `rrdtool -` processes for what that does not
 * understand, or through rrdcached. The writer itself runs on the port thread and decides
 * what each file gets.
 *
 * What is written, per fresh poll of a data source (writeSnapshot):
 * - each local CLUSTER: every numeric metric of every host that is up (a metric whose
 *   DMAX expired is skipped, as in the C gmetad), then the cluster's summary;
 * - each remote GRID: only its summary (grids are always held in summary form; with
 *   `scalable off` their clusters arrive flattened, as local clusters);
 * and periodically the root summary (writeRootSummary).
 *
 * Freshness: every value is handed to rrdtool/rrdcached as soon as it is polled, as the C
 * gmetad writes it. A value whose timestamp is not newer than the last one written to that
 * file (a source whose LOCALTIME did not move) is skipped: rrdtool would refuse it anyway.
 *
 * Files: a file is created (mkdir -p, then in-process with the bytes `rrdtool create` writes,
 * or `rrdtool create` for definitions native/rrd-create does not understand) the first time it
 * is seen, unless it exists. Creates run from a queue, a bounded number at a time, so a first poll that brings
 * 100k new hosts neither starts 10M file-system chains at once nor blocks the event loop;
 * values polled meanwhile wait (a few per file) and go out once the file exists. rrdtool
 * answers OK to a create it could not do (a full file system): the file's existence is
 * checked after each create, and a create that left no file is retried at the next write.
 * A file or directory deleted while we run (an operator resetting a metric, a purge
 * script) is created again as soon as an update finds it missing, with that update's
 * values; rrdtool opens files by path at each update, so a file another program replaced
 * is simply used as it now is.
 *
 * Memory follows the tree: state is kept per file of what the last poll of each source
 * listed (hosts that are down stay); files of hosts and metrics that left the tree, and
 * of sources that are gone, are forgotten after the poll that no longer lists them.
 *
 * The event loop: a snapshot is walked in slices of a few milliseconds, and the walk waits
 * while the update thread or the rrdtool processes have many updates unanswered (instead of
 * queueing without bound), so polls and requests stay on time whatever the size of the tree.
 *
 * Write-behind (opt-in, rrdtool backend only): an `rrdtool update` through the pipe costs
 * ~35 µs of rrdtool CPU whatever the number of values it carries (~1 µs each), so with
 * `writeBehindSeconds` > 0 values are gathered per file and written that many seconds worth
 * at a time (one command, several `ts:value`s), at staggered points. Graphs then lag by up
 * to that long. flush() and close() write everything out. With rrdcached, it does this
 * caching itself.
 */
import { mkdirSync, promises as fs, type Stats, statSync } from 'node:fs';
import type { Cluster, Grid, Metric, SourceSnapshot, Summary } from '../../store/model';
import { NUMERIC_TYPES } from '../../store/model';
import { type Clock, systemClock } from '../../util/clock';
import { isExpired } from '../../store/lifetime';
import { ShardedMap } from '../../util/sharded-map';
import type { DaemonStats } from '../../util/stats';
import { dirChangedSince, watchedDir, type WatchedDir } from './dir-watch';
import { Fifo } from './fifo';
import { NativeUpdateThread, type UpdateProblemKind } from './native/update-thread';
import { processBaseNice } from '../../util/thread-priority';
import { SILENT_LOGGER, type StructuredLogger } from '../../util/logging';
import { createImage, parseCreateArguments, writeNewRrdFileSync, type CreateDefinition } from './native/rrd-create';
import { PendingValues } from './pending-values';
import {
  createArguments, DEFAULT_RRAS, rootSummaryValues, rrdValue, summaryValues, valueForSlope,
} from './rrd-definitions';
import { fsPathOf, RrdPaths, safePathElement, toPathBytes } from './rrd-paths';
import { escapeRrdcachedField, RrdcachedClient } from './rrdcached-client';
import { quoteRrdtoolArgument, RrdtoolPool } from './rrdtool-pool';

export type RrdBackend = 'rrdtool' | 'rrdcached';

export interface RrdWriterOptions {
  readonly rootDir: string;
  /** `RRAs` from gmetad.conf; empty means the C defaults. */
  readonly rras: readonly string[];
  readonly caseSensitiveHostnames: boolean;
  /** The configured umask: directories get 0755 & ~umask, rrdtool runs with it. */
  readonly umask?: number | null;
  readonly backend: RrdBackend;
  /** Required with the rrdcached backend (see resolveRrdcachedAddress). */
  readonly rrdcachedAddress?: string;
  readonly logger?: StructuredLogger;
  readonly stats: DaemonStats;
  /** The wall clock (write-behind windows, counters); default the system's. */
  readonly clock?: Clock;
  /** Step of the root summary files when writeRootSummary() gets none (default 15). */
  readonly rootStep?: number;
  /** rrdtool backend: seconds of values gathered per file per update (default 0: each value at once). */
  readonly writeBehindSeconds?: number;
  /** Number of `rrdtool -` processes (default 2). */
  readonly rrdtoolProcesses?: number;
  /**
   * rrdtool backend: update files in-process (native/, byte-identical to rrdtool update),
   * with the rrdtool processes for creates and for files the updater does not understand
   * (default true; false sends every update through rrdtool).
   */
  readonly nativeUpdates?: boolean;
  /**
   * Create files in-process (native/rrd-create, the bytes `rrdtool create` writes) when
   * their definition is one it fully understands; the rest goes to `rrdtool create`
   * (default: nativeUpdates).
   */
  readonly nativeCreates?: boolean;
  readonly rrdtoolPath?: string;
  /** Bound of the rrdtool and rrdcached queues (commands). */
  readonly maxQueued?: number;
  /** Cap of the rrdcached reconnect backoff, ms (default 30000). */
  readonly rrdcachedBackoffMaxMs?: number;
  /** Creates running at once (default 32). */
  readonly maxCreatesInFlight?: number;
  /**
   * Longest stretch of synchronous work per slice of a snapshot walk, ms (default 4, the
   * servers' turn budget; 0: yield every few hosts). 8 until the updates moved to their own
   * thread: at a million metrics 4 ms slices then answered /status at p99 20.8 ms against
   * 38.8 (BENCHMARKS.md), with no more CPU.
   */
  readonly sliceMs?: number;
}

/** What the writer did, for logs and /status. */
export interface RrdWriterCounters {
  /** Values accepted for writing. */
  values: number;
  /** Values skipped because their timestamp was not newer than the file's last one. */
  stale: number;
  /** Host values rrdtool could not parse (not numbers). */
  invalid: number;
  /** Files created. */
  created: number;
  /** Of those, created in-process (the rest by rrdtool create). */
  nativeCreates: number;
  /** Files created again because they had vanished (deleted while we ran). */
  recreated: number;
  /** Updates written in-process (the rest went through rrdtool or rrdcached). */
  nativeUpdates: number;
  /** Files handed to rrdtool because the native updater does not understand them. */
  handedToRrdtool: number;
  /** rrdcached backend: stat calls made to find deleted files (directories and files). */
  presenceChecks: number;
  /** Failed creates and updates (as reported by rrdtool/rrdcached, or I/O errors). */
  errors: number;
  /** Values lost: queues full, or files that could not be created. */
  dropped: number;
}

/** Where a file stands: not known to exist, being created (or waiting to be), or ready for updates. */
const enum Status { New, Creating, Ready }

/** One directory of files: a host's, a cluster's or grid's __SummaryInfo__, or the root's. */
interface DirState {
  /** Byte-string path (see rrd-paths). */
  readonly path: string;
  /** The path quoted for rrdtool's pipe mode (quoted runs concatenate into one argument). */
  readonly quoted: string;
  /** Which rrdtool process its files' commands go to (a file's commands stay in order). */
  readonly shard: number;
  /** Summary files have a second DS, `num`. */
  readonly summary: boolean;
  readonly files: Map<string, FileState>;
  /** Generation of the last walk that listed it (see SourceFiles). */
  seen: number;
  /** mkdir -p done (reset when a file in it turns out missing). */
  made: boolean;
  /** rrdcached backend: what the directory looked like at its last check (see missingBeforeUpdate). */
  watch: WatchedDir | null;
  /** rrdcached backend: the path escaped for its protocol (escapeRrdcachedField), made once. */
  escaped: string | null;
}

interface FileState {
  readonly dir: DirState;
  /** The metric name as a path element (usually the name itself). */
  readonly element: string;
  status: Status;
  /** Timestamp of the newest value accepted. */
  lastTs: number;
  /** Generation of the last walk that listed it. */
  seen: number;
  /** For (re)creating the file. */
  step: number;
  slope: string;
  /**
   * Values (`ts:...`, oldest first) not yet handed over: while the file is being created,
   * and for summary files with write-behind. null when none (most of the time).
   */
  waiting: string[] | null;
  /** performance.now() when the oldest waiting value arrived (lag). */
  waitingSince: number;
  /** Write-behind host files: their range in PendingValues; -1 otherwise. */
  slot: number;
  /** Write-behind: number of pending values that triggers a write. */
  threshold: number;
  /** Write-behind: epoch ms when the oldest pending value arrived. */
  pendingSince: number;
  /** No longer in the tree: forget it once it has nothing left to write. */
  released: boolean;
  /** The native updater handed this file back: its updates go through rrdtool. */
  viaRrdtool: boolean;
  /** The file's id in the RRD update thread, once written in-process; -1 otherwise. */
  nativeId: number;
  /** rrdcached backend: dir.watch.seq when this file was last known to exist. */
  watchSeq: number;
}

/** The files of one data source, by the directories its last poll listed. */
interface SourceFiles {
  /** Sharded: one Map of 100k hosts' directories would hold the event loop each time it grows. */
  readonly dirs: ShardedMap<DirState>;
  /** Incremented per walk; states not marked with the current one are gone from the tree. */
  generation: number;
}

/**
 * The most values one write-behind rrdtool update carries; with step 15 and a write_behind
 * of 120 s that is the usual 8. Each host file has room for two more (staggered first
 * writes, values arriving while the file is created).
 */
const MAX_VALUES_PER_UPDATE = 8;
/** Values kept per file while it is being created; more are dropped (counted). */
const MAX_WAITING = 16;
/** The walk of a snapshot waits while this many rrdtool commands are queued... */
const QUEUE_HIGH_WATER = 20_000;
/** ...until they are down to this many. */
const QUEUE_LOW_WATER = 5_000;

/** Logs at most `limit` messages per minute for one kind of problem, then a count. */
class RateLimitedWarning {
  private windowStart = 0;
  private count = 0;
  private suppressed = 0;

  constructor(private readonly logger: StructuredLogger, private readonly clock: Clock, private readonly limit = 10) {}

  warn(obj: object, msg: string): void {
    const now = this.clock();
    if (now - this.windowStart > 60_000) {
      if (this.suppressed > 0) this.logger.warn({ suppressed: this.suppressed }, 'rrd: similar messages suppressed');
      this.windowStart = now;
      this.count = 0;
      this.suppressed = 0;
    }
    if (this.count < this.limit) {
      this.count += 1;
      this.logger.warn(obj, msg);
    } else {
      this.suppressed += 1;
    }
  }
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function isStaleUpdateError(message: string): boolean {
  return message.includes('illegal attempt to update');
}

/** rrdtool's update error for a file (or directory) that does not exist. */
function isMissingFileError(message: string): boolean {
  return message.includes('No such file or directory');
}

/** The timestamp of a `ts:...` update argument. */
function updateTime(update: string): number {
  return Number.parseInt(update, 10);
}

/** flush() rounds at most (see flush). */
const FLUSH_ROUNDS = 5;

/** The earlier of two performance.now() readings, either absent. */
function oldest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RrdWriter {
  readonly counters: RrdWriterCounters = {
    values: 0, stale: 0, invalid: 0, created: 0, nativeCreates: 0, recreated: 0, nativeUpdates: 0, handedToRrdtool: 0, presenceChecks: 0, errors: 0, dropped: 0,
  };
  readonly backend: RrdBackend;
  private readonly paths: RrdPaths;
  private readonly rras: readonly string[];
  private readonly dirMode: number;
  private readonly rootStep: number;
  private readonly writeBehindMs: number;
  private readonly logger: StructuredLogger;
  private readonly stats: DaemonStats;
  private readonly clock: Clock;
  private readonly pool: RrdtoolPool;
  private readonly cached: RrdcachedClient | null;
  /** In-process updates, in a thread of their own (null: every update goes through rrdtool or rrdcached). */
  private readonly native: NativeUpdateThread<FileState> | null;
  /** In-process creates: definitions by everything but their start (null: rrdtool create it). */
  private readonly nativeCreateDefinitions: Map<string, CreateDefinition | null> | null;
  /** Mode of created files (rrdtool's 0666 & ~umask); null: the process umask applies. */
  private readonly fileMode: number | null;
  /** Files the writer keeps state for (kept as a count: /status asks often). */
  private fileCount = 0;
  private readonly sources = new Map<string, SourceFiles>();
  /** The root __SummaryInfo__ (written by writeRootSummary, not by a source). */
  private readonly rootFiles: SourceFiles = { dirs: new ShardedMap(), generation: 0 };
  /** Files waiting for their create to start, oldest first. */
  private readonly createQueue = new Fifo<FileState>();
  private readonly maxCreatesInFlight: number;
  private createsInFlight = 0;
  private readonly createWaiters: (() => void)[] = [];
  /**
   * In-process creates that did not fit in the slice that asked for them, oldest first:
   * made in slices of their own (drainNativeCreates), between other work.
   */
  private readonly nativeCreateQueue = new Fifo<FileState>();
  private nativeDrainScheduled = false;
  private readonly nativeQueueWaiters: (() => void)[] = [];
  /** performance.now() when the current slice of synchronous work began (walk or drain). */
  private sliceStartedAt = 0;
  /** The longest slice of synchronous work so far, ms (/status: what the writer holds the event loop for). */
  private longestSliceMs = 0;
  /** Write-behind: files holding values not yet written. */
  private readonly dirty = new Set<FileState>();
  private readonly hostValues: PendingValues | null;
  private readonly sweepTimer: NodeJS.Timeout | null;
  private readonly problems: RateLimitedWarning;
  private readonly sliceMs: number;
  /** The walk in progress: walks run one after the other, in the order they were asked for. */
  private walking: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: RrdWriterOptions) {
    this.backend = options.backend;
    this.paths = new RrdPaths({ rootDir: options.rootDir, caseSensitiveHostnames: options.caseSensitiveHostnames });
    this.rras = options.rras.length > 0 ? options.rras : DEFAULT_RRAS;
    const umask = options.umask ?? null;
    this.dirMode = 0o755 & ~(umask ?? 0);
    this.rootStep = options.rootStep ?? 15;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.stats = options.stats;
    this.clock = options.clock ?? systemClock;
    this.problems = new RateLimitedWarning(this.logger, this.clock);
    this.maxCreatesInFlight = Math.max(1, options.maxCreatesInFlight ?? 32);
    this.sliceMs = Math.max(0, options.sliceMs ?? 4);
    this.pool = new RrdtoolPool({
      size: options.rrdtoolProcesses ?? 2,
      rrdtoolPath: options.rrdtoolPath,
      umask,
      maxQueued: options.maxQueued,
      logger: this.logger,
    });
    if (options.backend === 'rrdcached') {
      if (!options.rrdcachedAddress) throw new RangeError('the rrdcached backend needs rrdcachedAddress');
      this.cached = new RrdcachedClient({
        address: options.rrdcachedAddress,
        maxQueued: options.maxQueued,
        backoffMaxMs: options.rrdcachedBackoffMaxMs,
        logger: this.logger,
      });
      this.writeBehindMs = 0;
    } else {
      this.cached = null;
      this.writeBehindMs = Math.max(0, options.writeBehindSeconds ?? 0) * 1000;
    }
    this.native = this.cached === null && (options.nativeUpdates ?? true)
      ? new NativeUpdateThread<FileState>({
        logger: this.logger,
        baseNice: processBaseNice(),
        owners: {
          pathOf: (state) => `${state.dir.path}/${state.element}.rrd`,
          updated: (count) => { this.counters.nativeUpdates += count; },
          notWritten: (state, kind, message, args) => this.onNativeNotWritten(state, kind, message, args),
        },
      })
      : null;
    this.nativeCreateDefinitions = (options.nativeCreates ?? options.nativeUpdates ?? true) ? new Map() : null;
    this.fileMode = umask === null ? null : 0o666 & ~umask;
    if (this.writeBehindMs > 0) {
      this.hostValues = new PendingValues(MAX_VALUES_PER_UPDATE + 2);
      this.sweepTimer = setInterval(() => this.sweep(), Math.min(5000, Math.max(250, this.writeBehindMs / 4)));
      this.sweepTimer.unref();
    } else {
      this.hostValues = null;
      this.sweepTimer = null;
    }
  }

  /**
   * Writes the RRD updates of one fresh poll; `step` is the data_source's step. Resolves
   * when every value has been handed to rrdtool/rrdcached or to the create queue (not when
   * it is on disk: see flush()).
   */
  writeSnapshot(snapshot: SourceSnapshot, step: number): Promise<void> {
    const walk = this.walking.then(() => this.walkSnapshot(snapshot, step));
    this.walking = walk.catch(() => undefined);
    return walk;
  }

  /** Writes the root summary (`<root>/__SummaryInfo__`), timestamped `now` (epoch seconds). */
  writeRootSummary(summary: Summary, now: number, step: number): Promise<void> {
    const walk = this.walking.then(() => {
      if (this.closed) return;
      const started = performance.now();
      const ts = Math.floor(now);
      const files = this.rootFiles;
      files.generation += 1;
      const dir = this.dirFor(files, 'root', () => this.paths.rootSummaryDir(), true);
      dir.seen = files.generation;
      const rootStep = step > 0 ? step : this.rootStep;
      let written = 0;
      for (const metric of summary.metrics.values()) {
        if (this.record(dir, metric.name, ts, rootSummaryValues(metric), rootStep, metric.slope)) written += 1;
      }
      this.forgetUnseenFiles(dir, files.generation, summary.metrics.size);
      this.countSent(written, performance.now() - started);
    });
    this.walking = walk.catch(() => undefined);
    return walk;
  }

  /** Forgets the files of data sources that are no longer configured (after a reload). */
  retainSources(names: ReadonlySet<string>): void {
    for (const [name, files] of this.sources) {
      if (names.has(name)) continue;
      for (const dir of files.dirs.values()) this.releaseDir(dir);
      this.sources.delete(name);
    }
  }

  /** Writes out everything enqueued so far (write-behind included) and waits for it. */
  async flush(): Promise<void> {
    // An answer can queue more: a file found missing is created again, then written. A few
    // rounds settle that; a file that vanishes at every write is not waited for without end.
    for (let round = 0; round < FLUSH_ROUNDS; round++) {
      await this.walking;
      while (this.createsPending()) {
        await new Promise<void>((resolve) => this.createWaiters.push(resolve));
      }
      for (const state of [...this.dirty]) this.writePending(state);
      if (this.native !== null) await this.native.flush();
      await this.pool.flush();
      if (this.cached) await this.cached.flush();
      if (!this.createsPending() && (this.native?.pending ?? 0) === 0) return;
    }
  }

  /** flush(), then ends the rrdtool processes and the rrdcached connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.pool.close();
    if (this.cached) await this.cached.close();
    if (this.native !== null) await this.native.close();
  }

  /** Process ids of the writer's rrdtool processes (for monitoring and benchmarks). */
  get rrdtoolPids(): number[] {
    return this.pool.pids;
  }

  /** Files the writer keeps state for (what the tree holds now, plus files still being written). */
  get trackedFiles(): number {
    return this.fileCount;
  }

  /** Creates running now (at most maxCreatesInFlight). */
  get createsRunning(): number {
    return this.createsInFlight;
  }

  /** Directories the writer keeps state for. */
  get trackedDirs(): number {
    let n = this.rootFiles.dirs.size;
    for (const files of this.sources.values()) n += files.dirs.size;
    return n;
  }

  /**
   * Seconds since the oldest value not yet confirmed written was polled: 0 when everything
   * handed to the writer is in the files (or in rrdcached, which then owns it).
   */
  lagSeconds(): number {
    const submitted = this.cached ? this.cached.oldestQueuedAt : oldest(this.pool.oldestSubmittedAt, this.native?.oldestSubmittedAt ?? null);
    const now = performance.now();
    let lagMs = submitted === null ? 0 : now - submitted;
    const creating = this.createQueue.peek();
    if (creating && creating.waitingSince > 0) lagMs = Math.max(lagMs, now - creating.waitingSince);
    if (this.dirty.size > 0) {
      const wall = this.clock();
      for (const state of this.dirty) {
        if (state.pendingSince > 0) lagMs = Math.max(lagMs, wall - state.pendingSince);
      }
    }
    return Math.max(0, lagMs) / 1000;
  }

  /**
   * The writer's counters for /status (plugins.rrd): values, created, errors, dropped,
   * lagSeconds..., and the rrdcached client's as rrdcached_*.
   */
  status(): Record<string, number | string> {
    const status: Record<string, number | string> = {
      backend: this.backend,
      ...this.counters,
      lagSeconds: Math.round(this.lagSeconds() * 1000) / 1000,
      queued: this.queuedUpdates(),
      creating: this.createQueue.length + this.createsInFlight + this.nativeCreateQueue.length,
      files: this.trackedFiles,
      longestSliceMs: Math.round(this.longestSliceMs * 1000) / 1000,
      native: this.native !== null ? 1 : 0,
    };
    if (this.cached) {
      for (const [key, value] of Object.entries(this.cached.counters)) status[`rrdcached_${key}`] = value;
      status.rrdcached_queued = this.cached.pending;
      status.rrdcached_connected = this.cached.isConnected ? 1 : 0;
    }
    return status;
  }

  /** rrdcached connection counters (null with the rrdtool backend). */
  get rrdcachedCounters(): RrdcachedClient['counters'] | null {
    return this.cached ? this.cached.counters : null;
  }

  private countSent(written: number, millis: number): void {
    if (written === 0) return;
    const counter = this.stats.sent(this.backend);
    counter.num += written;
    counter.totalMillis += millis;
    counter.lastTime = this.clock();
  }

  // ---- walking a snapshot -------------------------------------------------------------

  private async walkSnapshot(snapshot: SourceSnapshot, step: number): Promise<void> {
    if (this.closed) return;
    let files = this.sources.get(snapshot.source);
    if (files === undefined) {
      files = { dirs: new ShardedMap(), generation: 0 };
      this.sources.set(snapshot.source, files);
    }
    const generation = ++files.generation;
    let sliceStart = performance.now();
    this.sliceStartedAt = sliceStart;
    let busy = 0;
    let written = 0;
    let listedDirs = 0;
    /** Ends the slice when it has run long enough, or waits while rrdtool/rrdcached is far behind. */
    const pause = async (): Promise<void> => {
      const now = performance.now();
      const behind = this.queuedUpdates() >= QUEUE_HIGH_WATER;
      const creating = this.nativeCreateQueue.length >= QUEUE_HIGH_WATER;
      if (now - sliceStart < this.sliceMs && !behind && !creating) return;
      busy += now - sliceStart;
      this.longestSliceMs = Math.max(this.longestSliceMs, now - sliceStart);
      if (behind) await this.whenQueuedBelow(QUEUE_LOW_WATER);
      else if (creating) await this.whenNativeCreatesBelow(QUEUE_LOW_WATER);
      else await yieldToLoop();
      sliceStart = performance.now();
      this.sliceStartedAt = sliceStart;
    };
    for (const node of snapshot.nodes) {
      if (this.closed) return;
      const ts = node.localtime > 0 ? node.localtime : Math.floor(snapshot.polledAt);
      if (node.kind === 'cluster') {
        let hostsInSlice = 0;
        for (const host of node.hosts.values()) {
          const dir = this.dirFor(files, `h\u0000${node.name}\u0000${host.name}`, () => this.hostDir(node, host.name), false);
          dir.seen = generation;
          listedDirs += 1;
          // A host that is down keeps its files' state but gets no values (as in the C gmetad).
          if (host.up) written += this.writeHost(dir, host.metrics.values(), snapshot.polledAt, ts, step, generation);
          // In-process updates are synchronous: look at the clock after every host.
          if (++hostsInSlice >= 16 || performance.now() - sliceStart >= this.sliceMs) {
            hostsInSlice = 0;
            await pause();
          }
        }
      }
      written += this.writeSummary(files, node, ts, step, generation);
      listedDirs += 1;
      await pause();
    }
    if (files.dirs.size > listedDirs) this.forgetUnseenDirs(files, generation);
    const ended = performance.now();
    busy += ended - sliceStart;
    this.longestSliceMs = Math.max(this.longestSliceMs, ended - sliceStart);
    this.countSent(written, busy);
  }

  /** Updates handed over and not yet answered (rrdcached: only while connected; otherwise they queue). */
  private queuedUpdates(): number {
    if (this.cached) return this.cached.isConnected ? this.cached.pending : 0;
    return this.pool.queued + (this.native?.pending ?? 0);
  }

  private async whenQueuedBelow(count: number): Promise<void> {
    if (this.cached) return this.cached.whenPendingBelow(count);
    await Promise.all([this.pool.whenQueuedBelow(count), this.native?.whenPendingBelow(count)]);
  }

  private hostDir(cluster: Cluster, host: string): string {
    return this.paths.hostDir(cluster.name, host);
  }

  private dirFor(files: SourceFiles, key: string, path: () => string, summary: boolean): DirState {
    let dir = files.dirs.get(key);
    if (dir === undefined) {
      const p = path();
      dir = {
        path: p, quoted: quoteRrdtoolArgument(p),
        shard: hashString(p.slice(this.paths.root.length)), summary, files: new Map(), seen: files.generation, made: false,
        watch: null, escaped: null,
      };
      files.dirs.set(key, dir);
    }
    return dir;
  }

  private writeHost(
    dir: DirState, metrics: Iterable<Metric>, polledAt: number, ts: number, step: number, generation: number,
  ): number {
    let written = 0;
    let listed = 0;
    for (const metric of metrics) {
      if (!NUMERIC_TYPES.has(metric.type)) continue;
      listed += 1;
      const known = dir.files.get(metric.name);
      if (known) known.seen = generation;
      if (isExpired(metric, polledAt)) continue;
      const value = rrdValue(metric.val);
      if (value === null) {
        this.counters.invalid += 1;
        continue;
      }
      if (this.record(dir, metric.name, ts, valueForSlope(metric.slope, value), step, metric.slope, known)) written += 1;
    }
    if (dir.files.size > listed) this.forgetUnseenFiles(dir, generation, listed);
    return written;
  }

  private writeSummary(files: SourceFiles, node: Cluster | Grid, ts: number, step: number, generation: number): number {
    const dir = this.dirFor(files, `s\u0000${node.name}`, () => this.paths.summaryDir(node.name), true);
    dir.seen = generation;
    let written = 0;
    for (const metric of node.summary.metrics.values()) {
      if (this.record(dir, metric.name, ts, summaryValues(metric), step, metric.slope)) written += 1;
    }
    this.forgetUnseenFiles(dir, generation, node.summary.metrics.size);
    return written;
  }

  /**
   * Writes or queues one value for one file; false if it was skipped. `text` is the value
   * as rrdtool takes it after `ts:` (`3.50`, `U`, or a summary's `SUM:NUM`). `known` is the
   * file's state when the caller already looked it up.
   */
  private record(
    dir: DirState, metricName: string, ts: number, text: string, step: number, slope: string,
    known: FileState | undefined = dir.files.get(metricName),
  ): boolean {
    let state = known;
    if (state === undefined) {
      state = {
        dir, element: safePathElement(metricName), status: Status.New, lastTs: 0, seen: 0, step, slope,
        waiting: null, waitingSince: 0, slot: -1, threshold: 1, pendingSince: 0, released: false, viaRrdtool: false, nativeId: -1, watchSeq: 0,
      };
      if (this.hostValues !== null) {
        if (!dir.summary) state.slot = this.hostValues.allocate();
        state.threshold = this.firstThreshold(hashString(`${dir.path.slice(this.paths.root.length)}/${state.element}.rrd`), step);
      }
      dir.files.set(metricName, state);
      this.fileCount += 1;
    }
    state.seen = dir.seen;
    if (ts <= state.lastTs) {
      this.counters.stale += 1;
      return false;
    }
    state.lastTs = ts;
    state.step = step;
    state.slope = slope;
    this.counters.values += 1;
    if (state.status === Status.Ready && this.writeBehindMs === 0) {
      // The common case: straight into the file (in-process, or through rrdcached/rrdtool).
      if (this.cached !== null) this.sendCached(state, `${ts}:${text}`, 1);
      else if (this.native === null || state.viaRrdtool) this.send(state, [`${ts}:${text}`]);
      else this.sendNative(state, ts, text);
      return true;
    }
    const update = `${ts}:${text}`;
    if (state.status !== Status.Ready) {
      if (!this.wait(state, update)) return false;
      if (state.status === Status.New) this.enqueueCreate(state);
      return true;
    }
    // Write-behind.
    if (this.pendingCount(state) === 0) state.pendingSince = this.clock();
    if (state.slot >= 0) {
      if (!this.hostValues!.push(state.slot, ts, text === 'U' ? Number.NaN : Number(text))) {
        this.counters.dropped += 1;
        return false;
      }
    } else {
      (state.waiting ??= []).push(update);
    }
    if (this.pendingCount(state) >= state.threshold) {
      state.threshold = this.steadyThreshold(step);
      this.writePending(state);
    } else {
      this.dirty.add(state);
    }
    return true;
  }

  /** Keeps a value until the file exists; false (dropped, counted) when too many wait. */
  private wait(state: FileState, update: string): boolean {
    if (state.waiting === null) {
      state.waiting = [];
      state.waitingSince = performance.now();
    }
    if (state.waiting.length >= MAX_WAITING) {
      this.counters.dropped += 1;
      return false;
    }
    state.waiting.push(update);
    return true;
  }

  // ---- forgetting what left the tree ---------------------------------------------------

  private forgetUnseenFiles(dir: DirState, generation: number, listed: number): void {
    if (dir.files.size <= listed) return;
    for (const [name, state] of dir.files) {
      if (state.seen !== generation) {
        dir.files.delete(name);
        this.fileCount -= 1;
        this.release(state);
      }
    }
  }

  private forgetUnseenDirs(files: SourceFiles, generation: number): void {
    for (const [key, dir] of files.dirs) {
      if (dir.seen !== generation) {
        files.dirs.delete(key);
        this.releaseDir(dir);
      }
    }
  }

  private releaseDir(dir: DirState): void {
    for (const state of dir.files.values()) this.release(state);
    this.fileCount -= dir.files.size;
    dir.files.clear();
  }

  /** A file that left the tree: what it still holds is written, then its state goes. */
  private release(state: FileState): void {
    state.released = true;
    if (state.status === Status.Ready) {
      this.writePending(state);
      this.freeSlot(state);
    }
    // Being created: the create's completion writes what waits, then frees it (sendNative
    // forgets a released file in the update thread after its last update).
    this.forgetNative(state);
  }

  private forgetNative(state: FileState): void {
    if (this.native === null || state.nativeId < 0) return;
    this.native.forget(state.nativeId);
    state.nativeId = -1;
  }

  private freeSlot(state: FileState): void {
    if (state.slot >= 0 && this.hostValues) {
      this.hostValues.free(state.slot);
      state.slot = -1;
    }
  }

  // ---- write-behind --------------------------------------------------------------------

  private pendingCount(state: FileState): number {
    return (state.slot >= 0 ? this.hostValues!.count(state.slot) : 0) + (state.waiting?.length ?? 0);
  }

  /** Values per update: writeBehind/step (at most MAX_VALUES_PER_UPDATE); the first write of each file is staggered. */
  private steadyThreshold(step: number): number {
    if (this.writeBehindMs === 0) return 1;
    return Math.min(MAX_VALUES_PER_UPDATE, Math.max(1, Math.round(this.writeBehindMs / 1000 / Math.max(1, step))));
  }

  private firstThreshold(shard: number, step: number): number {
    const steady = this.steadyThreshold(step);
    return steady === 1 ? 1 : 1 + (shard % steady);
  }

  private sweep(): void {
    const cutoff = this.clock() - this.writeBehindMs * 1.5;
    for (const state of this.dirty) {
      if (state.pendingSince <= cutoff) this.writePending(state);
    }
  }

  /** Hands every value a ready file holds to rrdtool/rrdcached. */
  private writePending(state: FileState): void {
    this.dirty.delete(state);
    if (state.status !== Status.Ready) return;
    let values: string[] = state.waiting ?? [];
    state.waiting = null;
    state.waitingSince = 0;
    if (state.slot >= 0) {
      const held = this.hostValues!.take(state.slot);
      if (held.length > 0) values = values.length > 0 ? [...values, ...held].sort((a, b) => updateTime(a) - updateTime(b)) : held;
    }
    if (values.length > 0) this.send(state, values);
  }

  // ---- updates ---------------------------------------------------------------------------

  private send(state: FileState, values: string[]): void {
    const dir = state.dir;
    if (this.cached !== null) {
      this.sendCached(state, values.join(' '), values.length);
      return;
    }
    if (this.native !== null && !state.viaRrdtool) {
      this.sendNative(state, 0, '', values);
      return;
    }
    let line = `update ${dir.quoted}${quoteRrdtoolArgument(`/${state.element}.rrd`)}`;
    for (const value of values) line += ` ${value}`;
    const accepted = this.pool.submitLine(`${line}\n`, dir.shard, (error) => {
      if (error) this.onUpdateError(state, error.message, values);
    });
    if (!accepted) this.counters.dropped += values.length;
  }

  /** rrdcached backend: one UPDATE with `count` `ts:value` arguments, `args` (joined by spaces). */
  private sendCached(state: FileState, args: string, count: number): void {
    const dir = state.dir;
    if (this.missingBeforeUpdate(state)) {
      // rrdcached would take these values for a file that is gone (it checks a file only
      // when it first sees it), and lose them at its next flush: it drops what it holds
      // for the old file, and the file is created again before these values go.
      this.cached!.forget(`${dir.path}/${state.element}.rrd`);
      this.onUpdateError(state, `${this.fileName(state)}: No such file or directory`, args.split(' '));
      return;
    }
    dir.escaped ??= escapeRrdcachedField(dir.path);
    if (!this.cached!.updateEscaped(`${dir.escaped}/${escapeRrdcachedField(state.element)}.rrd`, args)) {
      this.counters.dropped += count;
    }
  }

  /**
   * rrdcached backend: whether the file is gone. The C gmetad stats every file before each
   * update; here the file's directory is stat'ed at most once per write round (DirWatch),
   * and the file itself only when its directory changed since the file was last seen.
   */
  private missingBeforeUpdate(state: FileState): boolean {
    const dir = state.dir;
    if (dir.watch === null) dir.watch = watchedDir(fsPathOf(dir.path));
    this.counters.presenceChecks += dir.watch.seq === state.watchSeq ? 1 : 0;
    const changed = dirChangedSince(dir.watch, state.watchSeq);
    state.watchSeq = dir.watch.seq;
    if (!changed) return false;
    this.counters.presenceChecks += 1;
    let found: Stats | undefined;
    try {
      found = statSync(this.fsPath(state), { throwIfNoEntry: false });
    } catch {
      found = undefined; // ENOTDIR: the directory became a file
    }
    return found === undefined;
  }

  /**
   * The file's path for fs calls. Not kept: it is needed at a create or (rrdcached) after a
   * directory changed, and the update thread keeps its own copy; ~90 bytes per file on this
   * thread would be ~80 MB at a million files.
   */
  private fsPath(state: FileState): string | Buffer {
    return fsPathOf(`${state.dir.path}/${state.element}.rrd`);
  }

  /**
   * Hands the file's update to the update thread: one value (`ts`, `text`), or `values`
   * (`ts:...` arguments) when given. What it could not write comes back to onNativeNotWritten.
   */
  private sendNative(state: FileState, ts: number, text: string, values?: string[]): void {
    const native = this.native!;
    if (state.nativeId < 0) state.nativeId = native.allocate();
    if (values !== undefined) native.updateArguments(state.nativeId, state, values);
    else native.update(state.nativeId, state, ts, text);
    if (state.released) this.forgetNative(state);
  }

  /** An update the thread did not write: through rrdtool from now on, or handled as rrdtool's error would be. */
  private onNativeNotWritten(state: FileState, kind: UpdateProblemKind, message: string, values: string[]): void {
    if (kind === 'unsupported') {
      // Not a file it fully understands (the thread logged why, once): rrdtool from now on.
      if (!state.viaRrdtool) {
        state.viaRrdtool = true;
        this.counters.handedToRrdtool += 1;
        this.forgetNative(state);
      }
      if (!this.closed) this.send(state, values);
      return;
    }
    // rrdtool's own words for the cases the error handling recognises.
    const rrdtoolMessage = kind === 'stale' ? `illegal attempt to update: ${message}`
      : kind === 'missing' ? `${message}: No such file or directory` : message;
    this.onUpdateError(state, rrdtoolMessage, values);
  }

  private onUpdateError(state: FileState, message: string, values: string[]): void {
    if (isStaleUpdateError(message)) {
      this.counters.errors += 1;
      this.logger.debug({ file: this.fileName(state), error: message }, 'rrd: stale update refused');
      return;
    }
    if (isMissingFileError(message) && !this.closed) {
      // Deleted while we run: create it again, then write these values and the ones after.
      this.counters.recreated += 1;
      state.dir.made = false;
      const waiting = state.waiting ?? [];
      state.waiting = [...values, ...waiting].sort((a, b) => updateTime(a) - updateTime(b));
      if (state.waitingSince === 0) state.waitingSince = performance.now();
      if (state.status !== Status.Creating) {
        this.problems.warn({ file: this.fileName(state) }, 'rrd: file vanished; creating it again');
        this.enqueueCreate(state);
      }
      return;
    }
    this.counters.errors += 1;
    this.counters.dropped += values.length;
    this.problems.warn({ file: this.fileName(state), error: message, values: values.length }, 'rrd: update failed');
  }

  private fileName(state: FileState): string {
    return toPathBytes(`${state.dir.path}/${state.element}.rrd`).toString('utf8');
  }

  // ---- creates -------------------------------------------------------------------------

  private enqueueCreate(state: FileState): void {
    state.status = Status.Creating;
    const definition = this.nativeCreateDefinition(state);
    if (definition !== null) {
      // In-process creates are synchronous: at once while the slice that asks has time left
      // (no promise, the value goes straight in), else in slices of their own.
      if (this.nativeCreateQueue.length === 0 && performance.now() - this.sliceStartedAt < this.sliceMs) {
        this.createNow(state, definition);
      } else {
        this.nativeCreateQueue.push(state);
        this.scheduleNativeCreates();
      }
      return;
    }
    this.createQueue.push(state);
    this.pumpCreates();
  }

  private createNow(state: FileState, definition: CreateDefinition): void {
    let created: 'native' | false;
    try {
      created = this.createNatively(state, definition);
    } catch (err) {
      this.onCreateFailed(state, err as Error);
      return;
    }
    this.onCreated(state, created);
  }

  private scheduleNativeCreates(): void {
    if (this.nativeDrainScheduled) return;
    this.nativeDrainScheduled = true;
    setImmediate(() => this.drainNativeCreates());
  }

  /** Makes queued in-process creates for one slice (at least one file), then yields. */
  private drainNativeCreates(): void {
    this.nativeDrainScheduled = false;
    const started = performance.now();
    this.sliceStartedAt = started;
    while (this.nativeCreateQueue.length > 0) {
      const state = this.nativeCreateQueue.shift()!;
      const definition = this.nativeCreateDefinition(state);
      if (definition !== null) this.createNow(state, definition);
      else {
        this.createQueue.push(state);
        this.pumpCreates();
      }
      if (performance.now() - started >= this.sliceMs) break;
    }
    this.longestSliceMs = Math.max(this.longestSliceMs, performance.now() - started);
    if (this.nativeCreateQueue.length > 0) this.scheduleNativeCreates();
    if (this.nativeCreateQueue.length < QUEUE_LOW_WATER) for (const wake of this.nativeQueueWaiters.splice(0)) wake();
    if (!this.createsPending()) for (const wake of this.createWaiters.splice(0)) wake();
  }

  private whenNativeCreatesBelow(count: number): Promise<void> {
    if (this.nativeCreateQueue.length < count) return Promise.resolve();
    return new Promise((resolve) => this.nativeQueueWaiters.push(resolve));
  }

  private createsPending(): boolean {
    return this.createsInFlight > 0 || this.createQueue.length > 0 || this.nativeCreateQueue.length > 0;
  }

  /** mkdir -p, then the file as `rrdtool create` writes it, unless it exists. */
  private createNatively(state: FileState, definition: CreateDefinition): 'native' | false {
    const dir = state.dir;
    if (!dir.made) {
      mkdirSync(toPathBytes(dir.path), { recursive: true, mode: this.dirMode });
      dir.made = true;
    }
    const image = createImage({ ...definition, start: this.firstUpdate(state) - 1 });
    // Written under a temporary name and linked: an existing file is kept (EEXIST).
    return writeNewRrdFileSync(this.fsPath(state), image, this.fileMode) === 'created' ? 'native' : false;
  }

  /** The time of the first value the file will get (its create's --start is one second before). */
  private firstUpdate(state: FileState): number {
    const first = state.waiting?.[0];
    return first !== undefined ? updateTime(first) : state.lastTs;
  }

  private createArgumentsFor(state: FileState): string[] {
    return createArguments({
      step: state.step, firstUpdate: this.firstUpdate(state), slope: state.slope, summary: state.dir.summary, rras: this.rras,
    });
  }

  private pumpCreates(): void {
    while (this.createsInFlight < this.maxCreatesInFlight && this.createQueue.length > 0) {
      const state = this.createQueue.shift()!;
      this.createsInFlight += 1;
      this.createFile(state).then(
        (created) => this.onCreated(state, created),
        (err: Error) => this.onCreateFailed(state, err),
      ).finally(() => {
        this.createsInFlight -= 1;
        this.pumpCreates();
        if (!this.createsPending()) {
          for (const wake of this.createWaiters.splice(0)) wake();
        }
      });
    }
  }

  private onCreated(state: FileState, created: 'native' | 'rrdtool' | false): void {
    if (created) this.counters.created += 1;
    if (created === 'native') this.counters.nativeCreates += 1;
    state.status = Status.Ready;
    // What waited goes out at once; write-behind starts from the next value.
    this.writePending(state);
    if (state.released) this.freeSlot(state);
  }

  private onCreateFailed(state: FileState, err: Error): void {
    // Tried again at the file's next value.
    this.counters.errors += 1;
    this.counters.dropped += this.pendingCount(state);
    if (state.slot >= 0) this.hostValues!.clear(state.slot);
    state.waiting = null;
    state.waitingSince = 0;
    state.status = Status.New;
    state.lastTs = 0;
    state.dir.made = false;
    if (state.released) this.freeSlot(state);
    this.problems.warn({ file: this.fileName(state), error: err.message }, 'rrd: cannot create file');
  }

  /** mkdir -p, then `rrdtool create` unless the file exists; true if we created it. */
  private async createFile(state: FileState): Promise<'rrdtool' | false> {
    const dir = state.dir;
    const file = `${dir.path}/${state.element}.rrd`;
    const fileBytes = toPathBytes(file);
    if (!dir.made) {
      await fs.mkdir(toPathBytes(dir.path), { recursive: true, mode: this.dirMode });
      dir.made = true;
    }
    if (await exists(fileBytes)) return false;
    const args = ['create', file, '--no-overwrite', ...this.createArgumentsFor(state)];
    const outcome = await new Promise<'created' | 'exists'>((resolve, reject) => {
      const accepted = this.pool.submit(args, dir.shard, (error) => {
        if (error === null) resolve('created');
        else if (/exists/i.test(error.message)) resolve('exists'); // someone else created it meanwhile
        else reject(error);
      });
      if (!accepted) reject(new Error('rrdtool queue full'));
    });
    // rrdtool answers OK to a create it could not write (a full file system).
    if (!(await exists(fileBytes))) throw new Error('rrdtool create answered OK but left no file (file system full?)');
    return outcome === 'created' ? 'rrdtool' : false;
  }

  /**
   * The in-process create definition for these `rrdtool create` arguments (its start is
   * set per file), or null: rrdtool creates it (logged once per kind of definition).
   */
  private nativeCreateDefinition(state: FileState): CreateDefinition | null {
    if (this.nativeCreateDefinitions === null) return null;
    // Everything but the start (step, slope, summary or not; the RRAs are fixed) decides it.
    const key = `${state.step}\u0000${state.slope}\u0000${state.dir.summary ? 1 : 0}`;
    let definition = this.nativeCreateDefinitions.get(key);
    if (definition === undefined) {
      const parsed = parseCreateArguments(this.createArgumentsFor(state));
      definition = 'definition' in parsed ? parsed.definition : null;
      if ('unsupported' in parsed) {
        this.logger.info({ file: this.fileName(state), reason: parsed.unsupported }, 'rrd: files like this one are created by rrdtool create');
      }
      this.nativeCreateDefinitions.set(key, definition);
    }
    return definition;
  }
}

async function exists(file: Buffer): Promise<boolean> {
  try {
    await fs.stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
