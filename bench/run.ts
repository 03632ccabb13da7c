/**
 * Side-by-side benchmark of gmetad-ts and the real C gmetad 3.7.2 on one large emulated cluster.
 *
 *   node dist/bench/run.js [--hosts 1000] [--metrics 100] [--sources 1] [--cycles 4] [--only c|ts]
 *                          [--skip-concurrent] [--clients 50] [--cpu-prof] [--ts-node-flags="..."] [--out FILE]
 *
 * Both daemons poll the same documents (generated buffers, one listener per daemon and source
 * so each one's poll times are known), with the same config: `--sources` data_sources (the
 * hosts split evenly between them, one cluster each), 15 s step, write_rrds off.
 * S4 (10,000 x 100) as one source: --hosts 10000; as 10 sources of 100k: --hosts 10000 --sources 10.
 * Phases: warm-up (2 polls) -> idle window of K poll cycles (CPU, RSS, poll cadence) -> single
 * full dumps (median of 5) -> N concurrent full dumps per daemon, started just before a poll is
 * due (completion times, poll lateness) -> event-loop delay from gmetad-ts's /status.
 * Beside them, the floors under two targets, measured in the same run: gmetad-ts holding no
 * data (bench/runtime-floor.ts) and a dump's bytes written from ready buffers to one and to N
 * loopback clients (bench/loopback-floor.ts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commonOptionSpecs, intOption, REPO_ROOT, sidesOption } from './options';
import { maxLateness, median, pollIntervals, pollsExpectedIn } from './cadence';
import { formatHotFunctions, formatLongTasks, hotFunctions, longTasks, newestProfile, readProfile, type HotFunction, type LongTask } from './cpu-profile';
import {
  assertPortsFree,
  cGmetadCommand,
  pickFreePorts,
  renderConfig,
  startDaemon,
  tsGmetadCommand,
  waitListening,
  type RunningDaemon,
  type Side,
} from './daemons';
import { concurrentDumps, fetchDump, fetchStatus, type ConcurrentDumps, type DumpResult } from './dump-client';
import { ClusterDocument, startEmulatedGmond, type EmulatedGmond } from './emulated-cluster';
import { DEFAULTS } from '../src/config/defaults';
import { startTimerProbe, type ProbeFigures, type TimerProbe } from './timer-probe';
import { sampleMachineCpu, sampleProcessTree, sampleSchedule, sampleThreads, clockTicksPerSecond, threadCpuBetween, type MachineCpu, type ProcessTreeSample, type ThreadSchedule } from './proc-stats';
import { PARSE_THREAD_NAME } from '../src/readers/parse-protocol';
import { fmt, markdownTable, ratio, textTable, verdict, type Row } from './report';
import { loopbackFloor } from './loopback-floor';
import { measureRuntimeFloor, type RuntimeFloor } from './runtime-floor';

/** CPU-busy stretches of the daemon listed from its profile: the p99 target is 10 ms. */
const LONG_TASK_MS = 10;



interface BenchOptions {
  readonly hosts: number;
  readonly metrics: number;
  readonly sources: number;
  readonly cycles: number;
  readonly step: number;
  readonly sides: readonly Side[];
  readonly skipConcurrent: boolean;
  readonly clients: number;
  readonly dumps: number;
  readonly clientTimeoutMs: number;
  readonly cpuProf: boolean;
  readonly tsNodeFlags: readonly string[];
  readonly out: string;
  readonly mainJs: string;
  readonly cGmetad: string;
}

function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ...commonOptionSpecs('latest.md'),
      'skip-concurrent': { type: 'boolean', default: false },
      sources: { type: 'string', default: '1' },
      clients: { type: 'string', default: '50' },
      dumps: { type: 'string', default: '5' },
      'client-timeout': { type: 'string', default: '90' },
      'ts-node-flags': { type: 'string', default: '' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/run.js [--hosts N] [--metrics M] [--sources N] [--cycles K] [--step S] [--only c|ts]\n' +
        '       [--skip-concurrent] [--clients N] [--dumps N] [--client-timeout SEC] [--cpu-prof]\n' +
        '       [--ts-node-flags="--trace-gc ..."]\n' +
        '       [--out FILE] [--main dist/src/cli/main.js] [--gmetad /usr/sbin/gmetad]\n',
    );
    process.exit(0);
  }
  const int = intOption;
  return {
    hosts: int('hosts', values.hosts, 1),
    metrics: int('metrics', values.metrics, 1),
    sources: int('sources', values.sources, 1),
    cycles: int('cycles', values.cycles, 1),
    step: int('step', values.step, 2),
    sides: sidesOption(values.only),
    skipConcurrent: values['skip-concurrent'] ?? false,
    clients: int('clients', values.clients, 1),
    dumps: int('dumps', values.dumps, 1),
    clientTimeoutMs: int('client-timeout', values['client-timeout'], 1) * 1000,
    cpuProf: values['cpu-prof'] ?? false,
    tsNodeFlags: (values['ts-node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    out: path.resolve(values.out ?? ''),
    mainJs: path.resolve(values.main ?? ''),
    cGmetad: values.gmetad ?? '/usr/sbin/gmetad',
  };
}

interface EventLoop {
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

interface StatusFigures {
  readonly eventLoop: EventLoop | null;
  readonly pollsOk: number | null;
  /** Total time of the successful polls (connect to published), ms. */
  readonly pollsOkMillis: number | null;
  readonly pollMisses: number | null;
}

/** What we measured for one daemon. */
interface SideResults {
  cpuPerCycle?: number;
  windowSeconds?: number;
  pollsInWindow?: number;
  idleMaxLatenessMs?: number;
  rssMeanKiB?: number;
  /** The RssAnon part of it: private memory, without the pages mapped from files (executable, libraries). */
  rssAnonMeanKiB?: number;
  rssMaxKiB?: number;
  hwmEndKiB?: number;
  hwmAfterWindowKiB?: number;
  /** CPU seconds used during the concurrent batch by the daemon and by this benchmark process (the clients). */
  concurrentDaemonCpu?: number;
  concurrentClientCpu?: number;
  /** gmetad-ts only: CPU s per cycle over the idle window by thread kind (port thread, parse workers, the rest). */
  threadCpuPerCycle?: ThreadSplit;
  dumpCheck?: DumpResult;
  dumps?: DumpResult[];
  dumpMedianMs?: number;
  concurrent?: ConcurrentDumps;
  concurrentPollLatenessMs?: number;
  concurrentPolls?: number;
  /** /status at the end of each phase, with the port thread's scheduler times then (cumulative). */
  status: { phase: string; figures: StatusFigures; portThread: ThreadSchedule | null; probe: ProbeFigures | null }[];
}

/** The floors under two targets on this machine, measured in the same run (gmetad-ts side only). */
interface Floors {
  /** Interrupt and softirq, and steal, CPU s per poll cycle over the idle window, machine-wide. */
  windowMachineCpu?: MachineCpu;
  runtime?: RuntimeFloor;
  /** The check dump's bytes written from ready buffers: to one client (median of 3), and to opts.clients at once. */
  loopbackOneMs?: number;
  loopbackAllMs?: number;
}

interface ThreadSplit {
  readonly port: number;
  /** One entry per parse worker thread (named PARSE_THREAD_NAME by the worker). */
  readonly workers: readonly number[];
  /** V8's helper threads (parallel scavenges, concurrent marking), libuv's pool, the rest. */
  readonly other: number;
}

/** CPU per cycle by thread between two sampleThreads() of the daemon's process. */
function threadSplit(pid: number, before: ReturnType<typeof sampleThreads>, after: ReturnType<typeof sampleThreads>, cycles: number, ticks: number): ThreadSplit {
  let port = 0;
  let other = 0;
  const workers: number[] = [];
  for (const t of threadCpuBetween(pid, before, after, ticks)) {
    if (t.main) port += t.seconds / cycles;
    else if (t.comm === PARSE_THREAD_NAME) workers.push(t.seconds / cycles);
    else other += t.seconds / cycles;
  }
  return { port, workers, other };
}

interface SideState {
  readonly side: Side;
  readonly label: string;
  /** The first source's emulated gmond: the poll cadence phases align on it. */
  readonly gmond: EmulatedGmond;
  /** Every source's, the first one included. */
  readonly gmonds: readonly EmulatedGmond[];
  readonly daemon: RunningDaemon;
  readonly xmlPort: number;
  readonly interactivePort: number;
  readonly workDir: string;
  readonly profileDir: string | null;
  readonly results: SideResults;
  /** gmetad-ts only: the idle process whose timer lateness is read beside its /status. */
  readonly probe: TimerProbe | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const t0 = Date.now();
function log(message: string): void {
  process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

function mustSample(state: SideState, ticks: number): ProcessTreeSample {
  const sample = sampleProcessTree(state.daemon.pid, ticks);
  if (!sample) throw new Error(`${state.label} (pid ${state.daemon.pid}) is gone; see ${state.daemon.logFile}`);
  return sample;
}

function readStatusFigures(json: unknown): StatusFigures {
  const obj = (json ?? {}) as Record<string, unknown>;
  const loop = obj['eventLoop'] as Partial<EventLoop> | undefined;
  // C puts the poll counters under "metrics"; accept them at the top level too.
  const metrics = (obj['metrics'] ?? {}) as Record<string, unknown>;
  const polls = (metrics['polls'] ?? obj['polls']) as { ok?: { num?: unknown; totalMillis?: unknown }; misses?: unknown } | undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    eventLoop:
      loop && typeof loop.maxMs === 'number'
        ? { maxMs: loop.maxMs, p99Ms: num(loop.p99Ms) ?? NaN, meanMs: num(loop.meanMs) ?? NaN }
        : null,
    pollsOk: num(polls?.ok?.num),
    pollsOkMillis: num(polls?.ok?.totalMillis),
    pollMisses: num(polls?.misses),
  };
}

async function recordStatus(state: SideState, phase: string): Promise<void> {
  if (state.side !== 'ts') return; // the C /status has no event loop and every counter is 0
  try {
    const figures = readStatusFigures(await fetchStatus(state.interactivePort));
    const probe = state.probe ? await state.probe.read() : null;
    state.results.status.push({ phase, figures, portThread: sampleSchedule(state.daemon.pid), probe });
  } catch (err) {
    log(`${state.label}: /status failed (${(err as Error).message})`);
  }
}

/** Waits until `gmond` has seen more than `count` connections; false on timeout. */
async function waitForConnections(gmond: EmulatedGmond, count: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (gmond.connections.length < count) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Waits until the daemon's CPU time stops growing for `quietMs` (its poll has been parsed). */
async function waitCpuQuiet(state: SideState, ticks: number, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = mustSample(state, ticks).cpuSeconds;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(250);
    const now = mustSample(state, ticks).cpuSeconds;
    if (now > last + 0.02) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return;
  }
}

async function warmUp(states: readonly SideState[], opts: BenchOptions, ticks: number): Promise<void> {
  log(`warm-up: waiting for 2 polls per daemon (step ${opts.step} s)`);
  await Promise.all(
    states.map(async (s) => {
      if (!(await waitForConnections(s.gmond, 2, opts.step * 2000 + 20_000))) {
        throw new Error(`${s.label} did not poll twice within ${opts.step * 2 + 20} s (polls seen: ${s.gmond.connections.length}); see ${s.daemon.logFile}`);
      }
      await waitCpuQuiet(s, ticks, 1000, 20_000);
      log(`${s.label}: warmed up (${s.gmond.connections.length} polls)`);
    }),
  );
}

/** Idle window: CPU per poll cycle, RSS, baseline cadence. */
async function measureWindow(states: readonly SideState[], opts: BenchOptions, ticks: number, floors: Floors): Promise<void> {
  const windowMs = opts.cycles * opts.step * 1000;
  log(`window: ${opts.cycles} poll cycles (${windowMs / 1000} s), sampling CPU and RSS every second`);
  const startedAt = Date.now();
  const first = states.map((s) => mustSample(s, ticks));
  const firstThreads = states.map((s) => sampleThreads(s.daemon.pid));
  const firstMachine = sampleMachineCpu(ticks);
  const rss: number[][] = states.map(() => []);
  const rssAnon: number[][] = states.map(() => []);
  while (Date.now() - startedAt < windowMs) {
    await sleep(Math.min(1000, windowMs - (Date.now() - startedAt)));
    states.forEach((s, i) => {
      const sample = mustSample(s, ticks);
      rss[i]!.push(sample.rssKiB);
      rssAnon[i]!.push(sample.rssAnonKiB);
    });
  }
  const endedAt = Date.now();
  const lastMachine = sampleMachineCpu(ticks);
  const cycles = (endedAt - startedAt) / 1000 / opts.step;
  floors.windowMachineCpu = {
    irqSeconds: (lastMachine.irqSeconds - firstMachine.irqSeconds) / cycles,
    stealSeconds: (lastMachine.stealSeconds - firstMachine.stealSeconds) / cycles,
  };
  states.forEach((s, i) => {
    const last = mustSample(s, ticks);
    const seconds = (last.atMs - first[i]!.atMs) / 1000;
    const r = s.results;
    if (s.side === 'ts') r.threadCpuPerCycle = threadSplit(s.daemon.pid, firstThreads[i]!, sampleThreads(s.daemon.pid), seconds / opts.step, ticks);
    r.windowSeconds = seconds;
    r.cpuPerCycle = (last.cpuSeconds - first[i]!.cpuSeconds) / (seconds / opts.step);
    r.pollsInWindow = s.gmonds.reduce((n, g) => n + g.connections.filter((t) => t >= startedAt && t <= endedAt).length, 0);
    r.rssMeanKiB = rss[i]!.reduce((a, b) => a + b, 0) / rss[i]!.length;
    r.rssAnonMeanKiB = rssAnon[i]!.reduce((a, b) => a + b, 0) / rssAnon[i]!.length;
    r.rssMaxKiB = Math.max(...rss[i]!);
    r.hwmAfterWindowKiB = last.hwmKiB;
    const arrived = s.gmonds.flatMap((g) => pollsExpectedIn(g.connections, opts.step * 1000, startedAt, endedAt, endedAt).filter((p) => p.arrivedAt !== null));
    r.idleMaxLatenessMs = maxLateness(arrived);
    log(
      `${s.label}: CPU ${fmt(r.cpuPerCycle, 3)} s/cycle, RSS mean ${fmt(r.rssMeanKiB / 1024, 1)} MiB, ` +
        `${r.pollsInWindow} polls, idle max lateness ${fmt(r.idleMaxLatenessMs, 0)} ms` +
        (r.threadCpuPerCycle
          ? `; by thread: port ${fmt(r.threadCpuPerCycle.port, 3)}, workers ${r.threadCpuPerCycle.workers.map((w) => fmt(w, 3)).join(' + ')}, other ${fmt(r.threadCpuPerCycle.other, 3)}`
          : ''),
    );
  });
  await Promise.all(states.map((s) => recordStatus(s, 'after idle window (polls only)')));
}

async function measureSingleDumps(state: SideState, opts: BenchOptions): Promise<void> {
  const r = state.results;
  r.dumpCheck = await fetchDump(state.xmlPort, { count: true, timeoutMs: opts.clientTimeoutMs });
  log(`${state.label}: check dump ${r.dumpCheck.bytes} bytes, ${r.dumpCheck.hosts} hosts, ${r.dumpCheck.metrics} metrics, ${r.dumpCheck.ended}`);
  r.dumps = [];
  for (let i = 0; i < opts.dumps; i++) r.dumps.push(await fetchDump(state.xmlPort, { timeoutMs: opts.clientTimeoutMs }));
  r.dumpMedianMs = median(r.dumps.map((d) => d.ms));
  log(`${state.label}: full dump median ${fmt(r.dumpMedianMs, 0)} ms (${r.dumps.map((d) => d.ms.toFixed(0)).join(', ')})`);
  await recordStatus(state, 'after single dumps');
}

/** Sleeps until `leadMs` before the next expected poll (so a poll falls inside the next phase). */
async function alignBeforePoll(state: SideState, stepMs: number, leadMs: number): Promise<void> {
  for (;;) {
    const conns = state.gmond.connections;
    const expected = conns[conns.length - 1]! + stepMs;
    const wait = expected - leadMs - Date.now();
    if (wait >= 0) return sleep(wait);
    // Too close (or overdue): let that poll happen, then aim at the following one.
    await waitForConnections(state.gmond, conns.length + 1, stepMs + 10_000);
  }
}

async function measureConcurrent(state: SideState, opts: BenchOptions, ticks: number): Promise<void> {
  const stepMs = opts.step * 1000;
  const leadMs = 2000;
  await alignBeforePoll(state, stepMs, leadMs);
  log(`${state.label}: ${opts.clients} concurrent full dumps (per-client timeout ${opts.clientTimeoutMs / 1000} s)`);
  const daemonBefore = mustSample(state, ticks).cpuSeconds;
  const clientBefore = process.cpuUsage();
  const batch = await concurrentDumps(state.xmlPort, opts.clients, opts.clientTimeoutMs);
  const client = process.cpuUsage(clientBefore);
  state.results.concurrentClientCpu = (client.user + client.system) / 1e6;
  state.results.concurrentDaemonCpu = mustSample(state, ticks).cpuSeconds - daemonBefore;
  state.results.concurrent = batch;
  // The window always covers the poll we aligned to, even if the dumps finished before it.
  const windowEnd = Math.max(batch.endedAt, batch.startedAt + leadMs + 1000);
  // Let every poll expected inside the window arrive (or be clearly late).
  for (;;) {
    const conns = state.gmond.connections;
    const nextExpected = conns[conns.length - 1]! + stepMs;
    if (nextExpected > windowEnd || Date.now() > nextExpected + 5000) break;
    await sleep(100);
  }
  const polls = state.gmonds.flatMap((g) => pollsExpectedIn(g.connections, stepMs, batch.startedAt, windowEnd, Date.now()));
  state.results.concurrentPolls = polls.length;
  state.results.concurrentPollLatenessMs = maxLateness(polls);
  const ok = batch.results.filter((d) => d.ok).length;
  log(
    `${state.label}: all done in ${fmt(batch.wallMs / 1000, 2)} s, ${ok}/${opts.clients} complete, ` +
      `slowest ${fmt(Math.max(...batch.results.map((d) => d.ms)) / 1000, 2)} s; ` +
      `${polls.length} poll(s) due meanwhile, max lateness ${fmt(state.results.concurrentPollLatenessMs, 0)} ms`,
  );
  await recordStatus(state, 'after concurrent dumps');
}

/**
 * The floor under the concurrent dumps: the check dump's bytes written from ready buffers,
 * nothing rendered, to one client (median of 3) and then to as many clients as the batch had,
 * started as the batch was (just before one of gmetad-ts's polls is due), so a poll falls inside.
 */
async function measureLoopbackFloors(state: SideState, opts: BenchOptions, floors: Floors): Promise<void> {
  const bytes = state.results.dumpCheck?.bytes;
  if (!bytes) return;
  const one: number[] = [];
  for (let i = 0; i < 3; i++) one.push((await loopbackFloor(1, bytes)).wallMs);
  floors.loopbackOneMs = median(one);
  await alignBeforePoll(state, opts.step * 1000, 2000);
  floors.loopbackAllMs = (await loopbackFloor(opts.clients, bytes)).wallMs;
  log(`the machine's floor: ${(bytes / 1e6).toFixed(1)} MB from ready buffers to 1 client in ${fmt(floors.loopbackOneMs, 0)} ms ` +
    `(${one.map((ms) => ms.toFixed(0)).join(', ')}), to ${opts.clients} at once in ${fmt(floors.loopbackAllMs, 0)} ms`);
}

type StatusRead = SideResults['status'][number];

/**
 * Largest of `maxOf` over the /status reads up to phase `upTo` (all if none): correct whether
 * the figure is reset on read or cumulative. Used for the daemon's loop and the idle probe's.
 */
function maxOverReads(r: SideResults, maxOf: (s: StatusRead) => number | undefined, upTo?: string): number | undefined {
  let max: number | undefined;
  for (const s of r.status) {
    const value = maxOf(s);
    if (value !== undefined) max = Math.max(max ?? 0, value);
    if (s.phase === upTo) break;
  }
  return max;
}

const eventLoopMax = (r: SideResults, upTo?: string) => maxOverReads(r, (s) => s.figures.eventLoop?.maxMs, upTo);
const probeMax = (r: SideResults, upTo?: string) => maxOverReads(r, (s) => s.probe?.maxMs, upTo);

/** p99 of the last /status read (the histogram is cumulative since start, so the last read covers the run). */
function eventLoopP99(r: SideResults): number | undefined {
  const last = [...r.status].reverse().find((s) => s.figures.eventLoop);
  const p99 = last?.figures.eventLoop?.p99Ms;
  return p99 === undefined || Number.isNaN(p99) ? undefined : p99;
}

function buildRows(byS: Partial<Record<Side, SideResults>>, floors: Floors, opts: BenchOptions): Row[] {
  const ts = byS.ts;
  const c = byS.c;
  const mib = (kib: number | undefined) => (kib === undefined ? undefined : kib / 1024);
  const rows: Row[] = [];
  const compare = (figure: string, tsV: number | undefined, cV: number | undefined, digits: number, target: string, pass: (ratio: number) => boolean) => {
    const measured = tsV !== undefined && cV !== undefined && Number.isFinite(tsV) && Number.isFinite(cV) && cV > 0;
    rows.push({ figure, ts: fmt(tsV, digits), c: fmt(cV, digits), ratio: ratio(tsV, cV), target, verdict: verdict(measured, measured && pass(tsV! / cV!)) });
  };
  const absolute = (figure: string, tsV: number | undefined, cV: number | undefined, digits: number, target: string, pass: boolean | undefined, withRatio = true) => {
    rows.push({ figure, ts: fmt(tsV, digits), c: fmt(cV, digits), ratio: withRatio ? ratio(tsV, cV) : '-', target, verdict: verdict(pass !== undefined, pass === true) });
  };
  // Issue 9's targets: S2 (1000 x 100) and S4 (10,000 x 100, a million metrics).
  const s4 = opts.hosts * opts.metrics >= 500_000;
  const rssTarget = s4 ? 0.3 : 0.5;
  const dumpTarget = s4 ? 1 / 3 : 0.15;
  compare(`CPU s per poll cycle, all threads (${opts.step} s)`, ts?.cpuPerCycle, c?.cpuPerCycle, 3, '<= 1.0x C', (x) => x <= 1);
  compare('RSS steady, mean VmRSS (MiB)', mib(ts?.rssMeanKiB), mib(c?.rssMeanKiB), 1, `<= ${rssTarget}x C`, (x) => x <= rssTarget);
  compare('RSS steady without file-mapped pages, mean RssAnon (MiB)', mib(ts?.rssAnonMeanKiB), mib(c?.rssAnonMeanKiB), 1, 'info', () => true);
  if (floors.runtime) {
    const target = c?.rssMeanKiB === undefined ? '' : `; the target is ${fmt(rssTarget * c.rssMeanKiB / 1024, 1)} MiB`;
    absolute(`gmetad-ts holding no data (one refused source, ${floors.runtime.workerStarted ? 'its parse worker started' : 'NO parse worker seen'}): VmRSS (RssAnon) (MiB)`,
      mib(floors.runtime.rssKiB), undefined, 1, `info: the runtime's floor, RssAnon ${fmt(mib(floors.runtime.rssAnonKiB), 1)} MiB${target}`, undefined, false);
  }
  compare('RSS peak, VmHWM at end (MiB)', mib(ts?.hwmEndKiB), mib(c?.hwmEndKiB), 1, 'info', () => true);
  compare(`full dump, median of ${opts.dumps} (s)`, sec(ts?.dumpMedianMs), sec(c?.dumpMedianMs), 3,
    s4 ? '>= 3x faster (ratio <= 0.33)' : '>= 5x faster with margin (ratio <= 0.15)', (x) => x <= dumpTarget);
  const tsBytes = ts?.dumpCheck?.bytes;
  const cBytes = c?.dumpCheck?.bytes;
  const sizeOk = ts?.dumpCheck && c?.dumpCheck ? dumpsAgree(ts.dumpCheck, c.dumpCheck) : undefined;
  absolute('full dump size (MB)', mb(tsBytes), mb(cBytes), 2, 'complete, sizes within 5%', sizeOk);
  if (!opts.skipConcurrent) {
    const all = (r: SideResults | undefined) => (r?.concurrent ? r.concurrent.wallMs / 1000 : undefined);
    const okCount = (r: SideResults | undefined) => r?.concurrent?.results.filter((d) => d.ok).length;
    const tsAll = all(ts);
    const tsOk = okCount(ts);
    absolute(
      `${opts.clients} concurrent dumps: all complete (s)`,
      tsAll,
      all(c),
      2,
      s4 ? '<= 3x one dump, all complete' : '<= 2 s, all complete',
      tsAll === undefined ? undefined : tsAll <= (s4 ? 3 * (sec(ts?.dumpMedianMs) ?? 0) : 2) && tsOk === opts.clients,
    );
    if (floors.loopbackOneMs !== undefined && floors.loopbackAllMs !== undefined) {
      const floorRatio = floors.loopbackAllMs / floors.loopbackOneMs;
      absolute('the machine\'s floor: the dump\'s bytes from ready buffers (nothing rendered) to 1 client, median of 3 (s)',
        sec(floors.loopbackOneMs), undefined, 3, 'info', undefined, false);
      absolute(`the machine's floor: the same bytes to ${opts.clients} clients at once, started as the batch was (s)`,
        sec(floors.loopbackAllMs), undefined, 2, `info: ${fmt(floorRatio, 1)}x the 1-client time${s4 ? ' (the daemon\'s target: 3x one dump)' : ''}`, undefined, false);
    }
    const slowest = (r: SideResults | undefined) => (r?.concurrent ? Math.max(...r.concurrent.results.map((d) => d.ms)) / 1000 : undefined);
    absolute(`${opts.clients} concurrent dumps: slowest client (s)`, slowest(ts), slowest(c), 2, 'info', undefined);
    rows.push({
      figure: `${opts.clients} concurrent dumps: completed / timed out / failed`,
      ts: outcome(ts?.concurrent),
      c: outcome(c?.concurrent),
      ratio: '-',
      target: `${opts.clients} / 0 / 0`,
      verdict: verdict(tsOk !== undefined, tsOk === opts.clients),
    });
    const late = (r: SideResults | undefined) => (r?.concurrentPollLatenessMs === undefined ? undefined : r.concurrentPollLatenessMs / 1000);
    const tsLate = late(ts);
    absolute('max poll lateness during concurrent dumps (s)', tsLate, late(c), 2, '<= 1 s', tsLate === undefined ? undefined : tsLate <= 1, false);
  }
  const idleLate = (r: SideResults | undefined) => (r?.idleMaxLatenessMs === undefined || !Number.isFinite(r.idleMaxLatenessMs) ? undefined : r.idleMaxLatenessMs / 1000);
  absolute('max poll lateness, idle window (s)', idleLate(ts), idleLate(c), 2, 'info (C jitter is +-5% of step)', undefined, false);
  const loopPolls = ts ? eventLoopMax(ts, 'after idle window (polls only)') : undefined;
  const loopAll = ts ? eventLoopMax(ts) : undefined;
  absolute('event-loop max lateness beyond the 10 ms timer, start-up + idle polls (ms)', loopPolls, undefined, 1, '<= 50 ms', loopPolls === undefined ? undefined : loopPolls <= 50);
  absolute('event-loop max lateness, whole run incl. dumps (ms)', loopAll, undefined, 1, '<= 50 ms', loopAll === undefined ? undefined : loopAll <= 50);
  const p99 = ts ? eventLoopP99(ts) : undefined;
  absolute('event-loop p99 lateness, whole run incl. dumps (ms)', p99, undefined, 1, '<= 10 ms', p99 === undefined ? undefined : p99 <= 10);
  // The machine's floor in the same run: the same timer in an idle process (bench/timer-probe.ts).
  const probeNice = ts?.status.find((s) => s.probe)?.probe?.nice;
  const floorPolls = ts ? probeMax(ts, 'after idle window (polls only)') : undefined;
  if (ts && floorPolls !== undefined) {
    const floor = `the same timer in an idle process at nice ${probeNice}`;
    absolute(`${floor}: max, start-up + idle polls (ms)`, floorPolls, undefined, 1, 'info: the machine\'s floor', undefined, false);
    absolute(`${floor}: max, whole run (ms)`, probeMax(ts), undefined, 1, 'info: the machine\'s floor', undefined, false);
    absolute(`${floor}: p99, whole run (ms)`, ts.status.at(-1)?.probe?.p99Ms, undefined, 1, 'info: the machine\'s floor', undefined, false);
  }
  if (floors.windowMachineCpu) {
    absolute('machine-wide interrupt + softirq CPU s per cycle, idle window (all processes; preempts any thread)', floors.windowMachineCpu.irqSeconds, undefined, 3, 'info', undefined, false);
    absolute('machine-wide steal CPU s per cycle, idle window (the hypervisor ran something else)', floors.windowMachineCpu.stealSeconds, undefined, 3, 'info', undefined, false);
  }
  const misses = ts?.status.at(-1)?.figures.pollMisses ?? undefined;
  absolute('polls missed (longer than their step), whole run', misses ?? undefined, undefined, 0, '0', misses === undefined || misses === null ? undefined : misses === 0, false);
  return rows;
}

function sec(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

function mb(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / 1e6;
}

function outcome(batch: ConcurrentDumps | undefined): string {
  if (!batch) return '-';
  const ok = batch.results.filter((d) => d.ok).length;
  const timeouts = batch.results.filter((d) => d.ended === 'timeout').length;
  return `${ok} / ${timeouts} / ${batch.results.length - ok - timeouts}`;
}

/** Both dumps complete, same host/metric counts, byte sizes within 5%. */
function dumpsAgree(a: DumpResult, b: DumpResult): boolean {
  return a.ok && b.ok && a.hosts === b.hosts && a.metrics === b.metrics && Math.abs(a.bytes - b.bytes) <= 0.05 * Math.max(a.bytes, b.bytes);
}

function describeSide(label: string, r: SideResults | undefined, opts: BenchOptions): string[] {
  if (!r) return [];
  const lines = [`### ${label}`, ''];
  if (r.cpuPerCycle !== undefined) {
    lines.push(
      `- idle window: ${fmt(r.windowSeconds, 1)} s, ${r.pollsInWindow} polls, CPU ${fmt(r.cpuPerCycle, 3)} s per ${opts.step} s cycle, ` +
        `VmRSS mean ${fmt((r.rssMeanKiB ?? NaN) / 1024, 1)} MiB / max ${fmt((r.rssMaxKiB ?? NaN) / 1024, 1)} MiB, VmHWM after the window ${fmt((r.hwmAfterWindowKiB ?? NaN) / 1024, 1)} MiB, at the end ${fmt((r.hwmEndKiB ?? NaN) / 1024, 1)} MiB`,
    );
  }
  if (r.threadCpuPerCycle) {
    const t = r.threadCpuPerCycle;
    lines.push(
      `- idle window CPU s per cycle by thread: port thread ${fmt(t.port, 3)}, parse workers ${t.workers.map((w) => fmt(w, 3)).join(' + ') || '-'}, ` +
        `other threads (V8 helpers: parallel scavenge and marking; libuv) ${fmt(t.other, 3)}`,
    );
  }
  if (r.dumpCheck) {
    const d = r.dumpCheck;
    lines.push(`- check dump: ${d.bytes} bytes, ${d.hosts} HOST, ${d.metrics} METRIC, ended ${d.ended}${d.ok ? '' : ' (INCOMPLETE)'}`);
  }
  if (r.dumps) {
    lines.push(`- single dumps (ms): ${r.dumps.map((d) => `${d.ms.toFixed(0)}${d.ok ? '' : ` (${d.ended})`}`).join(', ')}; first byte after ${r.dumps.map((d) => d.firstByteMs.toFixed(0)).join(', ')} ms`);
  }
  if (r.concurrent) {
    const times = r.concurrent.results.filter((d) => d.ok).map((d) => d.ms / 1000).sort((a, b) => a - b);
    const bad = r.concurrent.results.filter((d) => !d.ok);
    const noByte = bad.filter((d) => d.bytes === 0).length;
    lines.push(
      `- ${r.concurrent.results.length} concurrent dumps: all done after ${fmt(r.concurrent.wallMs / 1000, 2)} s; ` +
        `${times.length} complete, per complete client min ${fmt(times[0], 2)} / median ${fmt(median(times), 2)} / max ${fmt(times[times.length - 1], 2)} s; ` +
        `${bad.length} not complete (${noByte} of them received no byte at all)` +
        `${bad.length ? `, e.g. ${bad.map((d) => `${d.ended} after ${(d.ms / 1000).toFixed(1)} s with ${d.bytes} B`).slice(0, 3).join('; ')}` : ''}; ` +
        `${r.concurrentPolls} poll(s) due meanwhile, max lateness ${fmt(r.concurrentPollLatenessMs, 0)} ms; ` +
        `CPU used meanwhile: daemon ${fmt(r.concurrentDaemonCpu, 2)} s, benchmark clients ${fmt(r.concurrentClientCpu, 2)} s`,
    );
  }
  let previous: ThreadSchedule | null = null;
  for (const s of r.status) {
    const f = s.figures;
    // On a shared machine the loop's lateness includes time the port thread waited for a core.
    const since = s.portThread && previous
      ? `; port thread since the last reading: ran ${fmt(s.portThread.runSeconds - previous.runSeconds, 2)} s, waited for a core ${fmt(s.portThread.waitSeconds - previous.waitSeconds, 2)} s`
      : '';
    previous = s.portThread;
    const loop = f.eventLoop ? `eventLoop max ${fmt(f.eventLoop.maxMs, 1)} / p99 ${fmt(f.eventLoop.p99Ms, 1)} / mean ${fmt(f.eventLoop.meanMs, 2)} ms` : 'no eventLoop in /status';
    const meanPoll = f.pollsOk && f.pollsOkMillis !== null ? ` (mean ${fmt(f.pollsOkMillis / f.pollsOk, 0)} ms per poll)` : '';
    const floor = s.probe ? `; idle process at nice ${s.probe.nice}: max ${fmt(s.probe.maxMs, 1)} / p99 ${fmt(s.probe.p99Ms, 1)} ms` : '';
    lines.push(`- /status ${s.phase}: ${loop}; polls ok ${f.pollsOk ?? '-'}${meanPoll}, misses ${f.pollMisses ?? '-'}${since}${floor}`);
  }
  lines.push('');
  return lines;
}

function machineDescription(cGmetad: string): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let gmetadVersion = 'unknown';
  try {
    gmetadVersion = execFileSync(cGmetad, ['-V'], { encoding: 'utf8' }).trim();
  } catch {
    // not installed: --only ts
  }
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, node ${process.version}, ${gmetadVersion}, load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const ticks = clockTicksPerSecond();
  if (opts.sides.includes('ts') && !fs.existsSync(opts.mainJs)) {
    throw new Error(`${opts.mainJs} not found: build first (npx tsc -p .), or run --only c`);
  }
  if (opts.sides.includes('c') && !fs.existsSync(opts.cGmetad)) throw new Error(`${opts.cGmetad} not found (or run --only ts)`);

  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-bench-'));
  const listeners: EmulatedGmond[] = [];
  const states: SideState[] = [];
  let probe: TimerProbe | null = null;
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await Promise.all(states.map((s) => s.daemon.stop()));
      await probe?.stop();
      await Promise.all(listeners.map((l) => l.close()));
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the daemons we started`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    log(`generating ${opts.hosts} hosts x ${opts.metrics} metrics in ${opts.sources} source(s)`);
    const genStart = performance.now();
    const sourceNames = Array.from({ length: opts.sources }, (_, i) => (opts.sources === 1 ? 'BenchCluster' : `BenchCluster${i + 1}`));
    const documents = sourceNames.map((clusterName, i) => new ClusterDocument({
      hosts: Math.floor(opts.hosts / opts.sources) + (i < opts.hosts % opts.sources ? 1 : 0), metrics: opts.metrics, clusterName,
    }));
    const documentBytes = documents.reduce((n, d) => n + d.size, 0);
    log(`documents: ${(documentBytes / 1e6).toFixed(1)} MB, ${documents.reduce((n, d) => n + d.metricCount, 0)} metrics, generated in ${(performance.now() - genStart).toFixed(0)} ms`);

    // Beside gmetad-ts, at its port thread's nice value (the daemon's default; the bench runs as root).
    const floors: Floors = {};
    if (opts.sides.includes('ts')) {
      // Alone, before the daemons start: what gmetad-ts takes with no data.
      floors.runtime = await measureRuntimeFloor(opts.mainJs, path.join(workRoot, 'floor'), opts.tsNodeFlags);
      log(`gmetad-ts holding no data: VmRSS ${fmt(floors.runtime.rssKiB / 1024, 1)} MiB, RssAnon ${fmt(floors.runtime.rssAnonKiB / 1024, 1)} MiB, parse worker ${floors.runtime.workerStarted ? 'started' : 'not seen'}`);
      probe = await startTimerProbe(DEFAULTS.portThreadNice);
    }
    for (const side of opts.sides) {
      const label = side === 'ts' ? 'gmetad-ts' : 'C gmetad';
      const gmonds: EmulatedGmond[] = [];
      for (const document of documents) gmonds.push(await startEmulatedGmond({ document }));
      listeners.push(...gmonds);
      const gmond = gmonds[0]!;
      const moreSources = gmonds.slice(1).map((g, i) => ({ name: sourceNames[i + 1]!, gmondPort: g.port }));
      const [xmlPort, interactivePort] = await pickFreePorts(2);
      await assertPortsFree([xmlPort!, interactivePort!]);
      const workDir = path.join(workRoot, side);
      fs.mkdirSync(path.join(workDir, 'rrds'), { recursive: true });
      const conf = path.join(workDir, 'gmetad.conf');
      fs.writeFileSync(
        conf,
        renderConfig({ side, gridName: 'BenchGrid', sourceName: sourceNames[0]!, step: opts.step, gmondPort: gmond.port, xmlPort: xmlPort!, interactivePort: interactivePort!, workDir, moreSources }),
      );
      const profileDir = side === 'ts' && opts.cpuProf ? path.join(workDir, 'cpuprofile') : null;
      const cmd = side === 'ts' ? tsGmetadCommand(conf, opts.mainJs, profileDir ?? undefined, opts.tsNodeFlags) : cGmetadCommand(conf, opts.cGmetad);
      const daemon = startDaemon(side, cmd, path.join(workDir, 'daemon.log'));
      const state: SideState = { side, label, gmond, gmonds, daemon, xmlPort: xmlPort!, interactivePort: interactivePort!, workDir, profileDir, results: { status: [] }, probe: side === 'ts' ? probe : null };
      states.push(state);
      log(`${label}: pid ${daemon.pid}, xml ${xmlPort}, interactive ${interactivePort}, gmond ${gmond.port}, dir ${workDir}`);
      await waitListening(daemon, [xmlPort!, interactivePort!]);
      await recordStatus(state, 'right after start-up');
    }

    await warmUp(states, opts, ticks);
    await measureWindow(states, opts, ticks, floors);
    for (const s of states) await measureSingleDumps(s, opts);
    if (!opts.skipConcurrent) for (const s of states) await measureConcurrent(s, opts, ticks);
    const tsRunning = states.find((s) => s.side === 'ts');
    if (!opts.skipConcurrent && tsRunning) await measureLoopbackFloors(tsRunning, opts, floors);
    for (const s of states) s.results.hwmEndKiB = mustSample(s, ticks).hwmKiB;

    const byS: Partial<Record<Side, SideResults>> = {};
    for (const s of states) byS[s.side] = s.results;
    const pollLog = states.map((s) => `${s.label}: ${pollIntervals(s.gmond.connections).map((i) => (i / 1000).toFixed(2)).join(', ')}`);

    await cleanup();
    let hot: HotFunction[] = [];
    let long: LongTask[] = [];
    const tsState = states.find((s) => s.side === 'ts');
    if (tsState?.profileDir) {
      const file = newestProfile(tsState.profileDir);
      if (file) {
        const profile = readProfile(file);
        hot = hotFunctions(profile, REPO_ROOT, 20);
        long = longTasks(profile, LONG_TASK_MS, 15);
      }
      else log(`no .cpuprofile in ${tsState.profileDir} (did the daemon exit cleanly on SIGTERM?)`);
    }

    const rows = buildRows(byS, floors, opts);
    const table = textTable(rows);
    process.stdout.write(`\n${table}\n`);
    if (hot.length) process.stdout.write(`\ngmetad-ts CPU profile, top self time:\n${formatHotFunctions(hot)}\n`);
    if (long.length) process.stdout.write(`\ngmetad-ts CPU-busy stretches >= ${LONG_TASK_MS} ms (no idle sample; may span several event-loop turns), longest first:\n${formatLongTasks(long)}\n`);

    const md = [
      '# gmetad-ts vs C gmetad benchmark',
      '',
      `- date: ${new Date().toISOString()}`,
      `- command: \`node dist/bench/run.js ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
      `- machine: ${machineDescription(opts.cGmetad)}`,
      `- workload: ${opts.sources} emulated gmond cluster(s), ${opts.hosts} hosts x ${opts.metrics} metrics in all, ${(documentBytes / 1e6).toFixed(1)} MB per poll cycle; ` +
        `${opts.sources} data_source(s), step ${opts.step} s, write_rrds off; idle window ${opts.cycles} cycles; ${opts.dumps} single dumps; ` +
        (opts.skipConcurrent ? 'concurrent dumps skipped' : `${opts.clients} concurrent dumps (per-client timeout ${opts.clientTimeoutMs / 1000} s)`),
      '- reference C figures measured earlier on this machine: 0.40 CPU s per poll cycle, 99 MiB RSS, full dump 0.59 s',
      '',
      markdownTable(rows),
      '',
      '## Details',
      '',
      ...describeSide('gmetad-ts', byS.ts, opts),
      ...describeSide('C gmetad', byS.c, opts),
      '### Poll intervals (s)',
      '',
      ...pollLog.map((l) => `- ${l}`),
      '',
      '## Notes',
      '',
      '- CPU = utime+stime of the daemon process (and children) from /proc, over the idle window, scaled to one step. RSS = VmRSS sampled every second in that window; peak = VmHWM. RssAnon is the part of VmRSS that is not mapped from files: node\'s executable and libraries (about 34 MiB of pages shared with any other node process) are in VmRSS only.',
      '- The floors are measured in this run. "Holding no data": gmetad-ts started alone before the comparison, with one data_source whose port refuses, sampled 4-8 s after start (bench/runtime-floor.ts). "From ready buffers": the check dump\'s byte count written by this benchmark process from prepared 1 MiB buffers to clients in a child process (bench/loopback-floor.ts), after the daemons\' concurrent dumps; the N-client batch starts 2 s before a gmetad-ts poll is due, as its dumps did.',
      '- Poll lateness = arrival of a poll at the emulated gmond minus (previous poll + step). The C gmetad sleeps step +-5 % by design, so +-0.75 s is normal jitter for it.',
      '- Concurrent dumps start 2 s before a poll is due, so at least one poll falls inside them. The benchmark clients run in this process; their CPU is listed above.',
      ...(opts.cpuProf ? ['- --cpu-prof was on: the V8 sampling profiler itself costs CPU (about 0.6 s per 15 s cycle here even when idle), so the gmetad-ts CPU and timing figures of this run are inflated; use a run without it for the figures.'] : []),
      '- gmetad-ts event-loop figures come from its /status: a repeating 10 ms timer on the port thread (src/util/loop-delay.ts), cumulative since start, run while the loop has work (from a connection, a poll result, the root summary or a reload until the loop has been idle for 1 s) and recording how late each tick ran beyond its schedule. A task of B ms shows as between B - 10 and B ms of lateness, and on a loaded machine the figures include time the port thread waited for a core. Idle stretches are not sampled, so p99 is over busy time only (stricter than over the whole run).',
      '- "The same timer in an idle process": bench/timer-probe.ts runs only that monitor, in a process of its own at the nice value of the daemon\'s port thread, read at the same moments as /status. It has no work of its own, so its lateness is time spent waiting for a core on this machine in this run: the floor under the daemon\'s figures.',
      ...(byS.c?.concurrent?.results.some((d) => !d.ok && d.bytes === 0)
        ? ['- C gmetad clients that got no byte at all: gmetad serves the XML port with 2 threads and a listen backlog of 10; connections made while that queue is full are, on Linux (tcp_abort_on_overflow=0), left half-open and are never served, so they wait until the client timeout.']
        : []),
      '',
      ...(hot.length ? ['## gmetad-ts CPU profile (top self time)', '', '```', formatHotFunctions(hot), '```', ''] : []),
      ...(long.length ? [`## gmetad-ts CPU-busy stretches >= ${LONG_TASK_MS} ms (from the CPU profile; no idle sample in between, may span several event-loop turns)`, '', '```', formatLongTasks(long), '```', ''] : []),
    ].join('\n');
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, md);
    log(`wrote ${opts.out}; daemon logs and configs in ${workRoot}`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
