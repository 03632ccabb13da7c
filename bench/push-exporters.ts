/**
 * The push exporters (remote_write, influxdb) under the core benchmark's load, side by side
 * with the C gmetad and a gmetad-ts without exporter, all polling the same emulated cluster
 * (1000 hosts x 100 metrics by default, one data_source, step 15 s, write_rrds off):
 *
 *   node dist/bench/push-exporters.js [--hosts 1000] [--metrics 100] [--cycles 4] [--step 15] [--together] [--out FILE]
 *
 * One round per exporter (or all in one with --together), each with the C gmetad, gmetad-ts
 * without exporter and gmetad-ts with it, side by side (each with its own listener on the one
 * generated document, so each one's polls are its own): remote_write into Prometheus 2.42;
 * remote_write into VictoriaMetrics; influxdb v1 into InfluxDB 1.6; influxdb v2 (the
 * INFLUXDB_* variables alone) into VictoriaMetrics. The receivers are the real ones, started
 * here on free ports with private data directories and stopped by pid.
 *
 * Phases: warm-up (2 polls each) -> K poll cycles: CPU of every daemon (utime+stime from
 * /proc) -> the sources stop answering (so the poll count is final) -> SIGTERM (each exporter
 * flushes) -> every receiver is asked how many host values it holds, which must be
 * polls x hosts x numeric metrics: every value of every poll.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  promQuery, startInfluxdb1, startPrometheus, startVictoriaMetrics, victoriaFlush, type InfluxReceiver, type Receiver,
} from '../test/helpers/receivers';
import { ProcessRegistry } from '../test/helpers/processes';
import {
  assertPortsFree, cGmetadCommand, pickFreePorts, renderConfig, startDaemon, tsGmetadCommand, waitListening,
  type RunningDaemon, type Side,
} from './daemons';
import { fetchStatus } from './dump-client';
import { ClusterDocument, metricCatalogue, startEmulatedGmond, type EmulatedGmond } from './emulated-cluster';
import { commonOptionSpecs, intOption } from './options';
import { clockTicksPerSecond, sampleProcessTree } from './proc-stats';
import { fmt } from './report';

interface Options {
  readonly hosts: number;
  readonly metrics: number;
  readonly cycles: number;
  readonly step: number;
  readonly out: string;
  readonly mainJs: string;
  readonly cGmetad: string;
  /** Every exporter in one round (more load, less time) instead of one round each. */
  readonly together: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...commonOptionSpecs('push-exporters-latest.md'), together: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/push-exporters.js [--hosts N] [--metrics M] [--cycles K] [--step S] [--together] [--out FILE]\n');
    process.exit(0);
  }
  return {
    hosts: intOption('hosts', values.hosts, 1),
    metrics: intOption('metrics', values.metrics, 1),
    cycles: intOption('cycles', values.cycles, 1),
    step: intOption('step', values.step, 2),
    out: path.resolve(values.out ?? ''),
    mainJs: path.resolve(values.main ?? ''),
    cGmetad: values.gmetad ?? '/usr/sbin/gmetad',
    together: values.together ?? false,
  };
}

/** How many host values a receiver holds, counted by its own query language. */
type Counter = () => Promise<number>;

interface Run {
  readonly label: string;
  readonly side: Side;
  /** The plugin whose /status counters to read (null: no exporter). */
  readonly plugin: string | null;
  readonly gmond: EmulatedGmond;
  readonly daemon: RunningDaemon;
  readonly interactivePort: number;
  readonly countReceived: Counter | null;
  cpuPerCycle?: number;
  pollsOk?: number;
  counters?: Record<string, number | string>;
  eventLoopMaxMs?: number;
  received?: number;
  exit?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const started = Date.now();
function log(message: string): void {
  process.stderr.write(`[push-bench +${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

/**
 * Sum of count_over_time over every host series named `prefix*` (Prometheus and
 * VictoriaMetrics), one metric name at a time: count_over_time drops the name, and series
 * of different names would then clash.
 */
function promCounter(receiver: Receiver, prefix: string, before?: () => Promise<void>): Counter {
  return async () => {
    await before?.();
    const reply = await (await fetch(`${receiver.base}/api/v1/label/__name__/values`)).json() as { data: string[] };
    let total = 0;
    for (const name of reply.data.filter((n) => n.startsWith(prefix))) {
      const result = await promQuery(receiver, `sum(count_over_time(${name}{host!=""}[1d]))`);
      if (result.length > 0) total += Number(result[0].value[1]);
    }
    return total;
  };
}

/** Sum over the fields of count(*) of the host measurement (InfluxDB 1.x). */
function influxCounter(receiver: InfluxReceiver, db: string, measurement: string): Counter {
  return async () => {
    const series = await receiver.query(db, `SELECT count(*) FROM "${measurement}"`);
    if (series.length === 0) return 0;
    const row = series[0].values[0];
    let total = 0;
    series[0].columns.forEach((column, i) => { if (column !== 'time') total += Number(row[i]); });
    return total;
  };
}

function statusObject(json: unknown) {
  const o = json as {
    metrics?: { polls?: { ok?: { num?: number } } };
    plugins?: Record<string, Record<string, number | string>>;
    eventLoop?: { maxMs?: number; p99Ms?: number };
  };
  return {
    pollsOk: o.metrics?.polls?.ok?.num ?? NaN,
    plugins: o.plugins ?? {},
    eventLoopMaxMs: o.eventLoop?.maxMs ?? NaN,
    eventLoopP99Ms: o.eventLoop?.p99Ms ?? NaN,
  };
}

type ReceiverName = 'prometheus' | 'victoria' | 'influx';

interface Receivers {
  prometheus?: Receiver;
  victoria?: Receiver;
  influx?: InfluxReceiver;
}

interface Variant {
  readonly label: string;
  readonly side: Side;
  readonly plugin: string | null;
  readonly receiver: ReceiverName | null;
  section(r: Receivers): string[];
  env?(r: Receivers): Record<string, string>;
  counter(r: Receivers): Counter | null;
}

const C_GMETAD: Variant = { label: 'C gmetad', side: 'c', plugin: null, receiver: null, section: () => [], counter: () => null };
const TS_PLAIN: Variant = { label: 'gmetad-ts, no exporter', side: 'ts', plugin: null, receiver: null, section: () => [], counter: () => null };
const EXPORTERS: readonly Variant[] = [
  {
    label: 'gmetad-ts + remote_write -> Prometheus 2.42', side: 'ts', plugin: 'remote_write', receiver: 'prometheus',
    section: (r) => ['remote_write {', `  url "${r.prometheus!.base}/api/v1/write"`, '}'],
    counter: (r) => promCounter(r.prometheus!, 'ganglia_'),
  },
  {
    label: 'gmetad-ts + remote_write -> VictoriaMetrics', side: 'ts', plugin: 'remote_write', receiver: 'victoria',
    section: (r) => ['remote_write {', `  url "${r.victoria!.base}/api/v1/write"`, '}'],
    counter: (r) => promCounter(r.victoria!, 'ganglia_', () => victoriaFlush(r.victoria!)),
  },
  {
    label: 'gmetad-ts + influxdb v1 -> InfluxDB 1.6', side: 'ts', plugin: 'influxdb', receiver: 'influx',
    section: (r) => ['influxdb {', `  url "${r.influx!.base}"`, '  database "ganglia"', '}'],
    counter: (r) => influxCounter(r.influx!, 'ganglia', 'ganglia'),
  },
  {
    // Another measurement than remote_write's families, in case both land in one VictoriaMetrics.
    label: 'gmetad-ts + influxdb v2 (INFLUXDB_* only) -> VictoriaMetrics', side: 'ts', plugin: 'influxdb', receiver: 'victoria',
    section: () => ['influxdb {', '  measurement "influx2"', '}'],
    env: (r) => ({ INFLUXDB_URL: r.victoria!.base, INFLUXDB_ORG: 'bench', INFLUXDB_BUCKET: 'ganglia', INFLUXDB_TOKEN: 'unused' }),
    counter: (r) => promCounter(r.victoria!, 'influx2_', () => victoriaFlush(r.victoria!)),
  },
];

interface Row {
  readonly round: number;
  readonly run: Run;
  readonly cpuC: number;
  readonly cpuPlain: number;
  readonly eventLoopP99Ms?: number;
}

async function runRound(round: number, variants: readonly Variant[], document: ClusterDocument, opts: Options, workRoot: string): Promise<Row[]> {
  const ticks = clockTicksPerSecond();
  const registry = new ProcessRegistry();
  const runs: Run[] = [];
  const p99 = new Map<Run, number>();
  const listeners: EmulatedGmond[] = [];
  try {
    const wanted = new Set(variants.map((v) => v.receiver).filter((r): r is ReceiverName => r !== null));
    log(`round ${round}: starting ${[...wanted].join(', ') || 'no receiver'}`);
    const receivers: Receivers = {};
    if (wanted.has('prometheus')) receivers.prometheus = await startPrometheus(registry);
    if (wanted.has('victoria')) receivers.victoria = await startVictoriaMetrics(registry);
    if (wanted.has('influx')) receivers.influx = await startInfluxdb1(registry, { databases: ['ganglia'] });

    for (const [i, v] of variants.entries()) {
      const gmond = await startEmulatedGmond({ document });
      listeners.push(gmond);
      const [xmlPort, interactivePort] = await pickFreePorts(2);
      await assertPortsFree([xmlPort!, interactivePort!]);
      const workDir = path.join(workRoot, `${round}-${i}-${v.side}`);
      fs.mkdirSync(path.join(workDir, 'rrds'), { recursive: true });
      const conf = path.join(workDir, 'gmetad.conf');
      fs.writeFileSync(conf, renderConfig({
        side: v.side, gridName: 'BenchGrid', sourceName: 'BenchCluster', step: opts.step, gmondPort: gmond.port,
        xmlPort: xmlPort!, interactivePort: interactivePort!, workDir,
      }) + [...v.section(receivers), ''].join('\n'));
      const base = v.side === 'ts' ? tsGmetadCommand(conf, opts.mainJs) : cGmetadCommand(conf, opts.cGmetad);
      const daemon = startDaemon(v.side, { ...base, env: { ...base.env, ...v.env?.(receivers) } }, path.join(workDir, 'daemon.log'));
      await waitListening(daemon, [xmlPort!, interactivePort!], 30_000);
      runs.push({ label: v.label, side: v.side, plugin: v.plugin, gmond, daemon, interactivePort: interactivePort!, countReceived: v.counter(receivers) });
      log(`${v.label}: pid ${daemon.pid}, log ${daemon.logFile}`);
    }

    log(`warm-up: 2 polls each (step ${opts.step} s)`);
    const deadline = Date.now() + opts.step * 3000 + 30_000;
    while (runs.some((r) => r.gmond.connections.length < 2)) {
      if (Date.now() > deadline) throw new Error('some daemon did not poll twice');
      await sleep(200);
    }
    await sleep(3000);

    const windowMs = opts.cycles * opts.step * 1000;
    log(`window: ${opts.cycles} cycles (${windowMs / 1000} s)`);
    const first = runs.map((r) => sampleProcessTree(r.daemon.pid, ticks)!);
    await sleep(windowMs);
    runs.forEach((r, i) => {
      const last = sampleProcessTree(r.daemon.pid, ticks)!;
      r.cpuPerCycle = (last.cpuSeconds - first[i]!.cpuSeconds) / ((last.atMs - first[i]!.atMs) / 1000 / opts.step);
      log(`${r.label}: ${fmt(r.cpuPerCycle, 3)} CPU s per cycle`);
    });

    // The sources stop answering: no poll succeeds any more, so polls.ok is final; then SIGTERM flushes.
    await Promise.all(listeners.map((l) => l.close()));
    await sleep(5000);
    for (const r of runs.filter((x) => x.side === 'ts')) {
      const status = statusObject(await fetchStatus(r.interactivePort));
      r.pollsOk = status.pollsOk;
      r.eventLoopMaxMs = status.eventLoopMaxMs;
      p99.set(r, status.eventLoopP99Ms);
      if (r.plugin) r.counters = status.plugins[r.plugin];
    }
    for (const r of runs) {
      await r.daemon.stop(60_000);
      const exit = await r.daemon.exited;
      r.exit = exit.signal ?? String(exit.code);
    }
    for (const r of runs) {
      if (!r.countReceived) continue;
      r.received = await r.countReceived();
      log(`${r.label}: ${r.pollsOk} polls, receiver holds ${r.received} host values`);
    }
    const cpuC = runs.find((r) => r.side === 'c')?.cpuPerCycle ?? NaN;
    const cpuPlain = runs.find((r) => r.side === 'ts' && !r.plugin)?.cpuPerCycle ?? NaN;
    return runs.map((run) => ({ round, run, cpuC, cpuPlain, eventLoopP99Ms: p99.get(run) }));
  } finally {
    await Promise.all(runs.map((r) => r.daemon.stop(30_000)));
    await Promise.all(listeners.map((l) => l.close()));
    await registry.cleanup();
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-push-bench-'));
  const document = new ClusterDocument({ hosts: opts.hosts, metrics: opts.metrics });
  const numericPerHost = metricCatalogue(opts.metrics).filter((m) => m.type !== 'string').length;
  log(`document: ${(document.size / 1e6).toFixed(1)} MB, ${opts.hosts} hosts x ${opts.metrics} metrics (${numericPerHost} numeric)`);
  const rounds: Variant[][] = opts.together
    ? [[C_GMETAD, TS_PLAIN, ...EXPORTERS]]
    : EXPORTERS.map((e) => [C_GMETAD, TS_PLAIN, e]);
  const rows: Row[] = [];
  for (const [i, variants] of rounds.entries()) rows.push(...(await runRound(i + 1, variants, document, opts, workRoot)));

  const perPoll = opts.hosts * numericPerHost;
  const metricsPerPoll = opts.hosts * opts.metrics;
  const us = (cpu: number) => (cpu / metricsPerPoll) * 1e6;
  const lines = [
    `| round | daemon | CPU s per ${opts.step} s cycle | CPU µs per metric | exporter's share, µs per metric | ratio to C | event loop p99 / max (ms) | polls | host values expected | held by the receiver | sent / dropped / rejected / retries | every value of every poll |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { round, run: r, cpuC, cpuPlain, eventLoopP99Ms } of rows) {
    const expected = r.pollsOk === undefined ? undefined : r.pollsOk * perPoll;
    const share = r.plugin ? fmt(us(r.cpuPerCycle! - cpuPlain), 2) : '-';
    const cnt = r.counters;
    const delivered = r.countReceived ? (r.received === expected && cnt?.droppedValues === 0 && cnt?.rejected === 0 ? 'yes' : 'NO') : '-';
    lines.push(`| ${round} | ${r.label} | ${fmt(r.cpuPerCycle, 3)} | ${fmt(us(r.cpuPerCycle!), 2)} | ${share} | ${fmt(r.cpuPerCycle! / cpuC, 2)}x | `
      + `${r.side === 'ts' ? `${fmt(eventLoopP99Ms, 1)} / ${fmt(r.eventLoopMaxMs, 1)}` : '-'} | ${r.pollsOk ?? '-'} | ${r.plugin ? expected : '-'} | ${r.received ?? '-'} | `
      + `${cnt ? `${cnt.sent} / ${cnt.droppedValues} / ${cnt.rejected} / ${cnt.retries}` : '-'} | ${delivered} |`);
  }
  const md = [
    '# Push exporters benchmark (remote_write, influxdb)',
    '',
    `- date: ${new Date().toISOString()}`,
    `- command: \`node dist/bench/push-exporters.js ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
    `- machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `- workload: ${opts.hosts} hosts x ${opts.metrics} metrics (${numericPerHost} numeric), ${(document.size / 1e6).toFixed(1)} MB per poll, step ${opts.step} s, ${opts.cycles} cycles measured; `
      + (opts.together ? 'every daemon and receiver at once' : 'one round per exporter: the C gmetad, gmetad-ts without exporter and gmetad-ts with it, side by side, with that receiver'),
    '',
    ...lines,
    '',
    '- CPU: utime+stime of each daemon (all its threads and children) over the window, per step; per metric = / (hosts x metrics). The exporter\'s share = the daemon with it minus the daemon without, in the same round.',
    '- Event loop: /status of each gmetad-ts at the end (cumulative since start-up, start-up included).',
    '- Delivery: after the window the sources stop answering (polls.ok final), SIGTERM flushes, then each receiver counts the host values it holds (PromQL `sum(count_over_time(...))` per metric name, InfluxQL `count(*)`), which must be polls x hosts x numeric metrics; summaries are sent too but not in this count.',
    '',
  ].join('\n');
  process.stdout.write(`${md}\n`);
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, md);
  log(`wrote ${opts.out}; daemon logs in ${workRoot}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`push-bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
