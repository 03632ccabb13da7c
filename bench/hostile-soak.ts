/**
 * Hostile sources against one gmetad-ts daemon for minutes: an endless document, a gzip
 * bomb, a trickle (one byte per 200 ms, never idle long enough for the 10 s no-data
 * deadline), an endless run of hosts, an endless run of metrics with new names (a tree
 * costs most per byte so), and a source that lists more hosts than its max_hosts, beside two good sources (emulated gmonds, 500 hosts x 50 metrics and 100 x 20).
 * Prints the daemon's RSS over the run (bounded?) and once the hostile sources are gone
 * (back to steady?), how often each limit fired (one error line per poll, naming the
 * source), and whether the good sources were polled on time
 * (interval between polls at the gmond <= step + 5 % + 1 s) and are served.
 *
 *   npm run build && flock /tmp/gmetad-bench.lock node dist/bench/hostile-soak.js [--seconds 300] [--step 5]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeGmond, type FakeGmond } from '../test/helpers/fake-gmond';
import { freePort, rawRequest } from '../test/helpers/net';
import { startDaemon, tsGmetadCommand, waitListening } from './daemons';
import { startEmulatedGmond, type EmulatedGmond } from './emulated-cluster';
import { intOption, REPO_ROOT } from './options';
import { sampleProcess } from './proc-stats';

const HEAD = '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n'
  + '<CLUSTER NAME="Hostile" LOCALTIME="1795250000" OWNER="o" LATLONG="l" URL="u">\n';
const HOST = '<HOST NAME="spoofed" IP="10.0.0.1" REPORTED="1795250000" TN="0" TMAX="20" DMAX="0" LOCATION="l" GMOND_STARTED="1" TAGS="">\n'
  + '<METRIC NAME="load_one" VAL="0.5" TYPE="float" UNITS="" TN="0" TMAX="70" DMAX="0" SLOPE="both"><EXTRA_DATA></EXTRA_DATA></METRIC>\n</HOST>\n';

function manyHosts(count: number): string {
  const hosts: string[] = [];
  for (let i = 0; i < count; i++) hosts.push(HOST.replace('NAME="spoofed"', `NAME="spoofed-${i}"`));
  return `${HEAD}${hosts.join('')}</CLUSTER>\n</GANGLIA_XML>\n`;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '300' }, step: { type: 'string', default: '5' } } });
  const seconds = intOption('seconds', values.seconds, 10);
  const step = intOption('step', values.step, 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-hostile-soak-'));
  const fakes: FakeGmond[] = [];
  const good: { name: string; gmond: EmulatedGmond }[] = [];
  const stopAll = async () => {
    await Promise.all([...fakes.map((f) => f.close()), ...good.map((g) => g.gmond.close())]);
  };
  try {
    const hostile: [string, FakeGmond][] = [
      ['endless', await startFakeGmond({ kind: 'endless', head: HEAD, unit: ' '.repeat(4096) })],
      ['bomb', await startFakeGmond({ kind: 'gzip-bomb', head: HEAD, unit: ' '.repeat(4096) })],
      ['trickle', await startFakeGmond({ kind: 'trickle', body: manyHosts(2), intervalMs: 200 })],
      ['endless-hosts', await startFakeGmond({ kind: 'endless', head: HEAD, unit: HOST })],
      // One host, an endless run of metrics with new names: the costliest tree per byte.
      ['endless-metrics', await startFakeGmond({ kind: 'endless', head: HEAD + HOST.replace(/<METRIC[^]*<\/HOST>\n/, ''),
        unit: '<METRIC NAME="spoof_{n}" VAL="{n}.5" TYPE="float" UNITS="u" TN="0" TMAX="60" DMAX="0" SLOPE="both"><EXTRA_DATA></EXTRA_DATA></METRIC>\n' })],
      ['too-many-hosts', await startFakeGmond({ kind: 'serve', body: manyHosts(2001) })],
    ];
    fakes.push(...hostile.map(([, f]) => f));
    good.push({ name: 'good-big', gmond: await startEmulatedGmond({ hosts: 500, metrics: 50, clusterName: 'GoodBig' }) });
    good.push({ name: 'good-small', gmond: await startEmulatedGmond({ hosts: 100, metrics: 20, clusterName: 'GoodSmall' }) });

    const xmlPort = await freePort();
    const interactivePort = await freePort();
    const conf = path.join(dir, 'gmetad.conf');
    fs.writeFileSync(conf, [
      `xml_port ${xmlPort}`, `interactive_port ${interactivePort}`, 'setuid off', 'write_rrds off', 'gridname "Soak"',
      ...hostile.map(([name, f]) => `data_source "${name}" ${step} 127.0.0.1:${f.port}`),
      ...good.map(({ name, gmond }) => `data_source "${name}" ${step} 127.0.0.1:${gmond.port}`),
      // The document limit lowered from its 1 GiB default to spare the shared machine's CPU
      // (the mechanism is the same); the hosts and time limits are the defaults but one.
      'limits {', '  max_document_bytes 256MiB', '  max_hosts "too-many-hosts" 2000', '}', '',
    ].join('\n'));
    const logFile = path.join(dir, 'gmetad.log');
    const cmd = tsGmetadCommand(conf, path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'));
    const daemon = startDaemon('ts', { ...cmd, args: [...cmd.args, '-l', logFile] }, path.join(dir, 'stdout.log'));
    await waitListening(daemon, [xmlPort, interactivePort]);
    const started = Date.now();
    const rss: { t: number; kib: number }[] = [];
    while (Date.now() - started < seconds * 1000 && daemon.isAlive()) {
      await new Promise((r) => setTimeout(r, 1000));
      const s = sampleProcess(daemon.pid);
      if (s) rss.push({ t: (Date.now() - started) / 1000, kib: s.rssKiB });
    }
    // Then the hostile sources go away (connection refused): does memory come back down?
    await Promise.all(hostile.map(([, f]) => f.close()));
    fakes.length = 0;
    const calmFrom = Date.now();
    const calm: number[] = [];
    while (Date.now() - calmFrom < 40_000 && daemon.isAlive()) {
      await new Promise((r) => setTimeout(r, 1000));
      const s = sampleProcess(daemon.pid);
      if (s && Date.now() - calmFrom > 20_000) calm.push(s.rssKiB);
    }
    const alive = daemon.isAlive();
    const dump = alive ? (await rawRequest(xmlPort, null, { timeoutMs: 30_000 })).data.toString('latin1') : '';
    await daemon.stop();

    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    const lines = log.split('\n');
    process.stdout.write(`hostile soak: ${seconds} s, step ${step} s, daemon ${alive ? 'alive at the end' : 'DIED'} (log ${logFile})\n`);
    const mib = (k: number) => (k / 1024).toFixed(0);
    const settled = rss.filter((r) => r.t > 30).map((r) => r.kib);
    const firstHalf = settled.slice(0, Math.floor(settled.length / 2)).sort((a, b) => a - b);
    const secondHalf = settled.slice(Math.floor(settled.length / 2)).sort((a, b) => a - b);
    const all = rss.map((r) => r.kib).sort((a, b) => a - b);
    process.stdout.write(`RSS MiB: min ${mib(all[0])}, median ${mib(quantile(all, 0.5))}, max ${mib(all[all.length - 1])}; `
      + `after 30 s: 1st half median ${mib(quantile(firstHalf, 0.5))} max ${mib(firstHalf[firstHalf.length - 1])}, `
      + `2nd half median ${mib(quantile(secondHalf, 0.5))} max ${mib(secondHalf[secondHalf.length - 1])}\n`);
    calm.sort((a, b) => a - b);
    if (calm.length > 0) {
      process.stdout.write(`RSS MiB 20-40 s after the hostile sources stopped: median ${mib(quantile(calm, 0.5))}, max ${mib(calm[calm.length - 1])}\n`);
    }
    for (const [name] of hostile) {
      const errors = lines.filter((l) => l.includes(`"dataSource":"${name}"`) && /exceeded/.test(l));
      const limits = [...new Set(errors.map((l) => /(max_\w+) exceeded/.exec(l)?.[1]))].join(',');
      process.stdout.write(`  ${name}: ${errors.length} polls aborted (${limits || 'no limit fired'})\n`);
    }
    for (const { name, gmond } of good) {
      const times = gmond.connections.filter((t) => t >= started);
      const gaps = times.slice(1).map((t, i) => (t - times[i]) / 1000).sort((a, b) => a - b);
      const late = gaps.filter((g) => g > step * 1.05 + 1).length;
      const errors = lines.filter((l) => l.includes(`"dataSource":"${name}"`) && /"level":(50|40)/.test(l)).length;
      const served = dump.includes(`<CLUSTER NAME="${name === 'good-big' ? 'GoodBig' : 'GoodSmall'}"`);
      process.stdout.write(`  ${name}: ${times.length} polls, interval median ${quantile(gaps, 0.5)?.toFixed(2)} s, `
        + `max ${gaps[gaps.length - 1]?.toFixed(2)} s, late ${late}; errors ${errors}; served ${served}\n`);
    }
    if (!alive) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
