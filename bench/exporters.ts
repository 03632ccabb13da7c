/**
 * Exporter benchmark: the emulated 1000-host × 100-metric cluster of bench/run.ts, with
 * gmetad-ts exporting to Graphite, memcached and Riemann in turn, beside the C gmetad 3.7.2
 * exporting to Graphite (it has no memcached or Riemann support in the Debian build).
 *
 *   node dist/bench/exporters.js [--hosts 1000] [--metrics 100] [--cycles 4] [--step 15]
 *                                [--modes baseline,graphite,memcached,riemann] [--out FILE]
 *
 * Each mode starts fresh daemons on their own emulated gmond (same document), waits two polls,
 * then takes a window of K poll cycles: the CPU of each daemon over the window, and, per poll
 * served in the window, how many of its values reached the receiver (counted by the poll's
 * LOCALTIME, which every value of a poll carries) and how long after the poll the last one
 * arrived. CPU per value = (CPU in the mode − CPU in the baseline mode) / values exported.
 * Receivers: a carbon line counter (both daemons), the real memcached (cmd_set), a Riemann TCP
 * receiver decoding with the official riemann.proto. The machine is shared: ratios between the
 * two daemons, run side by side in one mode, hold better than absolute figures.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commonOptionSpecs, intOption, REPO_ROOT } from './options';
import {
  assertPortsFree, cGmetadCommand, pickFreePorts, renderConfig, startDaemon, tsGmetadCommand, waitListening, type RunningDaemon, type Side,
} from './daemons';
import { fetchStatus } from './dump-client';
import { ClusterDocument, metricCatalogue, startEmulatedGmond, type EmulatedGmond } from './emulated-cluster';
import { clockTicksPerSecond, sampleProcessTree } from './proc-stats';
import { clusterLocaltime } from './rrd-files';
import { memcachedStats, startCarbonCounter, startRiemannCounter, type PollArrivals } from './exporter-receivers';
import { fmt, markdownTable, textTable, type Row } from './report';

type Mode = 'baseline' | 'graphite' | 'memcached' | 'riemann';
const MODES: readonly Mode[] = ['baseline', 'graphite', 'memcached', 'riemann'];

interface Options {
  readonly hosts: number;
  readonly metrics: number;
  readonly cycles: number;
  readonly step: number;
  readonly modes: readonly Mode[];
  readonly out: string;
  readonly mainJs: string;
  readonly cGmetad: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...commonOptionSpecs('exporters-latest.md'), modes: { type: 'string', default: MODES.join(',') } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/exporters.js [--hosts N] [--metrics M] [--cycles K] [--step S] [--modes baseline,graphite,memcached,riemann] [--out FILE]\n');
    process.exit(0);
  }
  const modes = (values.modes ?? '').split(',').map((m) => m.trim()) as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`--modes: unknown mode ${m}`);
  if (modes.length > 0 && modes[0] !== 'baseline') modes.unshift('baseline');
  return {
    hosts: intOption('hosts', values.hosts, 1),
    metrics: intOption('metrics', values.metrics, 1),
    cycles: intOption('cycles', values.cycles, 1),
    step: intOption('step', values.step, 5),
    modes,
    out: path.resolve(values.out ?? ''),
    mainJs: path.resolve(values.main ?? ''),
    cGmetad: values.gmetad ?? '/usr/sbin/gmetad',
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const started = Date.now();
const log = (m: string) => process.stderr.write(`[exporters-bench +${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);

/** Every process started and not yet stopped (stopped by pid at exit). */
const running = new Set<{ stop(grace?: number): Promise<void> }>();

interface SideResult {
  readonly side: Side;
  readonly mode: Mode;
  readonly cpuSeconds: number;
  readonly windowSeconds: number;
  readonly polls: number;
  /** Values each poll should export. */
  readonly expectedPerPoll: number;
  /** Per poll in the window: values received, and seconds from the poll to its last value. */
  readonly delivered: readonly { received: number; lastAfterS: number | null }[];
  /** Values exported over the window (sum of received). */
  readonly values: number;
  /** In-process time the exporter spent building, per /status (ms), over the window. */
  readonly buildMillis: number | null;
  readonly dropped: number | null;
}

async function startMemcachedServer(port: number): Promise<{ stop(): Promise<void> }> {
  const child = spawn('/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-u', 'root', '-m', '256'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle = {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  running.add(handle);
  return handle;
}

async function runMode(opts: Options, mode: Mode, work: string): Promise<SideResult[]> {
  const sides: Side[] = mode === 'baseline' || mode === 'graphite' ? ['ts', 'c'] : ['ts'];
  const specs = metricCatalogue(opts.metrics);
  const numeric = specs.filter((s) => s.type !== 'string').length;
  const expectedPerPoll = mode === 'graphite' ? opts.hosts * numeric
    : mode === 'memcached' ? opts.hosts * opts.metrics
      : mode === 'riemann' ? opts.hosts * (opts.metrics + 1) : 0;

  const receivers: PollArrivals[] = [];
  let memcachedPort = 0;
  const homes: { side: Side; gmond: EmulatedGmond; daemon: RunningDaemon; interactivePort: number; served: { atMs: number; localtime: number }[]; arrivals: PollArrivals | null }[] = [];
  try {
    for (const side of sides) {
      const document = new ClusterDocument({ hosts: opts.hosts, metrics: opts.metrics, seed: 7 });
      // Refresh at every poll (the default 5 s would let two quick polls share a LOCALTIME).
      const gmond = await startEmulatedGmond({ document, refreshMs: 1000 });
      running.add({ stop: () => gmond.close() });
      const [xmlPort, interactivePort, extraPort] = await pickFreePorts(3);
      await assertPortsFree([xmlPort, interactivePort]);
      const dir = path.join(work, `${mode}-${side}`);
      fs.mkdirSync(path.join(dir, 'rrds'), { recursive: true });
      const extra: string[] = [];
      let arrivals: PollArrivals | null = null;
      if (mode === 'graphite') {
        arrivals = await startCarbonCounter();
        receivers.push(arrivals);
        extra.push('carbon_server "127.0.0.1"', `carbon_port ${arrivals.port}`, 'carbon_protocol tcp');
      } else if (mode === 'memcached') {
        memcachedPort = extraPort;
        await startMemcachedServer(memcachedPort);
        await sleep(300);
        extra.push(`memcached_parameters "--SERVER=127.0.0.1:${memcachedPort}"`);
      } else if (mode === 'riemann') {
        arrivals = await startRiemannCounter(path.join(REPO_ROOT, 'src', 'plugins', 'riemann', 'proto', 'riemann.proto'));
        receivers.push(arrivals);
        extra.push('riemann_server "127.0.0.1"', `riemann_port ${arrivals.port}`, 'riemann_protocol tcp');
      }
      const conf = path.join(dir, 'gmetad.conf');
      fs.writeFileSync(conf, renderConfig({
        side, gridName: 'Bench', sourceName: 'bench', step: opts.step, gmondPort: gmond.port, xmlPort, interactivePort, workDir: dir,
      }) + extra.join('\n') + '\n');
      const cmd = side === 'c' ? cGmetadCommand(conf, opts.cGmetad) : tsGmetadCommand(conf, opts.mainJs);
      const daemon = startDaemon(side, cmd, path.join(dir, 'daemon.log'));
      running.add(daemon);
      await waitListening(daemon, [xmlPort, interactivePort], 30_000);
      const served: { atMs: number; localtime: number }[] = [];
      homes.push({ side, gmond, daemon, interactivePort, served, arrivals });
    }
    // Record each served poll's LOCALTIME (the document changes only when polled).
    const tracker = setInterval(() => {
      for (const h of homes) {
        while (h.served.length < h.gmond.connections.length) {
          h.served.push({ atMs: h.gmond.connections[h.served.length]!, localtime: clusterLocaltime(h.gmond.document.current()) });
        }
      }
    }, 20);
    log(`${mode}: daemons up (${sides.join(', ')}); warming up two polls`);
    for (const h of homes) {
      while (h.gmond.connections.length < 2) await sleep(200);
    }
    await sleep(2000);
    const ticks = clockTicksPerSecond();
    const status = async (h: (typeof homes)[number]) => (h.side === 'ts' ? fetchStatus(h.interactivePort).catch(() => null) as Promise<StatusDoc | null> : null);
    const before = await Promise.all(homes.map(async (h) => ({ cpu: sampleProcessTree(h.daemon.pid, ticks)!, polls: h.gmond.connections.length, status: await status(h) })));
    const memBefore = mode === 'memcached' ? { stats: await memcachedStats(memcachedPort), polls: homes[0].gmond.connections.length } : null;
    log(`${mode}: measuring ${opts.cycles} poll cycles`);
    await sleep(opts.cycles * opts.step * 1000);
    const after = await Promise.all(homes.map(async (h) => ({ cpu: sampleProcessTree(h.daemon.pid, ticks)!, polls: h.gmond.connections.length, status: await status(h) })));
    // Let the window's last poll finish arriving (one more step at most), without counting its CPU.
    await sleep(opts.step * 1000);
    const memAfter = mode === 'memcached' ? { stats: await memcachedStats(memcachedPort), polls: homes[0].gmond.connections.length } : null;
    clearInterval(tracker);
    return homes.map((h, i) => {
      const polls = h.served.slice(before[i].polls, after[i].polls);
      const delivered = polls.map((p) => {
        if (mode === 'memcached' || mode === 'baseline' || !h.arrivals) return { received: 0, lastAfterS: null };
        const last = h.arrivals.lastAt.get(p.localtime);
        return { received: h.arrivals.counts.get(p.localtime) ?? 0, lastAfterS: last === undefined ? null : (last - p.atMs) / 1000 };
      });
      let values = delivered.reduce((a, d) => a + d.received, 0);
      let memcachedPerPoll = 0;
      if (mode === 'memcached' && memBefore && memAfter) {
        // memcached cannot tell polls apart: its cmd_set between two instants, over the polls served between them.
        const sets = memAfter.stats.cmd_set - memBefore.stats.cmd_set;
        memcachedPerPoll = sets / Math.max(1, memAfter.polls - memBefore.polls);
        values = Math.round(memcachedPerPoll * polls.length);
      }
      const name = mode === 'baseline' ? null : mode;
      const sent = (s: StatusDoc | null) => (name && s ? s.metrics.sent[name]?.totalMillis ?? null : null);
      const dropped = name && after[i].status ? Number(after[i].status!.plugins[name]?.dropped ?? 0) : null;
      const b = sent(before[i].status);
      const a = sent(after[i].status);
      return {
        side: h.side,
        mode,
        cpuSeconds: after[i].cpu.cpuSeconds - before[i].cpu.cpuSeconds,
        windowSeconds: (after[i].cpu.atMs - before[i].cpu.atMs) / 1000,
        polls: polls.length,
        expectedPerPoll: h.side === 'c' && mode !== 'graphite' ? 0 : expectedPerPoll,
        delivered: mode === 'memcached' ? polls.map(() => ({ received: Math.round(memcachedPerPoll), lastAfterS: null })) : delivered,
        values,
        buildMillis: a !== null && b !== null ? a - b : null,
        dropped,
      };
    });
  } finally {
    for (const h of homes) {
      await h.daemon.stop(20_000);
      running.delete(h.daemon);
      await h.gmond.close();
    }
    for (const r of receivers) await r.close();
    for (const r of [...running]) {
      await r.stop();
      running.delete(r);
    }
  }
}

interface StatusDoc {
  metrics: { sent: Record<string, { num: number; totalMillis: number }> };
  plugins: Record<string, Record<string, number | string>>;
}

interface Figures {
  readonly perValueUs: number | null;
  readonly complete: number;
  readonly within: number;
  readonly polls: number;
  readonly perPoll: number;
  readonly expected: number;
  readonly worstS: number;
  readonly buildUs: number | null;
  readonly dropped: number | null;
  readonly cpuShare: number;
}

function figures(opts: Options, r: SideResult, base: SideResult | undefined): Figures {
  const extraCpu = base ? r.cpuSeconds - (base.cpuSeconds / base.windowSeconds) * r.windowSeconds : null;
  return {
    perValueUs: extraCpu !== null && r.values > 0 ? (extraCpu / r.values) * 1e6 : null,
    complete: r.delivered.filter((d) => d.received >= r.expectedPerPoll).length,
    within: r.delivered.filter((d) => d.received >= r.expectedPerPoll && d.lastAfterS !== null && d.lastAfterS <= opts.step).length,
    polls: r.polls,
    perPoll: r.polls > 0 ? r.values / r.polls : 0,
    expected: r.expectedPerPoll,
    worstS: Math.max(0, ...r.delivered.map((d) => d.lastAfterS ?? 0)),
    buildUs: r.buildMillis !== null && r.values > 0 ? (r.buildMillis * 1000) / r.values : null,
    dropped: r.dropped,
    cpuShare: r.cpuSeconds / r.windowSeconds,
  };
}

function report(opts: Options, results: readonly SideResult[]): string {
  const find = (mode: Mode, side: Side) => results.find((r) => r.mode === mode && r.side === side);
  const rows: Row[] = [];
  const lines: string[] = [];
  for (const mode of opts.modes) {
    if (mode === 'baseline') continue;
    const ts = find(mode, 'ts');
    const c = find(mode, 'c');
    const f = ts ? figures(opts, ts, find('baseline', 'ts')) : null;
    const g = c ? figures(opts, c, find('baseline', 'c')) : null;
    const none = mode === 'graphite' ? '' : 'no support';
    const polls = (x: Figures | null) => (x ? `${x.complete}/${x.polls}` : none);
    rows.push({
      figure: `${mode}: extra CPU per value (µs)`, ts: fmt(f?.perValueUs), c: g ? fmt(g.perValueUs) : none,
      ratio: f?.perValueUs && g?.perValueUs ? fmt(f.perValueUs / g.perValueUs, 3) : '-',
      target: mode === 'graphite' ? '≤ 2' : '', verdict: mode === 'graphite' ? (f?.perValueUs !== null && f?.perValueUs !== undefined && f.perValueUs <= 2 ? 'PASS' : 'FAIL') : 'n/a',
    });
    rows.push({
      figure: `${mode}: values per poll received (expected ${f?.expected ?? g?.expected ?? 0})`, ts: fmt(f?.perPoll, 0), c: g ? fmt(g.perPoll, 0) : none,
      ratio: f && g && g.perPoll > 0 ? fmt(f.perPoll / g.perPoll, 2) : '-', target: '', verdict: 'n/a',
    });
    rows.push({
      figure: `${mode}: polls with every value delivered`, ts: polls(f), c: polls(g), ratio: '-', target: 'all',
      verdict: f ? (f.polls > 0 && f.complete === f.polls ? 'PASS' : 'FAIL') : 'n/a',
    });
    if (mode !== 'memcached') {
      rows.push({
        figure: `${mode}: polls delivered whole within the ${opts.step} s step (last value after, s)`,
        ts: f ? `${f.within}/${f.polls} (${fmt(f.worstS, 1)})` : none, c: g ? `${g.within}/${g.polls} (${fmt(g.worstS, 1)})` : none,
        ratio: '-', target: 'all', verdict: f ? (f.polls > 0 && f.within === f.polls ? 'PASS' : 'FAIL') : 'n/a',
      });
    }
    for (const [label, x] of [['gmetad-ts', f], ['C gmetad', g]] as const) {
      if (!x) continue;
      lines.push(`${label} ${mode}: ${x.polls} polls in the window, ${fmt(x.perPoll, 0)} values/poll (expected ${x.expected}),`
        + ` daemon CPU ${fmt(x.cpuShare * 100, 1, '%')} of a core, extra ${fmt(x.perValueUs, 2)} µs/value`
        + (x.buildUs !== null ? ` (of which building the output, as timed in-process: ${fmt(x.buildUs, 2)} µs)` : '')
        + (x.dropped !== null ? `, dropped ${x.dropped}` : ''));
    }
  }
  for (const side of ['ts', 'c'] as const) {
    const base = find('baseline', side);
    if (base) lines.push(`${side === 'ts' ? 'gmetad-ts' : 'C gmetad'} baseline (no exporter): CPU ${fmt((base.cpuSeconds / base.windowSeconds) * 100, 1, '%')} of a core over ${fmt(base.windowSeconds, 0, ' s')}, ${base.polls} polls`);
  }
  const head = `# Exporter benchmark (${new Date().toISOString()}, ${os.cpus().length} CPUs, ${opts.hosts} hosts × ${opts.metrics} metrics, step ${opts.step} s, ${opts.cycles} cycles per mode)\n\n`;
  return `${head}${lines.map((l) => `- ${l}`).join('\n')}\n\n${markdownTable(rows)}\n\nText:\n\n${textTable(rows)}\n`;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-exporters-bench-'));
  const results: SideResult[] = [];
  try {
    for (const mode of opts.modes) results.push(...(await runMode(opts, mode, work)));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const text = report(opts, results);
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, text);
  process.stdout.write(text);
}

const stopEverything = () => Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { void stopEverything().finally(() => process.exit(130)); });
}
main().catch(async (err) => {
  await stopEverything();
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
