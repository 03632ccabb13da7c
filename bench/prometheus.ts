/**
 * The Prometheus exporter under load, side by side with the C gmetad on the same emulated
 * cluster (1000 hosts x 100 metrics by default):
 *
 *   node dist/bench/prometheus.js [--hosts 1000] [--metrics 100] [--cycles 4] [--step 15]
 *                                 [--only c|ts] [--out FILE]
 *
 * Both daemons poll the same document (write_rrds off); gmetad-ts also runs
 * `prometheus { port N }`. Phases after a 2-poll warm-up:
 *   A. K poll cycles without scrapes: CPU per cycle of both (the exporter idle);
 *   B. K poll cycles with /metrics scraped as Prometheus does (Accept-Encoding: gzip), twice per
 *      step: once right when a poll is due (the scrape overlaps parsing, the worst case) and
 *      once mid-cycle; meanwhile a probe requests the exporter's "/" page every 10 ms, so its
 *      slowest answer is how long the event loop was held (by a render, a poll, or both).
 * It reports CPU per cycle and per metric, the scrape's cost in CPU per series, scrape times,
 * the event-loop figures (probe, the renderer's own longest slice, /status), and checks that
 * every scrape carried every numeric value of the poll (hosts x numeric metrics series).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as zlib from 'node:zlib';
import { median } from './cadence';
import {
  assertPortsFree, cGmetadCommand, pickFreePorts, renderConfig, startDaemon, tsGmetadCommand, waitListening,
  type RunningDaemon, type Side,
} from './daemons';
import { fetchStatus } from './dump-client';
import { ClusterDocument, metricCatalogue, startEmulatedGmond, type EmulatedGmond } from './emulated-cluster';
import { commonOptionSpecs, intOption, sidesOption } from './options';
import { clockTicksPerSecond, sampleProcessTree } from './proc-stats';
import { fmt, markdownTable, ratio, textTable, verdict, type Row } from './report';

interface Options {
  readonly hosts: number;
  readonly metrics: number;
  readonly cycles: number;
  readonly step: number;
  readonly sides: readonly Side[];
  readonly out: string;
  readonly mainJs: string;
  readonly cGmetad: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({ args: [...argv], options: commonOptionSpecs('prometheus-latest.md'), strict: true });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/prometheus.js [--hosts N] [--metrics M] [--cycles K] [--step S] [--only c|ts] [--out FILE]\n');
    process.exit(0);
  }
  return {
    hosts: intOption('hosts', values.hosts, 1),
    metrics: intOption('metrics', values.metrics, 1),
    cycles: intOption('cycles', values.cycles, 1),
    step: intOption('step', values.step, 2),
    sides: sidesOption(values.only),
    out: path.resolve(values.out ?? ''),
    mainJs: path.resolve(values.main ?? ''),
    cGmetad: values.gmetad ?? '/usr/sbin/gmetad',
  };
}

interface SideState {
  readonly side: Side;
  readonly label: string;
  readonly gmond: EmulatedGmond;
  readonly daemon: RunningDaemon;
  readonly interactivePort: number;
  readonly metricsPort: number;
}

interface Scrape {
  readonly when: 'at poll' | 'mid-cycle';
  readonly ms: number;
  readonly firstByteMs: number;
  readonly bytes: number;
  readonly status: number;
  readonly daemonCpu: number;
  /** Only for the scrapes whose body was checked. */
  readonly hostSeries?: number;
  readonly series?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const t0 = Date.now();
const log = (m: string) => process.stderr.write(`[bench-prom +${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);

function cpuOf(state: SideState, ticks: number): number {
  const s = sampleProcessTree(state.daemon.pid, ticks);
  if (!s) throw new Error(`${state.label} (pid ${state.daemon.pid}) is gone; see ${state.daemon.logFile}`);
  return s.cpuSeconds;
}

function get(port: number, urlPath: string, gzip: boolean): Promise<{ status: number; body: Buffer; ms: number; firstByteMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByteMs = -1;
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: gzip ? { 'Accept-Encoding': 'gzip' } : {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - started;
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started, firstByteMs }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
  });
}

/** Requests `/` every `intervalMs` until stopped; the slowest answer shows how long the loop was held. */
function startProbe(port: number, intervalMs: number): { stop(): Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        latencies.push((await get(port, '/', false)).ms);
      } catch {
        latencies.push(Infinity);
      }
      await sleep(intervalMs);
    }
  })();
  return { stop: async () => { running = false; await loop; return latencies; } };
}

function countSeries(body: Buffer): { series: number; hostSeries: number } {
  const text = zlib.gunzipSync(body).toString('utf8');
  let series = 0;
  let hostSeries = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    series += 1;
    if (line.startsWith('ganglia_') && line.includes(',host="')) hostSeries += 1;
  }
  return { series, hostSeries };
}

async function scrape(state: SideState, when: Scrape['when'], ticks: number, check: boolean): Promise<Scrape> {
  const before = cpuOf(state, ticks);
  const r = await get(state.metricsPort, '/metrics', true);
  const daemonCpu = cpuOf(state, ticks) - before;
  const counted = check ? countSeries(r.body) : undefined;
  return { when, ms: r.ms, firstByteMs: r.firstByteMs, bytes: r.body.length, status: r.status, daemonCpu, ...counted };
}

async function waitPolls(gmond: EmulatedGmond, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (gmond.connections.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${gmond.connections.length} polls within ${timeoutMs} ms`);
    await sleep(100);
  }
}

interface StatusLoop { maxMs: number; p99Ms: number }

async function statusLoop(state: SideState): Promise<{ loop: StatusLoop | null; plugin: Record<string, unknown> | null }> {
  const json = await fetchStatus(state.interactivePort) as { eventLoop?: StatusLoop; plugins?: Record<string, Record<string, unknown>> };
  return { loop: json.eventLoop ?? null, plugin: json.plugins?.prometheus ?? null };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const ticks = clockTicksPerSecond();
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-bench-prom-'));
  const document = new ClusterDocument({ hosts: opts.hosts, metrics: opts.metrics });
  const numericPerHost = metricCatalogue(opts.metrics).filter((m) => m.type !== 'string').length;
  const expectedHostSeries = numericPerHost * opts.hosts;
  log(`document ${(document.size / 1e6).toFixed(1)} MB: ${opts.hosts} hosts x ${opts.metrics} metrics (${numericPerHost} numeric)`);

  const states: SideState[] = [];
  const listeners: EmulatedGmond[] = [];
  const cleanup = async () => {
    await Promise.all(states.map((s) => s.daemon.stop()));
    await Promise.all(listeners.map((l) => l.close()));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    for (const side of opts.sides) {
      const gmond = await startEmulatedGmond({ document });
      listeners.push(gmond);
      const [xmlPort, interactivePort, metricsPort] = await pickFreePorts(3);
      await assertPortsFree([xmlPort!, interactivePort!, metricsPort!]);
      const workDir = path.join(workRoot, side);
      fs.mkdirSync(path.join(workDir, 'rrds'), { recursive: true });
      const conf = path.join(workDir, 'gmetad.conf');
      const base = renderConfig({ side, gridName: 'BenchGrid', sourceName: 'BenchCluster', step: opts.step, gmondPort: gmond.port, xmlPort: xmlPort!, interactivePort: interactivePort!, workDir });
      fs.writeFileSync(conf, side === 'ts' ? `${base}prometheus {\n  port ${metricsPort}\n  address 127.0.0.1\n}\n` : base);
      const cmd = side === 'ts' ? tsGmetadCommand(conf, opts.mainJs) : cGmetadCommand(conf, opts.cGmetad);
      const daemon = startDaemon(side, cmd, path.join(workDir, 'daemon.log'));
      const label = side === 'ts' ? 'gmetad-ts + prometheus' : 'C gmetad';
      states.push({ side, label, gmond, daemon, interactivePort: interactivePort!, metricsPort: metricsPort! });
      await waitListening(daemon, side === 'ts' ? [xmlPort!, interactivePort!, metricsPort!] : [xmlPort!, interactivePort!]);
      log(`${label}: pid ${daemon.pid}${side === 'ts' ? `, /metrics on ${metricsPort}` : ''}`);
    }
    await Promise.all(states.map((s) => waitPolls(s.gmond, 2, opts.step * 2000 + 30_000)));
    await sleep(3000);
    const ts = states.find((s) => s.side === 'ts');
    const stepMs = opts.step * 1000;
    const windowMs = opts.cycles * stepMs;

    // A: polls only.
    log(`A: ${opts.cycles} cycles without scrapes`);
    const a0 = states.map((s) => cpuOf(s, ticks));
    const aStart = Date.now();
    await sleep(windowMs);
    const cpuA = states.map((s, i) => (cpuOf(s, ticks) - a0[i]!) / ((Date.now() - aStart) / stepMs));
    const statusA = ts ? await statusLoop(ts) : null;

    // B: scraped twice per step (CPU); C: the same with the probe running (event loop).
    const scrapes: Scrape[] = [];
    let probeLatencies: number[] = [];
    let cpuB: number[] = [];
    const scrapeCycles = async (target: SideState, cycles: number, checkFirstAndLast: boolean): Promise<Scrape[]> => {
      const out: Scrape[] = [];
      for (let cycle = 0; cycle < cycles; cycle++) {
        const polls = target.gmond.connections.length;
        await sleep(target.gmond.connections[polls - 1]! + stepMs - Date.now());
        await waitPolls(target.gmond, polls + 1, 10_000).catch(() => undefined);
        out.push(await scrape(target, 'at poll', ticks, checkFirstAndLast && cycle === 0));
        await sleep(target.gmond.connections[target.gmond.connections.length - 1]! + stepMs / 2 - Date.now());
        out.push(await scrape(target, 'mid-cycle', ticks, checkFirstAndLast && cycle === cycles - 1));
        log(`cycle ${cycle + 1}: scrapes ${out.slice(-2).map((x) => `${x.ms.toFixed(0)} ms (${(x.bytes / 1e6).toFixed(2)} MB gz)`).join(', ')}`);
      }
      return out;
    };
    if (ts) {
      log(`B: ${opts.cycles} cycles, /metrics scraped right after each poll starts and mid-cycle`);
      const b0 = states.map((s) => cpuOf(s, ticks));
      const bStart = Date.now();
      scrapes.push(...await scrapeCycles(ts, opts.cycles, true));
      const elapsedCycles = (Date.now() - bStart) / stepMs;
      cpuB = states.map((s, i) => (cpuOf(s, ticks) - b0[i]!) / elapsedCycles);
      const probeCycles = Math.max(1, Math.ceil(opts.cycles / 2));
      log(`C: ${probeCycles} cycles of the same with a probe every 10 ms`);
      const probe = startProbe(ts.metricsPort, 10);
      scrapes.push(...await scrapeCycles(ts, probeCycles, false));
      probeLatencies = await probe.stop();
    }
    const statusB = ts ? await statusLoop(ts) : null;
    await cleanup();

    const iTs = states.findIndex((s) => s.side === 'ts');
    const iC = states.findIndex((s) => s.side === 'c');
    const perMetricUs = (cpu: number | undefined) => (cpu === undefined ? undefined : (cpu / (opts.hosts * opts.metrics)) * 1e6);
    const checked = scrapes.filter((s) => s.hostSeries !== undefined);
    const series = checked[0]?.series;
    const scrapeCpuPerSeriesUs = series ? (median(scrapes.map((s) => s.daemonCpu)) / series) * 1e6 : undefined;
    const probeMax = probeLatencies.length ? Math.max(...probeLatencies) : undefined;
    const probeP99 = probeLatencies.length ? [...probeLatencies].sort((x, y) => x - y)[Math.floor(probeLatencies.length * 0.99)] : undefined;
    const maxSlice = Number(statusB?.plugin?.maxSliceMs ?? NaN);
    const maxSliceCpu = Number(statusB?.plugin?.maxSliceCpuMs ?? NaN);
    const atPoll = scrapes.filter((s) => s.when === 'at poll').map((s) => s.ms);
    const mid = scrapes.filter((s) => s.when === 'mid-cycle').map((s) => s.ms);
    const allComplete = checked.length > 0 && checked.every((s) => s.hostSeries === expectedHostSeries) && scrapes.every((s) => s.status === 200);

    const rows: Row[] = [];
    const tsV = (arr: number[]) => (iTs >= 0 ? arr[iTs] : undefined);
    const cV = (arr: number[]) => (iC >= 0 ? arr[iC] : undefined);
    const row = (figure: string, t: number | undefined, cc: number | undefined, digits: number, target: string, pass: boolean | undefined, withRatio = true): void => {
      rows.push({ figure, ts: fmt(t, digits), c: fmt(cc, digits), ratio: withRatio ? ratio(t, cc) : '-', target, verdict: verdict(pass !== undefined, pass === true) });
    };
    row(`CPU s per poll cycle (${opts.step} s), no scrapes`, tsV(cpuA), cV(cpuA), 3, '<= 3x C', tsV(cpuA) !== undefined && cV(cpuA) ? tsV(cpuA)! / cV(cpuA)! <= 3 : undefined);
    row(`CPU s per poll cycle, /metrics scraped 2x per step`, tsV(cpuB), cV(cpuB), 3, 'info (C exports nothing)', undefined);
    row('CPU per metric per cycle, scraped 2x (us)', perMetricUs(tsV(cpuB)), perMetricUs(cV(cpuB)), 2, 'info', undefined);
    row('CPU per scrape, daemon (s, median)', median(scrapes.map((s) => s.daemonCpu)), undefined, 3, 'info', undefined, false);
    row('CPU per series per scrape (us)', scrapeCpuPerSeriesUs, undefined, 2, 'info', undefined, false);
    row('scrape time, mid-cycle (s, max)', mid.length ? Math.max(...mid) / 1000 : undefined, undefined, 3, '<= 1 s', mid.length ? Math.max(...mid) <= 1000 : undefined, false);
    row('scrape time, during a poll (s, max)', atPoll.length ? Math.max(...atPoll) / 1000 : undefined, undefined, 3, '<= 1 s', atPoll.length ? Math.max(...atPoll) <= 1000 : undefined, false);
    row('event loop held by a render, longest slice, wall (ms)', maxSlice, undefined, 1, '<= 50 ms', Number.isFinite(maxSlice) ? maxSlice <= 50 : undefined, false);
    row('  the same slice in CPU time (ms)', maxSliceCpu, undefined, 1, 'info (wall minus time the OS ran others)', undefined, false);
    row('probe answer during scrapes and polls, max (ms)', probeMax, undefined, 1, 'info (includes poll parsing)', undefined, false);
    row('probe answer, p99 (ms)', probeP99, undefined, 1, 'info', undefined, false);
    row('/status event-loop max, polls only (ms)', statusA?.loop?.maxMs, undefined, 1, 'info', undefined, false);
    row('/status event-loop max, after scrapes (ms)', statusB?.loop?.maxMs, undefined, 1, 'info', undefined, false);
    rows.push({
      figure: 'host series per checked scrape / expected',
      ts: checked.map((s) => String(s.hostSeries)).join(', ') || '-', c: '-', ratio: '-',
      target: `${expectedHostSeries} each (every numeric value of the poll)`, verdict: verdict(checked.length > 0, allComplete),
    });

    const table = textTable(rows);
    process.stdout.write(`\n${table}\n`);
    const md = [
      '# Prometheus exporter benchmark (gmetad-ts with /metrics, beside the C gmetad)',
      '',
      `- date: ${new Date().toISOString()}`,
      `- command: \`node dist/bench/prometheus.js ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
      `- machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      `- workload: ${opts.hosts} hosts x ${opts.metrics} metrics (${numericPerHost} numeric), ${(document.size / 1e6).toFixed(1)} MB per poll, step ${opts.step} s, write_rrds off; ${opts.cycles} cycles per phase`,
      `- series per scrape: ${series ?? '-'} (${expectedHostSeries} host values + summaries + health), ${fmt(median(scrapes.map((s) => s.bytes)) / 1e6, 2)} MB gzipped`,
      '',
      markdownTable(rows),
      '',
      `- scrapes (ms, at poll / mid-cycle): ${scrapes.map((s) => `${s.ms.toFixed(0)} ${s.when === 'at poll' ? 'P' : 'M'}`).join(', ')}; first byte ${scrapes.map((s) => s.firstByteMs.toFixed(0)).join(', ')}`,
      `- renderer after the run: ${JSON.stringify(statusB?.plugin ?? {})}`,
      '- CPU = utime+stime of each daemon from /proc over the phase, scaled to one step. The C gmetad has no /metrics: its column is the same polling without an exporter.',
      '- Phase B (CPU figures) runs without the probe; phase C repeats the scrapes with it (event-loop figures).',
      '- The probe is an HTTP GET of the exporter\'s "/" page every 10 ms on the same event loop; its slowest answer includes time spent parsing a 35 MB poll, which the core benchmark reports separately.',
      '',
    ].join('\n');
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, md);
    log(`wrote ${opts.out}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
