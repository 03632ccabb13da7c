/**
 * Writes polled data to RRD files the way the C gmetad 3.7.2 does (see rrd-paths and
 * rrd-definitions for the layout and the file definitions), through a pool of
 * `rrdtool -` processes or through rrdcached.
 *
 * What is written, per fresh poll of a data source (writeSnapshot):
 * - each local CLUSTER: every numeric metric of every host that is up (a metric whose
 *   DMAX expired is skipped, as in the C gmetad), then the cluster's summary;
 * - each remote GRID: only its summary (grids are always held in summary form; with
 *   `scalable off` their clusters arrive flattened, as local clusters);
 * and periodically the root summary (writeRootSummary).
 *
 * writeSnapshot()/writeRootSummary() only enqueue: the file system and the external
 * processes are driven asynchronously. A file is created (mkdir -p, `rrdtool create`) the
 * first time it is seen, unless it already exists. A value whose timestamp is not newer
 * than the last one written to that file (a source whose LOCALTIME did not move) is
 * skipped: rrdtool would refuse it anyway.
 *
 * Freshness: by default every value is handed to rrdtool/rrdcached as soon as it is polled,
 * as the C gmetad writes it, so graphs are as fresh as the C gmetad's.
 *
 * Write-behind (opt-in, rrdtool backend only): an `rrdtool update` through the pipe costs
 * ~35 µs of rrdtool CPU whatever the number of values it carries (~1 µs each), so with
 * `writeBehindSeconds` > 0 values are gathered per file and written that many seconds worth
 * at a time (one command, several `ts:value`s), at staggered points. Graphs then lag by up
 * to that long. flush() and close() write everything out. With rrdcached, it does this
 * caching itself.
 */
import { promises as fs } from 'node:fs';
import type { Cluster, Grid, SourceSnapshot, Summary, TreeNode } from '../../store/model';
import { NUMERIC_TYPES } from '../../store/model';
import { type Clock, systemClock } from '../../util/clock';
import { isExpired } from '../../store/lifetime';
import type { DaemonStats } from '../../util/stats';
import { type RrdLogger, SILENT_LOGGER } from './logger';
import { PendingValues } from './pending-values';
import {
  createArguments, DEFAULT_RRAS, dsTypeForSlope, rootSummaryUpdate, rrdValue, summaryUpdate,
} from './rrd-definitions';
import { RrdPaths, safePathElement, toPathBytes } from './rrd-paths';
import { RrdcachedClient } from './rrdcached-client';
import { quoteRrdtoolArgument, RrdtoolPool } from './rrdtool-pipe';

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
  readonly logger?: RrdLogger;
  readonly stats: DaemonStats;
  /** The wall clock (write-behind windows, counters); default the system's. */
  readonly clock?: Clock;
  /** Step of the root summary files when writeRootSummary() gets none (default 15). */
  readonly rootStep?: number;
  /** rrdtool backend: seconds of values gathered per file per update (default 0: each value at once). */
  readonly writeBehindSeconds?: number;
  /** Number of `rrdtool -` processes (default 2). */
  readonly rrdtoolProcesses?: number;
  readonly rrdtoolPath?: string;
  /** Bound of the rrdtool and rrdcached queues (commands). */
  readonly maxQueued?: number;
  /** Cap of the rrdcached reconnect backoff, ms (default 30000). */
  readonly rrdcachedBackoffMaxMs?: number;
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
  /** Failed creates and updates (as reported by rrdtool/rrdcached, or I/O errors). */
  errors: number;
  /** Values lost: queues full, or files that could not be created. */
  dropped: number;
}

type FileStatus = 'new' | 'creating' | 'ready';

interface FileState {
  /** Byte-string path (see rrd-paths). */
  readonly file: string;
  readonly dir: string;
  /** The path quoted for rrdtool's pipe mode. */
  readonly quoted: string;
  readonly shard: number;
  status: FileStatus;
  lastTs: number;
  /** Host files: their range in the writer's PendingValues; -1 for summary files. */
  readonly slot: number;
  /** Summary files (few): `ts:SUM:NUM` strings not yet handed to rrdtool/rrdcached. */
  pending: string[];
  /** Number of pending values that triggers a write. */
  threshold: number;
  /** Epoch ms when the oldest pending value arrived. */
  pendingSince: number;
}

/**
 * The most values one rrdtool update carries; with step 15 and the default write_behind
 * of 120 s that is the usual 8. Each host file has room for two more (staggered first
 * writes, values arriving while the file is created).
 */
const MAX_VALUES_PER_UPDATE = 8;

/** A host VAL (already checked by rrdValue) as the number rrdtool gets: NaN for 'U', integers for COUNTER/DERIVE. */
function hostNumber(value: string, slope: string): number {
  if (value === 'U') return Number.NaN;
  const n = Number(value);
  if (!Number.isFinite(n)) return Number.NaN;
  // rrdtool accepts only integers for COUNTER and DERIVE ("not a simple integer").
  return dsTypeForSlope(slope) === 'GAUGE' ? n : Math.round(n);
}

interface CreateInfo {
  readonly step: number;
  readonly slope: string;
  readonly summary: boolean;
}

/** Logs at most `limit` messages per minute for one kind of problem, then a count. */
class RateLimitedWarning {
  private windowStart = 0;
  private count = 0;
  private suppressed = 0;

  constructor(private readonly logger: RrdLogger, private readonly clock: Clock, private readonly limit = 10) {}

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

export class RrdWriter {
  readonly counters: RrdWriterCounters = { values: 0, stale: 0, invalid: 0, created: 0, errors: 0, dropped: 0 };
  readonly backend: RrdBackend;
  private readonly paths: RrdPaths;
  private readonly rras: readonly string[];
  private readonly dirMode: number;
  private readonly rootStep: number;
  private readonly writeBehindMs: number;
  private readonly logger: RrdLogger;
  private readonly stats: DaemonStats;
  private readonly pool: RrdtoolPool;
  private readonly cached: RrdcachedClient | null;
  /** dir → metric name → file: two short lookups per value instead of building paths. */
  private readonly files = new Map<string, Map<string, FileState>>();
  private readonly dirs = new Map<string, Promise<void>>();
  private readonly creations = new Set<Promise<void>>();
  /** Files holding values not yet written (write-behind). */
  private readonly dirty = new Set<FileState>();
  private readonly hostValues = new PendingValues(MAX_VALUES_PER_UPDATE + 2);
  private readonly sweepTimer: NodeJS.Timeout | null;
  private readonly problems: RateLimitedWarning;
  private closed = false;
  private readonly clock: Clock;

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
    if (this.writeBehindMs > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), Math.min(5000, Math.max(250, this.writeBehindMs / 4)));
      this.sweepTimer.unref();
    } else {
      this.sweepTimer = null;
    }
  }

  /** Enqueues the RRD updates of one fresh poll; `step` is the data_source's step. */
  writeSnapshot(snapshot: SourceSnapshot, step: number): void {
    if (this.closed) return;
    const started = performance.now();
    let written = 0;
    for (const node of snapshot.nodes) written += this.writeNode(node, snapshot.polledAt, step);
    this.countSent(written, started);
  }

  /** Enqueues the root summary (`<root>/__SummaryInfo__`), timestamped `now`. */
  writeRootSummary(summary: Summary, now: number, step: number): void {
    if (this.closed) return;
    const started = performance.now();
    const ts = Math.floor(now);
    const dir = this.paths.rootSummaryDir();
    const rootStep = step > 0 ? step : this.rootStep;
    let written = 0;
    for (const metric of summary.metrics.values()) {
      if (this.record(dir, metric.name, ts, rootSummaryUpdate(ts, metric), rootStep, metric.slope)) written += 1;
    }
    this.countSent(written, started);
  }

  /** Writes out everything enqueued so far (write-behind included) and waits for it. */
  async flush(): Promise<void> {
    while (this.creations.size > 0) await Promise.all([...this.creations]);
    for (const state of [...this.dirty]) this.writePending(state);
    await this.pool.flush();
    if (this.cached) await this.cached.flush();
  }

  /** flush(), then ends the rrdtool processes and the rrdcached connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.pool.close();
    if (this.cached) await this.cached.close();
  }

  /** Process ids of the writer's rrdtool processes (for monitoring and benchmarks). */
  get rrdtoolPids(): number[] {
    return this.pool.pids;
  }

  /**
   * Seconds since the oldest value not yet confirmed written was polled: 0 when everything
   * handed to the writer is in the files (or in rrdcached, which then owns it).
   */
  lagSeconds(): number {
    const submitted = this.cached ? this.cached.oldestQueuedAt : this.pool.oldestSubmittedAt;
    let lagMs = submitted === null ? 0 : performance.now() - submitted;
    if (this.dirty.size > 0) {
      const now = this.clock();
      for (const state of this.dirty) {
        if (state.pendingSince > 0) lagMs = Math.max(lagMs, now - state.pendingSince);
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
      queued: this.cached ? this.cached.pending : this.pool.queued,
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

  private countSent(written: number, started: number): void {
    if (written === 0) return;
    const counter = this.stats.sent(this.backend);
    counter.num += written;
    counter.totalMillis += performance.now() - started;
    counter.lastTime = this.clock();
  }

  private writeNode(node: TreeNode, polledAt: number, step: number): number {
    if (node.kind === 'cluster') return this.writeCluster(node, polledAt, step);
    return this.writeSummary(node, node.localtime > 0 ? node.localtime : Math.floor(polledAt), step);
  }

  private writeCluster(cluster: Cluster, polledAt: number, step: number): number {
    const ts = cluster.localtime > 0 ? cluster.localtime : Math.floor(polledAt);
    let written = 0;
    for (const host of cluster.hosts.values()) {
      if (!host.up) continue;
      let dir: string | null = null;
      let byMetric: Map<string, FileState> | null = null;
      for (const metric of host.metrics.values()) {
        if (!NUMERIC_TYPES.has(metric.type)) continue;
        if (isExpired(metric, polledAt)) continue;
        const value = rrdValue(metric.val);
        if (value === null) {
          this.counters.invalid += 1;
          continue;
        }
        if (dir === null) {
          dir = this.paths.hostDir(cluster.name, host.name);
          byMetric = this.filesIn(dir);
        }
        if (this.record(dir, metric.name, ts, hostNumber(value, metric.slope), step, metric.slope, byMetric!)) written += 1;
      }
    }
    return written + this.writeSummary(cluster, ts, step);
  }

  private writeSummary(node: Cluster | Grid, ts: number, step: number): number {
    const dir = this.paths.summaryDir(node.name);
    let written = 0;
    for (const metric of node.summary.metrics.values()) {
      if (this.record(dir, metric.name, ts, summaryUpdate(ts, metric), step, metric.slope)) written += 1;
    }
    return written;
  }

  /**
   * Queues one value for one file; false if it was skipped. `update` is a host value (a
   * number, NaN for unknown) or a summary's whole `ts:SUM:NUM` argument.
   */
  private record(
    dir: string, metricName: string, ts: number, update: number | string, step: number, slope: string,
    byMetric: Map<string, FileState> = this.filesIn(dir),
  ): boolean {
    let state = byMetric.get(metricName);
    if (state === undefined) {
      const file = `${dir}/${safePathElement(metricName)}.rrd`;
      const shard = hashString(file.slice(this.paths.root.length));
      state = {
        file, dir, quoted: quoteRrdtoolArgument(file), shard, status: 'new', lastTs: 0,
        slot: typeof update === 'number' ? this.hostValues.allocate() : -1, pending: [],
        threshold: this.firstThreshold(shard, step), pendingSince: 0,
      };
      byMetric.set(metricName, state);
    }
    if (ts <= state.lastTs) {
      this.counters.stale += 1;
      return false;
    }
    if (this.pendingCount(state) === 0) state.pendingSince = this.clock();
    if (state.slot >= 0) {
      if (!this.hostValues.push(state.slot, ts, update as number)) {
        // Only while the file is still being created can its range fill up.
        this.counters.dropped += 1;
        return false;
      }
    } else {
      state.pending.push(update as string);
    }
    state.lastTs = ts;
    this.counters.values += 1;
    switch (state.status) {
      case 'new':
        this.startCreate(state, ts, { step, slope, summary: state.slot < 0 });
        break;
      case 'ready':
        if (this.pendingCount(state) >= state.threshold) {
          state.threshold = this.steadyThreshold(step);
          this.writePending(state);
        } else {
          this.dirty.add(state);
        }
        break;
      case 'creating':
        break;
    }
    return true;
  }

  /** The files of one directory, by metric name (looked up once per host, not per value). */
  private filesIn(dir: string): Map<string, FileState> {
    let byMetric = this.files.get(dir);
    if (byMetric === undefined) {
      byMetric = new Map();
      this.files.set(dir, byMetric);
    }
    return byMetric;
  }

  private pendingCount(state: FileState): number {
    return state.slot >= 0 ? this.hostValues.count(state.slot) : state.pending.length;
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

  private writePending(state: FileState): void {
    this.dirty.delete(state);
    if (state.status !== 'ready' || this.pendingCount(state) === 0) return;
    let values: string[];
    if (state.slot >= 0) {
      values = this.hostValues.take(state.slot);
    } else {
      values = state.pending;
      state.pending = [];
    }
    if (this.cached) {
      if (!this.cached.update(state.file, values)) this.counters.dropped += values.length;
      return;
    }
    let line = `update ${state.quoted}`;
    for (const value of values) line += ` ${value}`;
    const accepted = this.pool.submitLine(`${line}\n`, state.shard, (error) => {
      if (error) this.onUpdateError(state, error.message, values.length);
    });
    if (!accepted) this.counters.dropped += values.length;
  }

  private onUpdateError(state: FileState, message: string, count: number): void {
    this.counters.errors += 1;
    if (isStaleUpdateError(message)) {
      this.logger.debug({ file: state.file, error: message }, 'rrd: stale update refused');
      return;
    }
    this.counters.dropped += count;
    this.problems.warn({ file: toPathBytes(state.file).toString('utf8'), error: message, values: count }, 'rrd: update failed');
  }

  private startCreate(state: FileState, firstTs: number, info: CreateInfo): void {
    state.status = 'creating';
    const creation = this.ensureFile(state, firstTs, info).then(
      () => {
        state.status = 'ready';
        // The first value goes out at once; write-behind starts from the next one.
        this.writePending(state);
      },
      (err: Error) => {
        // Forget the file so that a later poll tries again.
        this.counters.errors += 1;
        this.counters.dropped += state.slot >= 0 ? this.hostValues.clear(state.slot) : state.pending.length;
        state.pending = [];
        state.status = 'new';
        state.lastTs = 0;
        this.problems.warn({ file: toPathBytes(state.file).toString('utf8'), error: err.message }, 'rrd: cannot create file');
      },
    ).finally(() => this.creations.delete(creation));
    this.creations.add(creation);
  }

  private async ensureFile(state: FileState, firstTs: number, info: CreateInfo): Promise<void> {
    await this.ensureDir(state.dir);
    try {
      await fs.stat(toPathBytes(state.file));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const args = [
      'create', state.file, '--no-overwrite',
      ...createArguments({ step: info.step, firstUpdate: firstTs, slope: info.slope, summary: info.summary, rras: this.rras }),
    ];
    await new Promise<void>((resolve, reject) => {
      const accepted = this.pool.submit(args, state.shard, (error) => {
        // Someone else created it meanwhile: fine.
        if (error && !/exists/i.test(error.message)) reject(error);
        else {
          if (!error) this.counters.created += 1;
          resolve();
        }
      });
      if (!accepted) reject(new Error('rrdtool queue full'));
    });
  }

  /** mkdir -p with mode 0755 & ~umask, once per directory. */
  private ensureDir(dir: string): Promise<void> {
    let done = this.dirs.get(dir);
    if (done === undefined) {
      done = fs.mkdir(toPathBytes(dir), { recursive: true, mode: this.dirMode }).then(() => undefined);
      done.catch(() => this.dirs.delete(dir));
      this.dirs.set(dir, done);
    }
    return done;
  }
}
