/**
 * Differential check of the native RRD updater against rrdtool: random files and random
 * update sequences, applied to twin files (one created by `rrdtool create`, copied byte
 * for byte), the original through `rrdtool update` and the copy through NativeRrdUpdater;
 * then both the outcome of every update (applied / refused) and the files' bytes must be
 * equal. Deterministic for a seed. Used by the unit test (a few hundred sequences) and
 * by bench/rrd-native-diff.ts (>= 10,000).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NativeRrdUpdater, RrdUpdateError } from '../../src/plugins/rrd/native';
import {
  createArguments, dsTypeForSlope, rootSummaryUpdate, rrdValue, summaryUpdate,
} from '../../src/plugins/rrd/rrd-definitions';
import { seededRandom } from './seeded-random';


type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

type DsType = 'GAUGE' | 'COUNTER' | 'DERIVE' | 'ABSOLUTE';

export interface SequenceSpec {
  readonly file: string;
  readonly createArgs: string[];
  /** Each command: one or more `time:v1:v2` arguments, as one rrdtool update. */
  readonly commands: string[][];
}

export interface SequenceOptions {
  /**
   * Files and updates exactly as the daemon makes them (createArguments, host values as
   * String(number), summary and root-summary texts), default or bench RRAs, instead of
   * random structures.
   */
  readonly gmetad?: boolean;
  /** Data source types to draw from (default: all four). */
  readonly types?: readonly DsType[];
  /** Consolidation functions to draw from (default: AVERAGE, MIN, MAX, LAST). */
  readonly cfs?: readonly string[];
}

const BIG64 = 18446744073709551615n;

class CounterState {
  constructor(public value: bigint) {}
}

function gaugeText(rand: Rand): string {
  switch (int(rand, 0, 11)) {
    case 0: return String(int(rand, -1000, 100000));
    case 1: return (rand() * 1000).toFixed(int(rand, 0, 6));
    case 2: return String(rand() * 10 ** int(rand, -12, 12));
    case 3: return `${(rand() * 10).toFixed(2)}e${int(rand, -30, 30)}`;
    case 4: return pick(rand, ['0', '-0', '0.0', '+1.5', '.5', '5.', '3.50', '0.1', '0.3', '1e300', '-2.5E-3', '007']);
    case 5: return String(-rand() * 1e6);
    case 6: return pick(rand, ['nan', 'NaN', '-nan', 'inf', '-inf', 'Infinity']);
    case 7: return String(Math.fround(rand() * 100));
    case 8: return (rand() * 100).toFixed(int(rand, 1, 17));
    case 9: return String(int(rand, 0, 2 ** 53));
    default: return (rand() * 100).toFixed(int(rand, 0, 3));
  }
}

function counterText(rand: Rand, type: 'COUNTER' | 'DERIVE', state: CounterState): string {
  const r = rand();
  if (r < 0.05) {
    // 32-bit wrap
    state.value = BigInt(int(rand, 0, 5000));
  } else if (r < 0.1) {
    state.value = 4294967296n - BigInt(int(rand, 1, 5000));
  } else if (r < 0.13) {
    state.value = BIG64 - BigInt(int(rand, 0, 100000));
  } else if (r < 0.16) {
    state.value = 18446744069414584320n + BigInt(int(rand, 0, 5000));
  } else if (r < 0.2 && type === 'DERIVE') {
    state.value = -BigInt(int(rand, 0, 1e9));
  } else if (r < 0.23) {
    state.value -= BigInt(int(rand, 0, 1000)); // counter reset / decrease
  } else {
    state.value += BigInt(int(rand, 0, r < 0.9 ? 100000 : 1e12));
  }
  if (type === 'COUNTER' && state.value < 0n) state.value = -state.value;
  if (state.value > BIG64) state.value = state.value % (BIG64 + 1n);
  return state.value.toString();
}

/** A random file and update sequence. */
export function randomSequence(rand: Rand, file: string, options: SequenceOptions = {}): SequenceSpec {
  const types = options.types ?? ['GAUGE', 'COUNTER', 'DERIVE', 'ABSOLUTE'];
  const cfs = options.cfs ?? ['AVERAGE', 'MIN', 'MAX', 'LAST'];
  const step = pick(rand, [1, 2, 3, 5, 10, 15, 15, 60, 300]);
  const start = 1_600_000_000 + int(rand, 0, 100_000_000);
  const dsCount = pick(rand, [1, 1, 1, 2, 2, 3]);
  const args = ['--step', String(step), '--start', String(start)];
  const dsTypes: DsType[] = [];
  for (let i = 0; i < dsCount; i++) {
    const type = pick(rand, types);
    dsTypes.push(type);
    const heartbeat = Math.max(1, Math.round(step * pick(rand, [0.5, 1, 1.5, 2, 8, 8, 8, 20])));
    const bounded = rand() < 0.2;
    const min = bounded ? String(int(rand, -100, 10)) : 'U';
    const max = bounded ? String(int(rand, 20, 1000)) : 'U';
    args.push(`DS:ds${i}:${type}:${heartbeat}:${min}:${max}`);
  }
  const rraCount = int(rand, 1, 4);
  for (let j = 0; j < rraCount; j++) {
    const cf = pick(rand, cfs);
    const xff = pick(rand, ['0', '0.5', '0.5', '0.25', '0.9', '0.99', (rand() * 0.999).toFixed(3)]);
    const pdp = pick(rand, [1, 1, 2, 3, 4, 5, 7, 10]);
    const rows = pick(rand, [1, 2, 3, 5, 8, 20, 100]);
    args.push(`RRA:${cf}:${xff}:${pdp}:${rows}`);
  }
  const counters = dsTypes.map(() => new CounterState(BigInt(int(rand, 0, 1e6))));
  const commands: string[][] = [];
  let t = start;
  const updates = int(rand, 1, 40);
  for (let u = 0; u < updates; u++) {
    const command: string[] = [];
    const perCommand = rand() < 0.15 ? int(rand, 2, 4) : 1;
    for (let k = 0; k < perCommand; k++) {
      const r = rand();
      let dt: number;
      if (r < 0.06) dt = 0; // repeated timestamp: refused
      else if (r < 0.1) dt = -int(rand, 1, 3 * step); // backwards: refused
      else if (r < 0.45) dt = int(rand, 1, step); // within about a step
      else if (r < 0.75) dt = int(rand, 1, 3 * step); // a few steps
      else if (r < 0.9) dt = int(rand, step, 12 * step); // around the heartbeat
      else dt = int(rand, 1, 300 * step); // long gaps, beyond rows x pdp
      const time = t + dt;
      if (dt > 0) t = time;
      const values = dsTypes.map((type, i) => {
        // Text rrdtool refuses ("not a simple integer", "Cannot convert"), in the first DS
        // only: for later ones rrdtool (through mmap) has already changed the earlier DSs.
        if (i === 0 && rand() < 0.02) return pick(rand, type === 'GAUGE' || type === 'ABSOLUTE' ? ['abc', '1.2.3', '', '12x', '+inf', 'nanx', '-'] : ['1.5', '-5', '1e3', '12x', '', '-', '+5']);
        if (rand() < 0.1) return 'U';
        if (type === 'GAUGE' || type === 'ABSOLUTE') {
          if (type === 'ABSOLUTE' && rand() < 0.5) return String(int(rand, 0, 100000));
          return gaugeText(rand);
        }
        return counterText(rand, type, counters[i]);
      });
      command.push(`${time}:${values.join(':')}`);
    }
    commands.push(command);
  }
  return { file, createArgs: args, commands };
}

/** gmond VAL texts for a metric of this slope. */
function gmondValue(rand: Rand, slope: string, counter: CounterState): string {
  if (rand() < 0.05) return pick(rand, ['nan', 'inf', '-inf', 'NaN']);
  if (slope === 'positive' || slope === 'derivative') {
    counter.value += BigInt(int(rand, 0, rand() < 0.9 ? 5000 : 1e10));
    if (rand() < 0.05) counter.value = BigInt(int(rand, 0, 100)); // restart
    return pick(rand, [counter.value.toString(), `${counter.value}.${int(rand, 0, 99)}`]);
  }
  return pick(rand, [
    (rand() * 100).toFixed(int(rand, 0, 6)), String(int(rand, 0, 1e9)), String(rand() * 1e6), '0', '0.00', '-1.5',
  ]);
}

/**
 * A file and updates as the daemon writes them: a host file (values as the writer formats
 * its numbers), a cluster summary or the root summary (sum:num texts).
 */
export function randomGmetadSequence(rand: Rand, file: string): SequenceSpec {
  const step = pick(rand, [10, 15, 15, 20, 60]);
  const slope = pick(rand, ['both', 'zero', 'positive', 'derivative', 'unspecified']);
  const kind = pick(rand, ['host', 'host', 'summary', 'root'] as const);
  const firstUpdate = 1_795_255_456 + int(rand, 0, 1e6);
  const rras = rand() < 0.3 ? [] : ['RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:4:244', 'RRA:AVERAGE:0.5:40:244'];
  const createArgs = createArguments({ step, firstUpdate, slope, summary: kind !== 'host', rras });
  const counter = new CounterState(BigInt(int(rand, 0, 1e9)));
  const commands: string[][] = [];
  let t = firstUpdate;
  const polls = int(rand, 1, 60);
  for (let p = 0; p < polls; p++) {
    const r = rand();
    // Polls about one step apart, sometimes repeated (refused), sometimes after an outage.
    const dt = r < 0.05 ? 0 : r < 0.85 ? step + int(rand, -2, 2) : r < 0.95 ? int(rand, 2, 9) * step : int(rand, 10, 2000) * step;
    const ts = p === 0 ? t : t + dt;
    t = Math.max(t, ts);
    const val = rrdValue(gmondValue(rand, slope, counter)) ?? 'U';
    let arg: string;
    if (kind === 'host') {
      // rrd-writer: hostNumber() then String(n), NaN as U.
      const n = val === 'U' ? NaN : Number(val);
      const v = Number.isFinite(n) ? (dsTypeForSlope(slope) === 'GAUGE' ? n : Math.round(n)) : NaN;
      arg = `${ts}:${Number.isNaN(v) ? 'U' : String(v)}`;
    } else {
      const sum = val === 'U' ? NaN : Number(val) * int(rand, 1, 50);
      const num = int(rand, 1, 1000);
      const precision = val.includes('.') ? val.length - val.indexOf('.') - 1 : 0;
      arg = kind === 'summary' ? summaryUpdate(ts, { sum, num, precision, slope }) : rootSummaryUpdate(ts, { sum, num, slope });
    }
    commands.push([arg]);
  }
  return { file, createArgs, commands };
}

export interface DifferentialResult {
  readonly sequences: number;
  readonly updates: number;
  readonly refused: number;
  readonly mismatches: string[];
}

/** rrdtool in pipe mode over a whole script: one status line per command. */
function runRrdtool(lines: string[]): string[] {
  const result = spawnSync('rrdtool', ['-'], {
    input: lines.join('\n') + '\n', maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C', RRDCACHED_ADDRESS: '' },
  });
  if (result.status !== 0) throw new Error(`rrdtool - failed: ${result.stderr.toString()}`);
  const statuses = result.stdout.toString('latin1').split('\n').filter((l) => l.startsWith('OK') || l.startsWith('ERROR'));
  if (statuses.length !== lines.length) throw new Error(`rrdtool answered ${statuses.length} of ${lines.length} commands`);
  return statuses;
}

/** Runs `count` sequences from `seed` in `dir` (created; files removed as they pass). */
export function runDifferential(dir: string, seed: number, count: number, options: SequenceOptions = {}): DifferentialResult {
  fs.mkdirSync(dir, { recursive: true });
  const rand = seededRandom(seed);
  const specs: SequenceSpec[] = [];
  for (let s = 0; s < count; s++) {
    const file = path.join(dir, `s${s}`);
    specs.push(options.gmetad ? randomGmetadSequence(rand, file) : randomSequence(rand, file, options));
  }
  const created = runRrdtool(specs.map((spec) => ['create', `${spec.file}.a.rrd`, ...spec.createArgs].join(' ')));
  created.forEach((status, s) => {
    if (!status.startsWith('OK')) throw new Error(`rrdtool create ${specs[s].createArgs.join(' ')}: ${status}`);
  });
  for (const spec of specs) fs.copyFileSync(`${spec.file}.a.rrd`, `${spec.file}.b.rrd`);
  const lines: string[] = [];
  for (const spec of specs) for (const command of spec.commands) lines.push(['update', `${spec.file}.a.rrd`, ...command].join(' '));
  const statuses = runRrdtool(lines);
  const native = new NativeRrdUpdater();
  const mismatches: string[] = [];
  let line = 0;
  let updates = 0;
  let refused = 0;
  for (const spec of specs) {
    const problems: string[] = [];
    for (const command of spec.commands) {
      const status = statuses[line++];
      updates += command.length;
      let nativeStatus = 'OK';
      try {
        const outcome = native.updateArguments(`${spec.file}.b.rrd`, command);
        if (outcome !== 'updated') nativeStatus = `UNSUPPORTED ${native.unsupportedReason(`${spec.file}.b.rrd`)}`;
      } catch (error) {
        if (!(error instanceof RrdUpdateError)) throw error;
        nativeStatus = `ERROR ${error.kind}: ${error.message}`;
      }
      const rrdtoolOk = status.startsWith('OK');
      if (!rrdtoolOk) refused += 1;
      const agree = rrdtoolOk
        ? nativeStatus === 'OK'
        : nativeStatus.startsWith('ERROR') && (!status.includes('illegal attempt') || nativeStatus.includes('illegal attempt'));
      if (!agree) problems.push(`update ${command.join(' ')}: rrdtool ${status} / native ${nativeStatus}`);
    }
    const a = fs.readFileSync(`${spec.file}.a.rrd`);
    const b = fs.readFileSync(`${spec.file}.b.rrd`);
    if (!a.equals(b)) {
      let at = 0;
      while (at < a.length && a[at] === b[at]) at++;
      problems.push(`bytes differ from offset ${at} (sizes ${a.length}/${b.length})`);
    }
    native.forget(`${spec.file}.b.rrd`); // closes the descriptor it kept
    if (problems.length > 0) {
      mismatches.push(`${spec.file}: rrdtool create ${spec.createArgs.join(' ')}\n  ${spec.commands.map((c) => c.join(' ')).join('\n  ')}\n  => ${problems.join('\n  => ')}`);
    } else {
      fs.rmSync(`${spec.file}.a.rrd`);
      fs.rmSync(`${spec.file}.b.rrd`);
    }
  }
  return { sequences: count, updates, refused, mismatches };
}
