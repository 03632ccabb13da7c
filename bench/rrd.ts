/**
 * End-to-end RRD benchmark: gmetad-ts and the C gmetad 3.7.2 side by side on the same emulated
 * cluster, each writing its RRD tree to its own tmpfs directory.
 *
 *   node dist/bench/rrd.js [--hosts 1000] [--metrics 100] [--cycles 4] [--step 15]
 *                          [--modes baseline,direct,direct-rrdtool,direct-wb120,cached] [--only c|ts] [--cpu-prof] [--out FILE]
 *
 * Modes (see rrd-config.ts), run one after the other; the RRD trees are created by the first
 * mode that writes RRDs and reused by the next ones. In each mode: start (rrdcached,) the
 * daemons; wait until the first poll's files all exist (the "file creation cycle", timed
 * separately); 2 more polls of warm-up; then a window of K poll cycles over which we take the
 * CPU of the daemon, its children (rrdtool) and its rrdcached (flushed with FLUSHALL before and
 * after the window, so deferred writes are counted), and every file's last_update before and
 * after (values written per second, and how far each file is behind the newest poll).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commonOptionSpecs, intOption, REPO_ROOT, sidesOption } from './options';
import { formatHotFunctions, hotFunctions, newestProfile, readProfile } from './cpu-profile';
import {
  assertPortsFree,
  cGmetadCommand,
  pickFreePorts,
  startDaemon,
  tsGmetadCommand,
  waitListening,
  type RunningDaemon,
  type Side,
} from './daemons';
import { fetchStatus } from './dump-client';
import { ClusterDocument, startEmulatedGmond, type EmulatedGmond } from './emulated-cluster';
import { clockTicksPerSecond, sampleProcessTree, sampleThreads, threadCpuBetween, type ProcessTreeSample } from './proc-stats';
import { PARSE_THREAD_NAME } from '../src/readers/parse-protocol';
import { UPDATE_THREAD_NAME } from '../src/plugins/rrd/native/update-thread';
import { flushAll, flushFiles, rrdcachedStats, spreadSample, startRrdcached, type RrdcachedStats, type RunningRrdcached } from './rrd-cached';
import {
  BENCH_RRAS, DAEMON_DEFAULT_RRAS, estimateTreeBytes, expectedRrdFiles, parseModes, renderRrdConfig, writeBehindSeconds, type RrdMode,
} from './rrd-config';
import {
  clusterLocaltime, countRrdFilesOffThread, lagSummary, scanLastUpdates, scanTreeOffThread, valuesWrittenBetween, type LagSummary, type TreeScan,
} from './rrd-files';
import { cpuPerCycle, modeRows, type CpuSplit, type ModeSideResult, type ThreadCpu } from './rrd-report';
import { fmt, markdownTable, textTable } from './report';


const SUMMARY_DIR = '__SummaryInfo__';

interface Options {
  readonly hosts: number;
  readonly metrics: number;
  readonly cycles: number;
  readonly step: number;
  readonly modes: readonly RrdMode[];
  readonly sides: readonly Side[];
  readonly cpuProf: boolean;
  readonly shm: string;
  readonly out: string;
  readonly mainJs: string;
  readonly cGmetad: string;
  readonly creationTimeoutS: number;
  /** How long rrdcached's FLUSHALL may take (930k files on the AMD machine: ~160 s). */
  readonly flushTimeoutS: number;
  /** RRAs given to both daemons ([] = their built-in default). */
  readonly rras: readonly string[];
  /** rrdcached's -w and -z (seconds). */
  readonly rrdcachedWrite: number;
  readonly rrdcachedJitter: number;
  /**
   * How the cached mode's window is measured. `flush`: FLUSHALL before and after it, every value
   * written counted. `steady`: no forced flush; rrdcached writes on its own -w/-z schedule, the
   * window starts once its first write wave is over, and freshness is read as gweb reads it
   * (FLUSH of a sample of files, then their last_update).
   */
  readonly cachedWindow: 'flush' | 'steady';
  /** Files FLUSHed and read at the end of a steady window. */
  readonly freshnessSample: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ...commonOptionSpecs('rrd-latest.md'),
      modes: { type: 'string', default: 'baseline,direct,cached' },
      shm: { type: 'string', default: '/dev/shm' },
      rras: { type: 'string', default: BENCH_RRAS.join(',') },
      'creation-timeout': { type: 'string', default: '300' },
      'flush-timeout': { type: 'string', default: '120' },
      'rrdcached-w': { type: 'string', default: '60' },
      'rrdcached-z': { type: 'string', default: '10' },
      'cached-window': { type: 'string', default: 'flush' },
      'freshness-sample': { type: 'string', default: '1000' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/rrd.js [--hosts N] [--metrics M] [--cycles K] [--step S]\n' +
        '       [--modes baseline,direct,direct-rrdtool,direct-wb120,cached] [--only c|ts] [--cpu-prof]\n' +
        '       [--rras RRA:...,RRA:...|default] [--shm /dev/shm] [--creation-timeout SEC] [--flush-timeout SEC]\n' +
        '       [--rrdcached-w SEC] [--rrdcached-z SEC] [--cached-window flush|steady] [--freshness-sample N] [--out FILE] [--main dist/src/cli/main.js] [--gmetad /usr/sbin/gmetad]\n',
    );
    process.exit(0);
  }
  const int = intOption;
  const cachedWindow = values['cached-window'];
  if (cachedWindow !== 'flush' && cachedWindow !== 'steady') throw new Error(`--cached-window: "flush" or "steady", not "${cachedWindow}"`);
  const cycles = int('cycles', values.cycles, 1);
  const step = int('step', values.step, 5);
  const rrdcachedWrite = int('rrdcached-w', values['rrdcached-w'], 1);
  // A steady window shorter than -w would see only part of rrdcached's write cycle.
  if (cachedWindow === 'steady' && cycles * step < rrdcachedWrite) {
    throw new Error(`--cached-window steady needs --cycles x --step (${cycles * step} s) >= --rrdcached-w (${rrdcachedWrite} s)`);
  }
  return {
    hosts: int('hosts', values.hosts, 1),
    metrics: int('metrics', values.metrics, 1),
    cycles,
    step,
    modes: parseModes(values.modes ?? ''),
    sides: sidesOption(values.only),
    cpuProf: values['cpu-prof'] ?? false,
    shm: path.resolve(values.shm ?? '/dev/shm'),
    creationTimeoutS: int('creation-timeout', values['creation-timeout'], 10),
    flushTimeoutS: int('flush-timeout', values['flush-timeout'], 10),
    rrdcachedWrite,
    rrdcachedJitter: int('rrdcached-z', values['rrdcached-z'], 0),
    cachedWindow,
    freshnessSample: int('freshness-sample', values['freshness-sample'], 1),
    rras: values.rras === 'default' ? [] : (values.rras ?? '').split(',').map((r) => r.trim()).filter((r) => r !== ''),
    out: path.resolve(values.out ?? ''),
    mainJs: path.resolve(values.main ?? ''),
    cGmetad: values.gmetad ?? '/usr/sbin/gmetad',
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const t0 = Date.now();
function log(message: string): void {
  process.stderr.write(`[rrd-bench +${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

const LABEL: Record<Side, string> = { ts: 'gmetad-ts', c: 'C gmetad' };

/** What one served poll carried: when it was accepted and the LOCALTIME every RRD update of it gets. */
interface ServedPoll {
  readonly atMs: number;
  readonly localtime: number;
}

/** Per side, for the whole run: its emulated gmond (own document, so its LOCALTIMEs are its own) and RRD tree. */
interface SideHome {
  readonly side: Side;
  readonly gmond: EmulatedGmond;
  readonly served: ServedPoll[];
  readonly rrdRoot: string;
  readonly workDir: string;
  filesCreated: boolean;
}

/** Per side, for one mode. */
interface SideRun {
  readonly home: SideHome;
  readonly mode: RrdMode;
  readonly daemon: RunningDaemon;
  readonly cached: RunningRrdcached | null;
  readonly interactivePort: number;
  readonly profileDir: string | null;
  readonly result: ModeSideResult;
  /** When rrdcached (cached mode) started, and when this mode's file creation cycle ended. */
  readonly cachedStartedAtMs: number | null;
  creationEndedAtMs?: number;
}

/** Every process we started and have not stopped yet (stopped by pid on exit, error or signal). */
const running = new Set<RunningDaemon>();

async function stopAll(list: Iterable<RunningDaemon>): Promise<void> {
  await Promise.all([...list].map(async (d) => {
    await d.stop(15_000);
    running.delete(d);
  }));
}

/** The LOCALTIME of the newest poll served to this side by `atMs`. */
function newestServedLocaltime(home: SideHome, atMs: number): number {
  return Math.max(...home.served.filter((p) => p.atMs <= atMs).map((p) => p.localtime));
}

/** Records the LOCALTIME of each new poll (the document only changes when its gmond is polled). */
function trackServedPolls(home: SideHome): NodeJS.Timeout {
  let seen = home.gmond.connections.length;
  const timer = setInterval(() => {
    const conns = home.gmond.connections;
    while (seen < conns.length) {
      home.served.push({ atMs: conns[seen]!, localtime: clusterLocaltime(home.gmond.document.current()) });
      seen += 1;
    }
  }, 50);
  timer.unref();
  return timer;
}

function mustSample(pid: number, ticks: number, what: string): ProcessTreeSample {
  const s = sampleProcessTree(pid, ticks);
  if (!s) throw new Error(`${what} (pid ${pid}) is gone`);
  return s;
}

interface CpuMark {
  readonly atMs: number;
  readonly daemon: number;
  readonly children: number;
  readonly rrdcached: number;
}

function markDaemon(run: SideRun, ticks: number): { atMs: number; daemon: number; children: number } {
  const tree = mustSample(run.daemon.pid, ticks, `${LABEL[run.home.side]}; see ${run.daemon.logFile}`);
  const self = tree.processes[0]!;
  const daemon = (self.utimeTicks + self.stimeTicks) / ticks;
  return { atMs: tree.atMs, daemon, children: tree.cpuSeconds - daemon };
}

function markRrdcached(run: SideRun, ticks: number): number {
  return run.cached ? mustSample(run.cached.daemon.pid, ticks, 'rrdcached').cpuSeconds : 0;
}

function split(a: CpuMark, b: CpuMark): CpuSplit {
  return { daemon: b.daemon - a.daemon, children: b.children - a.children, rrdcached: b.rrdcached - a.rrdcached };
}

interface TsStatus {
  /** RRD values sent (rrdtool and rrdcached backends). */
  readonly sent: number;
  readonly eventLoop?: { readonly maxMs: number; readonly p99Ms: number };
}

/** What gmetad-ts's /status says (undefined for the C gmetad, or when it does not answer). */
async function tsStatus(run: SideRun): Promise<TsStatus | undefined> {
  if (run.home.side !== 'ts') return undefined;
  try {
    const json = (await fetchStatus(run.interactivePort)) as {
      metrics?: { sent?: Record<string, { num?: number }> };
      eventLoop?: { maxMs?: unknown; p99Ms?: unknown };
    };
    const sent = json.metrics?.sent ?? {};
    const loop = json.eventLoop;
    const eventLoop = typeof loop?.maxMs === 'number' && typeof loop.p99Ms === 'number' ? { maxMs: loop.maxMs, p99Ms: loop.p99Ms } : undefined;
    return { sent: (sent['rrdtool']?.num ?? 0) + (sent['rrdcached']?.num ?? 0), ...(eventLoop ? { eventLoop } : {}) };
  } catch (err) {
    log(`${LABEL[run.home.side]}: /status failed (${(err as Error).message})`);
    return undefined;
  }
}

async function startSide(home: SideHome, mode: RrdMode, opts: Options): Promise<SideRun> {
  const label = LABEL[home.side];
  const modeDir = path.join(home.workDir, mode);
  fs.mkdirSync(modeDir, { recursive: true });
  const needCached = mode === 'cached';
  const ports = await pickFreePorts(needCached ? 3 : 2);
  await assertPortsFree(ports);
  const [xmlPort, interactivePort, cachedPort] = ports as [number, number, number | undefined];
  let cached: RunningRrdcached | null = null;
  let cachedStartedAtMs: number | null = null;
  if (needCached) {
    cached = await startRrdcached(home.side, {
      port: cachedPort!, baseDir: home.rrdRoot, workDir: modeDir, writeInterval: opts.rrdcachedWrite, writeJitter: opts.rrdcachedJitter,
    });
    cachedStartedAtMs = Date.now();
    running.add(cached.daemon);
    log(`${label}: rrdcached pid ${cached.daemon.pid} on 127.0.0.1:${cachedPort}`);
  }
  const conf = path.join(modeDir, 'gmetad.conf');
  fs.writeFileSync(
    conf,
    renderRrdConfig({
      side: home.side, mode, gridName: 'BenchGrid', sourceName: 'BenchCluster', step: opts.step,
      gmondPort: home.gmond.port, xmlPort, interactivePort, rrdRootdir: home.rrdRoot, rras: opts.rras,
      ...(cached ? { rrdcachedAddress: `127.0.0.1:${cached.port}` } : {}),
    }),
  );
  const profileDir = home.side === 'ts' && opts.cpuProf ? path.join(modeDir, 'cpuprofile') : null;
  const cmd = home.side === 'ts' ? tsGmetadCommand(conf, opts.mainJs, profileDir ?? undefined) : cGmetadCommand(conf, opts.cGmetad);
  const daemon = startDaemon(home.side, cmd, path.join(modeDir, 'daemon.log'));
  running.add(daemon);
  log(`${label} [${mode}]: pid ${daemon.pid}, xml ${xmlPort}, interactive ${interactivePort}, gmond ${home.gmond.port}, rrds ${home.rrdRoot}`);
  await waitListening(daemon, [xmlPort, interactivePort]);
  return {
    home, mode, daemon, cached, interactivePort, profileDir,
    result: { side: home.side, mode, writeBehind: writeBehindSeconds(home.side, mode) },
    cachedStartedAtMs,
  };
}

async function waitForPolls(run: SideRun, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (run.home.gmond.connections.length < count) {
    if (!run.daemon.isAlive()) throw new Error(`${LABEL[run.home.side]} exited; see ${run.daemon.logFile}`);
    if (Date.now() > deadline) throw new Error(`${LABEL[run.home.side]}: no poll #${count} within ${timeoutMs / 1000} s; see ${run.daemon.logFile}`);
    await sleep(100);
  }
}

/** Bytes free on the file system of `dir`. */
function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** RAM the kernel could still hand out (a tmpfs lives in it), from /proc/meminfo. */
function memAvailableBytes(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'latin1'));
  return m ? Number(m[1]) * 1024 : Infinity;
}

/** Stops the run before a filling tmpfs starts the OOM killer on the machine. */
function assertSpaceLeft(dir: string): void {
  const left = Math.min(freeBytes(dir), memAvailableBytes());
  if (left < 2 * 2 ** 30) throw new Error(`less than 2 GiB left for ${dir} (free space or RAM): stopping`);
}

/** Refuses to start if the trees would take more than half of the free space (or of the available RAM). */
function assertTreesFit(opts: Options, expected: ReturnType<typeof expectedRrdFiles>): void {
  const need = estimateTreeBytes(expected, opts.rras.length ? opts.rras : DAEMON_DEFAULT_RRAS) * opts.sides.length;
  const left = Math.min(freeBytes(opts.shm), memAvailableBytes());
  if (need > left / 2) {
    throw new Error(
      `refusing to run: the RRD trees need about ${(need / 2 ** 30).toFixed(1)} GiB, more than half of the ${(left / 2 ** 30).toFixed(1)} GiB ` +
        `free in ${opts.shm} / available RAM; use fewer --hosts or smaller --rras`,
    );
  }
}

/** The first poll creates the tree: time it until every expected file exists (or the count stops growing). */
async function measureCreation(run: SideRun, opts: Options, ticks: number, pollsBefore: number): Promise<void> {
  const expected = expectedRrdFiles(opts.hosts, opts.metrics).total;
  await waitForPolls(run, pollsBefore + 1, opts.step * 2000 + 20_000);
  const firstPoll = run.home.gmond.connections[pollsBefore]!;
  const deadline = firstPoll + opts.creationTimeoutS * 1000;
  let count = 0;
  let lastGrowth = Date.now();
  let complete = false;
  for (;;) {
    await sleep(1000);
    assertSpaceLeft(run.home.rrdRoot);
    const now = await countRrdFilesOffThread(run.home.rrdRoot);
    if (now > count) {
      count = now;
      lastGrowth = Date.now();
    }
    if (count >= expected) {
      complete = true;
      break;
    }
    if (Date.now() > deadline || (count > 0 && Date.now() - lastGrowth > 30_000)) break;
  }
  const at = Date.now();
  const cpu = markDaemon(run, ticks);
  run.result.creation = {
    seconds: (at - firstPoll) / 1000,
    cpuSeconds: cpu.daemon + cpu.children + markRrdcached(run, ticks),
    files: count,
    complete,
  };
  run.home.filesCreated = true;
  run.creationEndedAtMs = at;
  log(`${LABEL[run.home.side]}: file creation cycle ${fmt(run.result.creation.seconds, 1)} s, ${count}/${expected} files, CPU ${fmt(run.result.creation.cpuSeconds, 1)} s`);
}

/**
 * Waits until `fraction` of a step after this side's latest poll, so that the window's scans
 * fall between two polls' writes and a window of K steps holds the writes of exactly K polls.
 */
async function alignMidInterval(run: SideRun, step: number, fraction: number): Promise<void> {
  const stepMs = step * 1000;
  for (;;) {
    const last = run.home.served[run.home.served.length - 1];
    if (!last) throw new Error(`${LABEL[run.home.side]}: no poll yet`);
    const target = last.atMs + fraction * stepMs;
    if (Date.now() <= target + 1000) return sleep(target - Date.now());
    // Too late for this poll: aim at the next one.
    const count = run.home.served.length;
    const deadline = Date.now() + stepMs * 2 + 10_000;
    while (run.home.served.length === count) {
      if (!run.daemon.isAlive()) throw new Error(`${LABEL[run.home.side]} exited; see ${run.daemon.logFile}`);
      if (Date.now() > deadline) {
        log(`${LABEL[run.home.side]}: no poll for ${fmt((Date.now() - last.atMs) / 1000, 0)} s; the window starts now`);
        return;
      }
      await sleep(100);
    }
  }
}

interface WindowStart {
  readonly cpu: CpuMark;
  readonly threads: ReturnType<typeof sampleThreads>;
  readonly scan: TreeScan | null;
  readonly files: string[];
  readonly sent?: number;
  readonly cachedStats?: RrdcachedStats;
}

/**
 * Steady window: rrdcached writes a file -w plus up to -z seconds after its first value arrived,
 * and again -w plus up to -z after each write (about 450 s apart at -w 300 -z 300 in
 * rrd-10000x100-cached-steady-ts-cfc0bb0.md). The window starts once the first wave after the
 * creation cycle is over, so what it sees is the steady state, not the creation's backlog.
 */
async function waitFirstWriteWave(run: SideRun, opts: Options): Promise<void> {
  const since = Math.max(run.cachedStartedAtMs ?? 0, run.creationEndedAtMs ?? 0);
  const at = since + (opts.rrdcachedWrite + opts.rrdcachedJitter + opts.step) * 1000;
  log(`${LABEL[run.home.side]}: steady window; waiting ${fmt((at - Date.now()) / 1000, 0)} s for rrdcached's first write wave (-w ${opts.rrdcachedWrite} -z ${opts.rrdcachedJitter})`);
  while (Date.now() < at) {
    if (!run.daemon.isAlive()) throw new Error(`${LABEL[run.home.side]} exited; see ${run.daemon.logFile}`);
    if (run.cached && !run.cached.daemon.isAlive()) throw new Error(`${LABEL[run.home.side]}'s rrdcached exited`);
    await sleep(Math.min(5000, at - Date.now()));
  }
}

/**
 * How long the daemon's interactive port takes to answer `/status`, asked every 200 ms until
 * `untilMs`: what a client (gweb, a monitoring check) waits while the RRDs are written.
 * Both daemons answer it; an answer that does not come within 5 s counts as 5 s.
 */
async function statusAnswerTimes(port: number, untilMs: number): Promise<number[]> {
  const times: number[] = [];
  while (Date.now() < untilMs - 200) {
    const asked = performance.now();
    try {
      await fetchStatus(port, { timeoutMs: 5000 });
      times.push(performance.now() - asked);
    } catch {
      times.push(5000);
    }
    await sleep(200);
  }
  return times;
}

/** gmetad-ts's CPU s per cycle by thread between two samples: the port thread (its main thread) and its named threads. */
function threadCpu(pid: number, before: ReturnType<typeof sampleThreads>, after: ReturnType<typeof sampleThreads>, cycles: number, ticks: number): ThreadCpu {
  const split = { port: 0, rrdUpdates: 0, parse: 0, other: 0 };
  for (const t of threadCpuBetween(pid, before, after, ticks)) {
    const kind = t.main ? 'port' : t.comm === UPDATE_THREAD_NAME ? 'rrdUpdates' : t.comm === PARSE_THREAD_NAME ? 'parse' : 'other';
    split[kind] += t.seconds / cycles;
  }
  return split;
}

async function startWindow(run: SideRun, opts: Options, ticks: number, writesRrds: boolean): Promise<WindowStart> {
  const steady = opts.cachedWindow === 'steady';
  const cachedStats = !run.cached ? undefined
    : steady ? await rrdcachedStats(run.cached.port)
    : await flushAll(run.cached.port, { timeoutMs: opts.flushTimeoutS * 1000 });
  const d = markDaemon(run, ticks);
  const cpu: CpuMark = { ...d, rrdcached: markRrdcached(run, ticks) };
  const sent = (await tsStatus(run))?.sent;
  const threads = sampleThreads(run.daemon.pid);
  const { files, scan } = writesRrds ? await scanTreeOffThread(run.home.rrdRoot, [SUMMARY_DIR]) : { files: [], scan: null };
  if (scan) log(`${LABEL[run.home.side]}: window starts; ${files.length} files scanned in ${fmt(scan.ms, 0)} ms`);
  return { cpu, threads, scan, files, ...(sent !== undefined ? { sent } : {}), ...(cachedStats ? { cachedStats } : {}) };
}

async function endWindow(run: SideRun, start: WindowStart, opts: Options, ticks: number): Promise<void> {
  const r = run.result;
  const d = markDaemon(run, ticks);
  const status = await tsStatus(run);
  const sent = status?.sent;
  if (status?.eventLoop) r.tsEventLoop = status.eventLoop;
  let rrdcachedCpu = 0;
  const steady = opts.cachedWindow === 'steady';
  if (run.cached && steady) {
    const stats = await rrdcachedStats(run.cached.port);
    rrdcachedCpu = markRrdcached(run, ticks);
    const before = start.cachedStats!;
    r.rrdcachedValuesWritten = stats.dataSetsWritten - before.dataSetsWritten;
    r.rrdcachedSteady = {
      queueAtStart: before.queueLength,
      queueAtEnd: stats.queueLength,
      updatesReceived: stats.updatesReceived - before.updatesReceived,
      filesWritten: stats.updatesWritten - before.updatesWritten,
    };
  } else if (run.cached) {
    const flushStarted = Date.now();
    const stats = await flushAll(run.cached.port, { timeoutMs: opts.flushTimeoutS * 1000 });
    r.flushSeconds = (Date.now() - flushStarted) / 1000;
    rrdcachedCpu = markRrdcached(run, ticks);
    if (start.cachedStats) r.rrdcachedValuesWritten = stats.dataSetsWritten - start.cachedStats.dataSetsWritten;
  }
  const cpu: CpuMark = { ...d, rrdcached: rrdcachedCpu };
  r.windowSeconds = (d.atMs - start.cpu.atMs) / 1000;
  r.cpu = split(start.cpu, cpu);
  const self = mustSample(run.daemon.pid, ticks, LABEL[run.home.side]).processes[0]!;
  r.rssEndKiB = self.rssKiB;
  r.rssAnonEndKiB = self.rssAnonKiB;
  if (run.home.side === 'ts') r.threadCpu = threadCpu(run.daemon.pid, start.threads, sampleThreads(run.daemon.pid), r.windowSeconds / opts.step, ticks);
  if (sent !== undefined && start.sent !== undefined) r.tsValuesSent = sent - start.sent;
  const inWindow = run.home.served.filter((p) => p.atMs >= start.cpu.atMs && p.atMs <= d.atMs);
  r.polls = inWindow.length;
  const recent = run.home.served.filter((p) => p.atMs >= start.cpu.atMs - opts.step * 1000 && p.atMs <= d.atMs);
  r.meanPollInterval = recent.length >= 2 ? (recent[recent.length - 1]!.atMs - recent[0]!.atMs) / 1000 / (recent.length - 1) : NaN;
  if (start.scan) {
    const scanStartedAt = Date.now();
    const { scan } = await scanTreeOffThread(run.home.rrdRoot, [SUMMARY_DIR]);
    const newest = newestServedLocaltime(run.home, scanStartedAt);
    r.filesScanned = scan.lastUpdate.size;
    r.unreadable = scan.unreadable;
    r.valuesWritten = valuesWrittenBetween(start.scan.lastUpdate, scan.lastUpdate, run.home.served.map((p) => p.localtime));
    r.valuesPolled = scan.lastUpdate.size * inWindow.length;
    // Steady through rrdcached: a value may wait in rrdcached up to -w + -z by design.
    const held = run.cached && steady ? opts.rrdcachedWrite + opts.rrdcachedJitter : r.writeBehind;
    r.lag = lagSummary(scan.lastUpdate.values(), newest, 2 * opts.step + held);
    r.totalFiles = await countRrdFilesOffThread(run.home.rrdRoot);
    if (run.cached && steady) r.freshLag = await freshnessAsRead(run, scan.lastUpdate.keys(), opts);
  }
  const perCycle = cpuPerCycle(r, opts.step);
  log(
    `${LABEL[run.home.side]} [${run.mode}]: window ${fmt(r.windowSeconds, 1)} s, ${r.polls} polls, CPU ${fmt(perCycle, 3)} s/cycle ` +
      `(daemon ${fmt(r.cpu.daemon, 2)}, children ${fmt(r.cpu.children, 2)}, rrdcached ${fmt(r.cpu.rrdcached, 2)} s)` +
      (r.lag ? `; ${r.valuesWritten} values written (${r.valuesPolled} polled), lag max ${r.lag.maxLag} s, ${r.lag.behind} files behind` : ''),
  );
}

/**
 * What a reader through rrdcached (gweb's `rrdtool graph --daemon`) sees: FLUSH a sample of
 * files spread over the tree, then read their last_update. Values the daemon has sent are then
 * in the files, so the lag is the daemon's, not rrdcached's -w.
 */
async function freshnessAsRead(run: SideRun, files: Iterable<string>, opts: Options): Promise<LagSummary> {
  const sample = spreadSample([...files].sort(), opts.freshnessSample);
  const newest = newestServedLocaltime(run.home, Date.now());
  const started = Date.now();
  await flushFiles(run.cached!.port, sample);
  const scan = scanLastUpdates(sample);
  const lag = lagSummary(scan.lastUpdate.values(), newest, 2 * opts.step);
  log(`${LABEL[run.home.side]}: FLUSHed ${sample.length} files in ${fmt((Date.now() - started) / 1000, 1)} s; lag as read through rrdcached max ${lag.maxLag} s, median ${lag.medianLag} s`);
  return lag;
}

async function runMode(mode: RrdMode, homes: readonly SideHome[], opts: Options, ticks: number): Promise<{ runs: SideRun[]; profiles: Map<Side, string> }> {
  log(`=== mode ${mode} ===`);
  const runs: SideRun[] = [];
  const profiles = new Map<Side, string>();
  const writesRrds = mode !== 'baseline';
  try {
    const pollsBefore = new Map<SideHome, number>();
    for (const home of homes) {
      pollsBefore.set(home, home.gmond.connections.length);
      runs.push(await startSide(home, mode, opts));
    }
    // Creation (when the tree is new), then 2 polls of warm-up after it.
    await Promise.all(
      runs.map(async (run) => {
        const before = pollsBefore.get(run.home)!;
        if (writesRrds && !run.home.filesCreated) await measureCreation(run, opts, ticks, before);
        const target = Math.max(run.home.gmond.connections.length, before) + 2;
        try {
          await waitForPolls(run, target, opts.step * 3000 + 30_000);
        } catch (err) {
          // A daemon that polls far slower than its step (the C gmetad at S4 through
          // rrdcached) is measured as it is: the window shows its polls and lag.
          if (!run.daemon.isAlive()) throw err;
          run.result.warmUpIncomplete = true;
          log(`${LABEL[run.home.side]}: ${(err as Error).message.split(';')[0]}; measuring the window anyway`);
          return;
        }
        await sleep(2000);
        log(`${LABEL[run.home.side]}: warmed up`);
      }),
    );
    // Each side's window runs on its own poll phase (see alignMidInterval).
    await Promise.all(
      runs.map(async (run) => {
        if (run.cached && opts.cachedWindow === 'steady') await waitFirstWriteWave(run, opts);
        await alignMidInterval(run, opts.step, run.cached ? 0.35 : 0.5);
        const start = await startWindow(run, opts, ticks, writesRrds);
        const windowEnd = start.cpu.atMs + opts.cycles * opts.step * 1000;
        run.result.statusAnswerMs = await statusAnswerTimes(run.interactivePort, windowEnd);
        await sleep(windowEnd - Date.now());
        await endWindow(run, start, opts, ticks);
      }),
    );
  } finally {
    await stopAll(runs.map((r) => r.daemon));
    await stopAll(runs.flatMap((r) => (r.cached ? [r.cached.daemon] : [])));
  }
  for (const run of runs) {
    if (!run.profileDir) continue;
    const file = newestProfile(run.profileDir);
    if (file) profiles.set(run.home.side, file);
  }
  return { runs, profiles };
}

function machineDescription(cGmetad: string): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let version = 'unknown';
  try {
    version = execFileSync(cGmetad, ['-V'], { encoding: 'utf8' }).trim();
  } catch {
    // --only ts
  }
  let rrdtool = 'rrdtool ?';
  try {
    rrdtool = execFileSync('rrdtool', [], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    // unknown
  }
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, node ${process.version}, ${version}, ${rrdtool}, load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

function modeTitle(mode: RrdMode, opts: Options): string {
  if (mode !== 'cached') return MODE_TITLE[mode];
  const window = opts.cachedWindow === 'steady' ? 'steady state, no forced flush' : 'FLUSHALL before and after the window';
  return `through rrdcached (one per daemon, TCP, -w ${opts.rrdcachedWrite} -z ${opts.rrdcachedJitter}; ${window})`;
}

const MODE_TITLE: Record<Exclude<RrdMode, 'cached'>, string> = {
  baseline: 'baseline: write_rrds off (polling only)',
  direct: 'direct, default configuration: C with librrd, gmetad-ts updating every value at once in-process (rrdtool for creates)',
  'direct-rrdtool': 'direct, gmetad-ts with native_updates off (every update through its rrdtool processes)',
  'direct-wb120': `direct, gmetad-ts with the opt-in write_behind ${writeBehindSeconds('ts', 'direct-wb120')} s (graphs lag by design)`,
};

function describeRun(r: ModeSideResult, step: number): string {
  const parts = [`- ${LABEL[r.side]}: window ${fmt(r.windowSeconds, 1)} s, ${r.polls ?? '-'} polls (mean interval ${fmt(r.meanPollInterval, 2)} s)`];
  if (r.cpu) parts.push(`CPU daemon ${fmt(r.cpu.daemon, 2)} s + children ${fmt(r.cpu.children, 2)} s + rrdcached ${fmt(r.cpu.rrdcached, 2)} s = ${fmt(cpuPerCycle(r, step), 3)} s per cycle`);
  if (r.filesScanned !== undefined) parts.push(`${r.filesScanned} cluster-tree files scanned (${r.unreadable} unreadable), ${r.totalFiles} files in all`);
  if (r.valuesWritten !== undefined) parts.push(`${r.valuesWritten} values written / ${r.valuesPolled} polled`);
  if (r.tsValuesSent !== undefined) parts.push(`/status metrics.sent: ${r.tsValuesSent}`);
  if (r.rssEndKiB !== undefined) parts.push(`daemon VmRSS at the end of the window ${fmt(r.rssEndKiB / 1024, 1)} MiB (RssAnon ${fmt((r.rssAnonEndKiB ?? NaN) / 1024, 1)})`);
  if (r.threadCpu) {
    const t = r.threadCpu;
    parts.push(`CPU s per cycle by thread: port thread ${fmt(t.port, 3)}, RRD update thread ${fmt(t.rrdUpdates, 3)}, parse workers ${fmt(t.parse, 3)}, other (V8, libuv) ${fmt(t.other, 3)}`);
  }
  if (r.rrdcachedSteady) {
    const q = r.rrdcachedSteady;
    parts.push(
      `rrdcached over the window: UpdatesReceived ${q.updatesReceived}, DataSetsWritten ${r.rrdcachedValuesWritten}, files written ${q.filesWritten}, ` +
        `QueueLength ${q.queueAtStart} at the start and ${q.queueAtEnd} at the end`,
    );
  } else if (r.rrdcachedValuesWritten !== undefined) parts.push(`rrdcached DataSetsWritten: ${r.rrdcachedValuesWritten} (flush took ${fmt(r.flushSeconds, 1)} s)`);
  if (r.freshLag) parts.push(`lag as read through rrdcached (FLUSH, then last_update, of ${r.freshLag.files} files spread over the tree): max ${r.freshLag.maxLag} s, median ${r.freshLag.medianLag} s, ${r.freshLag.behind} files more than ${r.freshLag.allowedLag} s behind`);
  if (r.warmUpIncomplete) parts.push(`**warm-up incomplete: the daemon did not make 2 polls within ${3 * step + 30} s after the file creation cycle; the window was measured anyway**`);
  return parts.join('; ');
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const ticks = clockTicksPerSecond();
  if (opts.sides.includes('ts') && !fs.existsSync(opts.mainJs)) throw new Error(`${opts.mainJs} not found: build first (npx tsc -p .)`);
  if (opts.sides.includes('c') && !fs.existsSync(opts.cGmetad)) throw new Error(`${opts.cGmetad} not found (or run --only ts)`);
  if (opts.modes.includes('cached') && !fs.existsSync('/usr/bin/rrdcached')) throw new Error('/usr/bin/rrdcached not found');

  const expected = expectedRrdFiles(opts.hosts, opts.metrics);
  if (opts.modes.some((m) => m !== 'baseline')) assertTreesFit(opts, expected);
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-rrd-bench-'));
  const shmRoot = fs.mkdtempSync(path.join(opts.shm, 'gmetad-rrd-bench-'));
  const homes: SideHome[] = [];
  const trackers: NodeJS.Timeout[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await stopAll([...running]);
      trackers.forEach((t) => clearInterval(t));
      await Promise.all(homes.map((h) => h.gmond.close()));
      fs.rmSync(shmRoot, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the processes we started`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results = new Map<RrdMode, SideRun[]>();
  const profiles = new Map<RrdMode, Map<Side, string>>();
  try {
    for (const side of opts.sides) {
      const started = performance.now();
      const document = new ClusterDocument({ hosts: opts.hosts, metrics: opts.metrics });
      const gmond = await startEmulatedGmond({ document });
      const home: SideHome = {
        side, gmond, served: [], rrdRoot: path.join(shmRoot, side), workDir: path.join(workRoot, side), filesCreated: false,
      };
      fs.mkdirSync(home.rrdRoot, { recursive: true });
      fs.mkdirSync(home.workDir, { recursive: true });
      homes.push(home);
      trackers.push(trackServedPolls(home));
      log(`${LABEL[side]}: emulated gmond on ${gmond.port}, ${(document.size / 1e6).toFixed(1)} MB document (${fmt(performance.now() - started, 0)} ms)`);
    }
    log(`${opts.hosts} hosts x ${opts.metrics} metrics -> ${expected.total} RRD files per daemon; modes ${opts.modes.join(', ')}`);
    let failure: Error | null = null;
    for (const mode of opts.modes) {
      try {
        const out = await runMode(mode, homes, opts, ticks);
        results.set(mode, out.runs);
        profiles.set(mode, out.profiles);
      } catch (err) {
        // Keep what the earlier modes measured: write them, then report the failure.
        failure = err instanceof Error ? err : new Error(String(err));
        break;
      }
    }
    await cleanup();
    writeReport(opts, expected, results, profiles, workRoot, failure);
    if (failure) throw failure;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function writeReport(
  opts: Options,
  expected: ReturnType<typeof expectedRrdFiles>,
  results: ReadonlyMap<RrdMode, SideRun[]>,
  profiles: ReadonlyMap<RrdMode, ReadonlyMap<Side, string>>,
  workRoot: string,
  failure: Error | null,
): void {
  const bySide = (mode: RrdMode, side: Side) => results.get(mode)?.find((r) => r.home.side === side)?.result;
  const baseline: Partial<Record<Side, number>> = {};
  for (const side of opts.sides) {
    const b = bySide('baseline', side);
    const v = b ? cpuPerCycle(b, opts.step) : undefined;
    if (v !== undefined) baseline[side] = v;
  }
  const md: string[] = [
    '# RRD benchmark: gmetad-ts vs C gmetad',
    '',
    `- date: ${new Date().toISOString()}`,
    `- command: \`node dist/bench/rrd.js ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
    `- machine: ${machineDescription(opts.cGmetad)}`,
    `- workload: one emulated gmond cluster per daemon, ${opts.hosts} hosts x ${opts.metrics} metrics; step ${opts.step} s; ` +
      `${expected.total} RRD files per daemon (${expected.host} host metrics + ${expected.summary} summaries) on tmpfs (${opts.shm}); window ${opts.cycles} cycles per mode`,
    `- RRAs (both daemons): ${opts.rras.length ? `${opts.rras.join(' ')} - fewer rows than the default's 5856/20160/52704 (the bench default keeps its consolidations of 1, 4 and 40 steps with 244 rows each), so that 2 x ${expected.total} files fit in RAM (the default makes 630 KB files: ~${((estimateTreeBytes(expected, DAEMON_DEFAULT_RRAS)) / 2 ** 30).toFixed(0)} GiB per tree); an update touches the same RRAs either way` : 'the daemons\' default'}`,
    ...(failure ? [`- **INCOMPLETE: the run stopped with: ${failure.message.split('\n')[0]}**`] : []),
    '- target (issue 11): in the default (direct) mode, with every value in its file within a step as with the C gmetad, the RRD part of gmetad-ts at most 0.5x the C gmetad\'s in the same run',
    '',
  ];
  const text: string[] = [];
  if (Object.keys(baseline).length) {
    md.push(`## baseline (write_rrds off)`, '', ...opts.sides.map((s) => `- ${LABEL[s]}: ${fmt(baseline[s], 3)} CPU s per ${opts.step} s cycle (${describeRun(bySide('baseline', s)!, opts.step).replace(/^- [^:]+: /, '')})`), '');
  }
  for (const mode of opts.modes) {
    if (mode === 'baseline' || !results.has(mode)) continue;
    const rows = modeRows({
      mode, step: opts.step, metrics: expected.total,
      ...(bySide(mode, 'ts') ? { ts: bySide(mode, 'ts')! } : {}),
      ...(bySide(mode, 'c') ? { c: bySide(mode, 'c')! } : {}),
      baseline,
    });
    md.push(`## ${modeTitle(mode, opts)}`, '', markdownTable(rows), '');
    for (const side of opts.sides) {
      const r = bySide(mode, side);
      if (r) md.push(describeRun(r, opts.step));
    }
    md.push('');
    text.push(`== ${modeTitle(mode, opts)}`, textTable(rows), '');
    for (const [side, file] of profiles.get(mode) ?? []) {
      const hot = hotFunctions(readProfile(file), REPO_ROOT, 25);
      md.push(`### ${LABEL[side]} CPU profile in this mode (node process only; top self time)`, '', '```', formatHotFunctions(hot), '```', '');
      text.push(`${LABEL[side]} CPU profile (${mode}):`, formatHotFunctions(hot), '');
    }
  }
  md.push(
    '## Method',
    '',
    '- CPU = utime+stime from /proc of the daemon (all threads), its child processes (gmetad-ts\'s `rrdtool -` pool) and, in the rrdcached mode, its own rrdcached; over the window, scaled to one step. "per metric" divides by the RRD files per daemon listed above.',
    '- RRD part = CPU per cycle minus the same daemon\'s CPU per cycle with write_rrds off (baseline mode of this run).',
    opts.cachedWindow === 'steady'
      ? `- rrdcached, steady state: no forced flush. rrdcached (-w ${opts.rrdcachedWrite} -z ${opts.rrdcachedJitter}) writes each file on its own schedule; the window starts -w + -z + one step after the file creation cycle (or rrdcached's start), when its first write wave is over, and lasts at least -w, so its CPU is that of the steady state. Keeps up: every file's last_update, read without a flush, within -w + -z + 2 steps of the newest poll (rrdcached holds values that long by design; a queue that grew would push files past it), and a sample of ${opts.freshnessSample} files spread over the tree, each FLUSHed first as gweb's \`rrdtool graph --daemon\` does, within 2 steps.`
      : '- rrdcached: FLUSHALL, then wait until its queue is empty and nothing was written for 1 s, both before the window (so no earlier values are written inside it) and after it (so values received in the window are written and their CPU counted). Updates that arrive during the final flush are counted too (slight overestimate for both daemons).',
    `- Values written: every file's last_update is read from its header before and after the window (${opts.cachedWindow === 'steady' ? 'with rrdcached, without a flush: values it held before the window and wrote in it count, so over a window about -w long the share can exceed 1' : 'after the flush, with rrdcached'}); for each file the polls whose LOCALTIME lies between the two are counted. The root __SummaryInfo__ (timestamped with the wall clock, not LOCALTIME) is left out of this scan. "values polled" = scanned files x polls served in the window.`,
    `- Keeps up: after the window every scanned file's last_update is within 2 steps of the newest served poll's LOCALTIME (plus write_behind for gmetad-ts, whose values are held that long by design${opts.cachedWindow === 'steady' ? '; plus -w + -z through rrdcached, see above' : ''}), and the daemon polled on average at least every step + 10 %.`,
    `- gmetad-ts with write_behind (direct-wb120 only): a new process writes each file after a staggered 1..${Math.max(1, Math.round(writeBehindSeconds('ts', 'direct-wb120') / opts.step))} polls, then every write_behind; a window shortly after start-up therefore sees fewer values reach the files than were polled (the rest is held, see the lag), but the same number of rrdtool commands per cycle as later, which is what the CPU depends on.`,
    '- The C column of the direct-rrdtool and direct-wb120 modes is another run of the C gmetad in its only direct configuration.',
    '- The trees are created by the first RRD mode and reused by the next ones (the file creation cycle is timed once).',
    ...(opts.cpuProf ? ['- --cpu-prof was on: the V8 profiler adds CPU to gmetad-ts; use a run without it for the figures.'] : []),
    '',
  );
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, md.join('\n'));
  process.stdout.write(`\n${text.join('\n')}\n`);
  log(`wrote ${opts.out}; configs and logs in ${workRoot}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`rrd-bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
