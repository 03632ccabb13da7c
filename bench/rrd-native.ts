/**
 * CPU per RRD update: the native updater against the `rrdtool -` pipe (the daemon's
 * RrdtoolPool) on the same files and values, one run side by side.
 *
 *   node dist/bench/rrd-native.js [--files 20000] [--updates 20] [--dir /dev/shm/...] [--max-open N]
 *
 * Files are gmetad's: 80 % host files (DS sum GAUGE), 10 % COUNTER host files, 10 %
 * summary files (sum + num), with bench:rrd's shortened RRAs, on tmpfs. Every round
 * updates every file once, 15 s after the previous round, with String(value) texts as
 * the daemon passes them. CPU is utime+stime: process.cpuUsage() for the updater and the
 * daemon side of the pipe, /proc/PID/stat for the rrdtool processes (10 ms ticks). At the
 * end the two trees must be byte-identical.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { NativeRrdUpdater } from '../src/plugins/rrd/native';
import { RrdtoolPool } from '../src/plugins/rrd/rrdtool-pool';
import { BENCH_RRAS } from './rrd-config';
import { clockTicksPerSecond, sampleProcess } from './proc-stats';
import { seededRandom } from '../test/helpers/seeded-random';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const START = 1_795_255_455;
const STEP = 15;
/** The C gmetad 3.7.2's RRD part per metric per cycle, from issue 11 (bench:rrd, write_behind 0 row). */
const C_GMETAD_RRD_US = 29;

interface FileSpec {
  readonly name: string;
  readonly kind: 'gauge' | 'counter' | 'summary';
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function main(): Promise<void> {
  const fileCount = Number(option('files', '20000'));
  const rounds = Number(option('updates', '20'));
  const base = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'rrd-native-bench-'));
  const rand = seededRandom(42);
  const files: FileSpec[] = [];
  for (let i = 0; i < fileCount; i++) {
    const r = i % 10;
    files.push({ name: `h${Math.floor(i / 100)}/m${i}.rrd`, kind: r === 8 ? 'counter' : r === 9 ? 'summary' : 'gauge' });
  }
  for (const dir of ['native', 'pipe']) for (let h = 0; h * 100 < fileCount; h++) fs.mkdirSync(path.join(base, dir, `h${h}`), { recursive: true });
  const script = files.map((f) => {
    const ds = f.kind === 'counter' ? ['DS:sum:COUNTER:120:U:U'] : f.kind === 'summary' ? ['DS:sum:GAUGE:120:U:U', 'DS:num:GAUGE:120:U:U'] : ['DS:sum:GAUGE:120:U:U'];
    return ['create', path.join(base, 'native', f.name), '--step', String(STEP), '--start', String(START), ...ds, ...BENCH_RRAS].join(' ');
  });
  const created = spawnSync('rrdtool', ['-'], { input: script.join('\n') + '\n', maxBuffer: 1 << 30 });
  if (created.status !== 0) throw new Error('rrdtool create failed');
  for (const f of files) fs.copyFileSync(path.join(base, 'native', f.name), path.join(base, 'pipe', f.name));

  // The same values for both sides, as texts the daemon would pass.
  const counters = files.map(() => Math.floor(rand() * 1e9));
  const valuesOf = (round: number): string[][] => files.map((f, i) => {
    if (f.kind === 'counter') {
      counters[i] += Math.floor(rand() * 1e6);
      return [String(counters[i])];
    }
    const v = String(Math.round(rand() * 1e6) / 100);
    return f.kind === 'summary' ? [v, String(1 + (round % 7))] : [v];
  });
  const plan = Array.from({ length: rounds }, (_, r) => valuesOf(r));

  // Native.
  // --max-open 0: every update opens and closes its file (the updater before descriptors were kept).
  const maxOpen = option('max-open', '');
  const native = new NativeRrdUpdater(maxOpen === '' ? {} : { maxOpenFiles: Number(maxOpen) });
  const nativePaths = files.map((f) => path.join(base, 'native', f.name));
  let cpu0 = cpuMicros();
  let wall0 = process.hrtime.bigint();
  let firstCpu = 0;
  for (let r = 0; r < rounds; r++) {
    const time = START + 1 + STEP * r;
    const values = plan[r];
    for (let i = 0; i < fileCount; i++) {
      if (native.update(nativePaths[i], time, values[i]) !== 'updated') throw new Error(`${nativePaths[i]}: unsupported`);
    }
    // The first update of a file also parses and checks its whole header.
    if (r === 0) firstCpu = cpuMicros() - cpu0;
  }
  const nativeCpu = cpuMicros() - cpu0;
  const nativeWall = Number(process.hrtime.bigint() - wall0) / 1000;

  // rrdtool - pipe, as the daemon drives it (two processes, lines built per update).
  const pool = new RrdtoolPool({ size: 2 });
  await pool.run(['last', path.join(base, 'pipe', files[0].name)], 0);
  await pool.run(['last', path.join(base, 'pipe', files[0].name)], 1);
  const pids = pool.pids;
  const ticks = clockTicksPerSecond();
  const rrdtoolTicks = (): number => pids.reduce((sum, pid) => {
    const s = sampleProcess(pid);
    return sum + (s ? s.utimeTicks + s.stimeTicks : 0);
  }, 0);
  const pipePaths = files.map((f) => path.join(base, 'pipe', f.name));
  let failures = 0;
  const ticks0 = rrdtoolTicks();
  cpu0 = cpuMicros();
  wall0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    const time = START + 1 + STEP * r;
    const values = plan[r];
    for (let i = 0; i < fileCount; i++) {
      const line = `update ${pipePaths[i]} ${time}:${values[i].join(':')}\n`;
      while (!pool.submitLine(line, i, (error) => { if (error) failures += 1; })) await pool.flush();
    }
    await pool.flush();
  }
  const pipeDaemonCpu = cpuMicros() - cpu0;
  const pipeWall = Number(process.hrtime.bigint() - wall0) / 1000;
  const pipeRrdtoolCpu = ((rrdtoolTicks() - ticks0) / ticks) * 1e6;
  await pool.close();

  let identical = 0;
  for (let i = 0; i < fileCount; i++) if (fs.readFileSync(nativePaths[i]).equals(fs.readFileSync(pipePaths[i]))) identical += 1;
  const kept = native.keptOpen;
  native.close();
  fs.rmSync(base, { recursive: true, force: true });

  const n = fileCount * rounds;
  const us = (micros: number): string => (micros / n).toFixed(2);
  const nativeUs = nativeCpu / n;
  const pipeUs = (pipeDaemonCpu + pipeRrdtoolCpu) / n;
  console.log(`rrd-native bench: ${fileCount} files x ${rounds} updates = ${n} updates on tmpfs (${os.cpus().length} cores, shared machine)`);
  console.log(`  native updater: ${kept} of ${fileCount} files kept their descriptor open`);
  console.log(`  native updater       CPU ${us(nativeCpu)} µs/update   wall ${us(nativeWall)} µs/update`
    + `   (first update of a file ${(firstCpu / fileCount).toFixed(2)} µs, later ones ${rounds > 1 ? ((nativeCpu - firstCpu) / (n - fileCount)).toFixed(2) : '-'} µs)`);
  console.log(`  rrdtool - pipe       CPU ${us(pipeDaemonCpu + pipeRrdtoolCpu)} µs/update (daemon side ${us(pipeDaemonCpu)}, rrdtool ${us(pipeRrdtoolCpu)})   wall ${us(pipeWall)} µs/update, ${failures} errors`);
  console.log(`  ratio native/pipe    ${(nativeUs / pipeUs).toFixed(3)}x`);
  console.log(`  vs C gmetad's RRD part (${C_GMETAD_RRD_US} µs/metric, issue 11): native ${(nativeUs / C_GMETAD_RRD_US).toFixed(3)}x (target for the whole RRD part <= 0.5x)`);
  console.log(`  files byte-identical native vs pipe: ${identical}/${fileCount}`);
  if (identical !== fileCount || failures > 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
