/**
 * A first poll that brings many new hosts with RRDs on: every file has to be created while
 * the daemon keeps polling and answering. gmetad-ts runs with two sources, a big one
 * (--hosts new hosts x --metrics metrics, step 15) and a small one (step --small-step);
 * until every file of the big one exists we record:
 *   - the event loop's worst lateness (/status eventLoop.maxMs, over the whole run),
 *   - the slowest /status request (one every 250 ms),
 *   - the longest gap between two polls of each source (from the emulated gmonds),
 *   - the writer's counters (files created, values dropped while files were created).
 *
 *   node dist/bench/rrd-first-poll.js [--hosts 100000] [--metrics 4] [--small-step 5] [--out FILE]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pickFreePorts, startDaemon, tsGmetadCommand, waitListening, type RunningDaemon } from './daemons';
import { fetchStatus } from './dump-client';
import { startGmondThread, type GmondThread } from './gmond-thread';
import { REPO_ROOT } from './options';
import { BENCH_RRAS, numericMetricsPerHost } from './rrd-config';
import { countRrdFilesOffThread } from './rrd-files';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (m: string) => process.stderr.write(`[rrd-first-poll +${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);

/** The longest gap between two polls (s) and when it ended (s after `origin`). */
function maxGap(times: readonly number[], from: number, origin: number): { readonly gap: number; readonly endedAt: number } {
  const after = times.filter((t) => t >= from);
  let gap = 0;
  let endedAt = 0;
  for (let i = 1; i < after.length; i++) {
    if (after[i]! - after[i - 1]! > gap) {
      gap = after[i]! - after[i - 1]!;
      endedAt = after[i]! - origin;
    }
  }
  return { gap: gap / 1000, endedAt: endedAt / 1000 };
}
const gapText = (g: { gap: number; endedAt: number }): string => `${g.gap.toFixed(2)} s (the poll ${g.endedAt.toFixed(1)} s after Big's first)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '100000' },
      metrics: { type: 'string', default: '4' },
      'small-step': { type: 'string', default: '5' },
      timeout: { type: 'string', default: '600' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results', 'rrd-first-poll.md') },
      main: { type: 'string', default: path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js') },
      // Write the daemon's V8 CPU profile here (summarise with bench/cpu-profile.ts).
      'cpu-prof': { type: 'string' },
      // Extra node flags for the daemon (e.g. --trace-gc: GC pauses in the daemon log).
      'node-flags': { type: 'string', default: '' },
    },
  });
  const hosts = Number(values.hosts);
  const metrics = Number(values.metrics);
  const smallStep = Number(values['small-step']);
  const expected = hosts * numericMetricsPerHost(metrics);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-rrd-first-poll-'));
  const shm = fs.mkdtempSync(path.join('/dev/shm', 'gmetad-rrd-first-poll-'));
  const rrdRoot = path.join(shm, 'rrds');
  fs.mkdirSync(rrdRoot);
  let daemon: RunningDaemon | null = null;
  const gmonds: GmondThread[] = [];
  try {
    // Each gmond in a thread of its own: accept times are then the daemon's poll times.
    const big = await startGmondThread({ hosts, metrics, clusterName: 'Big' });
    const small = await startGmondThread({ hosts: 10, metrics: 20, clusterName: 'Small' });
    gmonds.push(big, small);
    log(`big gmond ${big.port}: ${hosts} hosts x ${metrics} metrics (${(big.size / 1e6).toFixed(1)} MB), ${expected} host files; small gmond ${small.port}`);
    const [xmlPort, interactivePort] = (await pickFreePorts(2)) as [number, number];
    const conf = path.join(work, 'gmetad.conf');
    fs.writeFileSync(conf, [
      `data_source "Big" 15 127.0.0.1:${big.port}`,
      `data_source "Small" ${smallStep} 127.0.0.1:${small.port}`,
      'gridname "FirstPoll"', `xml_port ${xmlPort}`, `interactive_port ${interactivePort}`, 'setuid off',
      `rrd_rootdir "${rrdRoot}"`, `RRAs ${BENCH_RRAS.map((r) => `"${r}"`).join(' ')}`,
      // The default max_hosts (50,000) would refuse the big source.
      'limits {', `  max_hosts ${Math.max(50_000, hosts * 2)}`, '}', '',
    ].join('\n'));
    // Its own stalls no longer delay the gmonds' accept (they have threads of their own); reported to show it.
    const benchLoop = monitorEventLoopDelay({ resolution: 10 });
    benchLoop.enable();
    const started = Date.now();
    daemon = startDaemon('ts', tsGmetadCommand(conf, path.resolve(values.main!), values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined, values['node-flags']!.split(' ').filter(Boolean)), path.join(work, 'daemon.log'));
    await waitListening(daemon, [xmlPort, interactivePort], 60_000);
    log(`gmetad-ts pid ${daemon.pid}; waiting for ${expected} files`);
    let slowestStatusMs = 0;
    let files = 0;
    let allAt = 0;
    const deadline = started + Number(values.timeout) * 1000;
    let lastStatus: Record<string, any> = {};
    for (let i = 0; ; i++) {
      const asked = performance.now();
      lastStatus = (await fetchStatus(interactivePort, { timeoutMs: 30_000 })) as Record<string, any>;
      slowestStatusMs = Math.max(slowestStatusMs, performance.now() - asked);
      // The tree is counted in a worker thread, and only once the writer says it has created them all.
      const rrd = lastStatus.plugins?.rrd ?? {};
      if (i % 8 === 0) log(`rrd created ${rrd.created} creating ${rrd.creating} dropped ${rrd.dropped} lag ${rrd.lagSeconds} s; loop max ${lastStatus.eventLoop?.maxMs} ms`);
      if (Number(rrd.created) >= expected + numericMetricsPerHost(metrics)) {
        files = await countRrdFilesOffThread(path.join(rrdRoot, 'Big'));
        log(`${files} files of Big on disk`);
        if (files >= expected + numericMetricsPerHost(metrics)) {
          allAt = Date.now();
          break;
        }
      }
      if (Date.now() > deadline || !daemon.isAlive()) break;
      // No file after two steps: something refused the source (see the daemon log).
      if (!(Number(lastStatus.plugins?.rrd?.created) > 0) && Date.now() - started > 45_000) throw new Error(`no RRD file of Big after 45 s; see ${path.join(work, 'daemon.log')}`);
      await sleep(250);
    }
    // Two more steps of steady state after the creates.
    if (allAt) await sleep(30_000);
    lastStatus = (await fetchStatus(interactivePort)) as Record<string, any>;
    const firstBigPoll = big.connections[0] ?? started;
    const rrd = lastStatus.plugins?.rrd ?? {};
    const lines = [
      '# First poll of many new hosts, RRDs on (gmetad-ts)',
      '',
      `- date: ${new Date().toISOString()}; machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, node ${process.version}; load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      `- command: \`node dist/bench/rrd-first-poll.js ${process.argv.slice(2).join(' ')}\``,
      `- sources: Big (${hosts} new hosts x ${metrics} metrics, step 15) and Small (10 hosts, step ${smallStep}); RRAs ${BENCH_RRAS.join(' ')} on tmpfs`,
      '',
      '| figure | value | target |',
      '|---|---|---|',
      `| files of Big created | ${files} of ${expected + numericMetricsPerHost(metrics)}${allAt ? '' : ' (INCOMPLETE)'} | all |`,
      `| time from Big's first poll until all its files existed | ${allAt ? ((allAt - firstBigPoll) / 1000).toFixed(1) : '-'} s | info |`,
      // /status shows how late the monitor's ticks ran; its raw histogram also holds the interval.
      `| event loop, worst lateness over the run (/status eventLoop.maxMs: beyond schedule) | ${lastStatus.eventLoop?.maxMs} ms | <= 50 ms |`,
      `| event loop p99 beyond schedule (sampled while the loop has work, util/loop-delay) | ${lastStatus.eventLoop?.p99Ms} ms | info |`,
      `| slowest /status request (one every 250 ms) | ${slowestStatusMs.toFixed(0)} ms | info |`,
      `| this benchmark's own event loop, worst raw reading (the gmonds have threads of their own) | ${(benchLoop.max / 1e6).toFixed(0)} ms | info |`,
      `| longest gap between polls of Small (step ${smallStep} s) | ${gapText(maxGap(small.connections, started, firstBigPoll))} | <= ${smallStep} s + jitter |`,
      `| longest gap between polls of Big (step 15 s) | ${gapText(maxGap(big.connections, started, firstBigPoll))} | <= 15 s + jitter |`,
      `| RRD writer: longest slice of synchronous work (walk or creates) | ${rrd.longestSliceMs} ms | info |`,
      `| RRD writer: created / errors / dropped / lagSeconds at the end | ${rrd.created} / ${rrd.errors} / ${rrd.dropped} / ${rrd.lagSeconds} | dropped: values that arrived while their file waited for its create beyond 16 per file |`,
      '',
    ];
    fs.mkdirSync(path.dirname(values.out!), { recursive: true });
    fs.writeFileSync(values.out!, lines.join('\n'));
    process.stdout.write(lines.join('\n'));
    log(`wrote ${values.out}; log in ${work}`);
  } finally {
    if (daemon) await daemon.stop(30_000);
    await Promise.all(gmonds.map((g) => g.close()));
    fs.rmSync(shm, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`rrd-first-poll: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
