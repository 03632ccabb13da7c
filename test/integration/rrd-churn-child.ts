/**
 * Run by rrd-churn.test.ts as `node --expose-gc rrd-churn-child.js ROOT`: host churn through
 * the RRD writer (real rrdtool), printing the writer's tracked state after every poll and
 * the heap after forced collections, as one JSON line.
 */
import { readdirSync } from 'node:fs';
import { RrdWriter } from '../../src/plugins/rrd/rrd-writer';
import { DaemonStats } from '../../src/util/stats';
import { cluster, host, metric, snapshot } from './rrd-fixtures';

const T0 = 1795255455;
const STABLE_HOSTS = 20;
const NEW_HOSTS_PER_POLL = Number(process.env.CHURN_HOSTS ?? 200);
const CHURN_POLLS = Number(process.env.CHURN_POLLS ?? 40);
const METRICS = ['load_one', 'bytes_in'];

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

let pollIndex = 0;
let nextHost = 0;
function poll(churnHosts: number) {
  const names = Array.from({ length: STABLE_HOSTS }, (_, i) => `stable${i}`);
  for (let i = 0; i < churnHosts; i++) names.push(`vm-${nextHost++}.example`);
  const i = pollIndex++;
  return snapshot([cluster('Churn', T0 + 15 * i, names.map((n) => host(n, METRICS.map((m) => metric(m, `${i}.25`)))))]);
}

/** Descriptors this process has open (the writer keeps those of files it writes). */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function heapAfterCollection(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const writer = new RrdWriter({
    rootDir: process.argv[2]!, rras: ['RRA:AVERAGE:0.5:1:10'], caseSensitiveHostnames: false,
    backend: 'rrdtool', stats: new DaemonStats(),
  });
  // Warm-up: the same churn, so that code, pools and queues have their steady size.
  for (let i = 0; i < 5; i++) await writer.writeSnapshot(poll(NEW_HOSTS_PER_POLL), 15);
  await writer.writeSnapshot(poll(0), 15);
  await writer.flush();
  const before = { heapUsed: heapAfterCollection(), files: writer.trackedFiles, dirs: writer.trackedDirs, openFds: openFds() };
  const during: { files: number; dirs: number }[] = [];
  let peakFds = 0;
  for (let i = 0; i < CHURN_POLLS; i++) {
    await writer.writeSnapshot(poll(NEW_HOSTS_PER_POLL), 15);
    await writer.flush();
    during.push({ files: writer.trackedFiles, dirs: writer.trackedDirs });
    peakFds = Math.max(peakFds, openFds());
  }
  await writer.writeSnapshot(poll(0), 15);
  await writer.flush();
  const after = { heapUsed: heapAfterCollection(), files: writer.trackedFiles, dirs: writer.trackedDirs, openFds: openFds() };
  const counters = { ...writer.counters };
  await writer.close();
  process.stdout.write(`${JSON.stringify({ before, during, after, peakFds, counters, hostsSeen: nextHost })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
