import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createImage, parseCreateArguments, writeNewRrdFile, type CreateDefinition } from '../../src/plugins/rrd/native/rrd-create';
import { headerLengthFor, parseLayout, RRA_PTR_SIZE } from '../../src/plugins/rrd/native/rrd-layout';
import { createArguments, DEFAULT_RRAS } from '../../src/plugins/rrd/rrd-definitions';
import { seededRandom } from '../helpers/seeded-random';

const ENV = { ...process.env, LC_ALL: 'C', RRDCACHED_ADDRESS: '' };

function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrd-native-create-'));
  return Promise.resolve(fn(dir)).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

function definitionOf(args: readonly string[]): CreateDefinition {
  const parsed = parseCreateArguments(args);
  if ('unsupported' in parsed) throw new Error(`unsupported: ${parsed.unsupported}`);
  return parsed.definition;
}

/** Offset of rra_ptr (the archives' starting rows, which rrdtool picks at random). */
function ptrOffset(def: CreateDefinition): number {
  return headerLengthFor(def.ds.length, def.rras.length) - def.rras.length * RRA_PTR_SIZE;
}

/**
 * Creates the file with `rrdtool create`, then the same definition in-process with the
 * starting rows rrdtool picked: the bytes must be equal.
 */
function compareWithRrdtool(dir: string, name: string, args: readonly string[]): void {
  const file = path.join(dir, `${name}.rrd`);
  execFileSync('rrdtool', ['create', file, ...args], { env: ENV });
  const theirs = fs.readFileSync(file);
  const def = definitionOf(args);
  const ptr = ptrOffset(def);
  const rows = def.rras.map((_, j) => theirs.readUInt32LE(ptr + j * RRA_PTR_SIZE));
  let j = 0;
  const ours = createImage(def, () => rows[j++]!);
  assert.equal(ours.length, theirs.length, `${name}: length (${args.join(' ')})`);
  const differs = ours.findIndex((b, i) => b !== theirs[i]);
  assert.equal(differs, -1, `${name}: first differing byte at ${differs} (${args.join(' ')})`);
  fs.rmSync(file);
}

test('the writer\'s definitions (host, summary; every slope; default and bench RRAs) give the bytes rrdtool create gives', () => withDir((dir) => {
  let n = 0;
  for (const rras of [DEFAULT_RRAS, ['RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:4:244', 'RRA:AVERAGE:0.5:40:244']]) {
    for (const slope of ['both', 'positive', 'derivative', 'zero']) {
      for (const summary of [false, true]) {
        for (const [step, firstUpdate] of [[15, 1795255455], [20, 1795255461], [1, 1600000000], [60, 1795255499]] as const) {
          compareWithRrdtool(dir, `w${n++}`, ['--no-overwrite', ...createArguments({ step, firstUpdate, slope, summary, rras })]);
        }
      }
    }
  }
}));

test('random definitions (DS types, heartbeats, min/max, several RRAs, xff, steps, starts) give the bytes rrdtool create gives', () => withDir((dir) => {
  const random = seededRandom(20261201);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  for (let n = 0; n < 150; n++) {
    const step = pick([1, 5, 10, 15, 60, 300, int(1, 100_000)]);
    const args = ['--step', String(step), '--start', String(int(400_000_000, 2_000_000_000))];
    const dsCount = int(1, 4);
    for (let i = 0; i < dsCount; i++) {
      const min = pick(['U', '0', '-100', '1.5', `${int(-1e6, 0)}`]);
      const max = pick(['U', '1000', '1e9', '4294967295.5', `${int(1, 1e6)}`]);
      args.push(`DS:ds${i}:${pick(['GAUGE', 'COUNTER', 'DERIVE', 'ABSOLUTE'])}:${pick([1, 2, step * 2, int(1, 1e6)])}:${min}:${max}`);
    }
    const rraCount = int(1, 5);
    for (let j = 0; j < rraCount; j++) {
      const xff = pick(['0', '0.5', '0.99', String(random()), '0.1', '.25']);
      args.push(`RRA:${pick(['AVERAGE', 'MIN', 'MAX', 'LAST'])}:${xff}:${pick([1, 2, 4, 7, 40, int(1, 5000)])}:${int(1, 600)}`);
    }
    compareWithRrdtool(dir, `r${n}`, args);
  }
}));

test('what it does not fully understand is left to rrdtool create', () => {
  const base = ['--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U'];
  for (const args of [
    [...base, 'RRA:HWPREDICT:1440:0.1:0.0035:288'],
    [...base, 'RRA:AVERAGE:0.5:1d:1y'],
    [...base, 'RRA:AVERAGE:1:1:10'],
    ['--step', '15', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:10'],
    ['--step', '15', '--start', 'now-10s', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:10'],
    ['--step', '15', '--start', '1795255455', 'DS:sum:DCOUNTER:120:U:U', 'RRA:AVERAGE:0.5:1:10'],
    ['--step', '15', '--start', '1795255455', 'DS:sum=other:AVERAGE', 'RRA:AVERAGE:0.5:1:10'],
    ['--step', '15', '--start', '1795255455', '--template', 'x.rrd', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:10'],
    ['--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:5:1', 'RRA:AVERAGE:0.5:1:10'],
  ]) {
    assert.ok('unsupported' in parseCreateArguments(args), args.join(' '));
  }
});

test('the file appears whole under its name or not at all, and an existing file is kept', () => withDir(async (dir) => {
  const def = definitionOf(['--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:10']);
  const file = path.join(dir, 'a.rrd');
  const image = createImage(def);
  assert.equal(await writeNewRrdFile(file, image), 'created');
  assert.deepEqual(fs.readFileSync(file), image);
  const layout = parseLayout(image, image.length);
  assert.ok('layout' in layout);
  // rrdtool reads it.
  const info = execFileSync('rrdtool', ['info', file], { env: ENV, encoding: 'latin1' });
  assert.match(info, /last_update = 1795255455/);
  fs.writeFileSync(file, 'someone else\'s');
  assert.equal(await writeNewRrdFile(file, image), 'exists');
  assert.equal(fs.readFileSync(file, 'latin1'), 'someone else\'s');
  // No temporary name is left behind, whatever happened.
  assert.deepEqual(fs.readdirSync(dir), ['a.rrd']);
  await assert.rejects(writeNewRrdFile(path.join(dir, 'missing-dir', 'b.rrd'), image), { code: 'ENOENT' });
  assert.deepEqual(fs.readdirSync(dir), ['a.rrd']);
}));
