import type { StructuredLogger } from '../../src/util/logging';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NativeRrdUpdater, RrdUpdateError } from '../../src/plugins/rrd/native';
import { parseLayout } from '../../src/plugins/rrd/native/rrd-layout';
import { rrdDiff, rrdStrtod, rrdStrtodbl } from '../../src/plugins/rrd/native/rrd-numbers';
import { applyUpdate, finalRowWrites, HeaderView, RowWrites, type RowWrite } from '../../src/plugins/rrd/native/rrd-update';
import { runDifferential } from '../helpers/rrd-native-differential';

const ENV = { ...process.env, LC_ALL: 'C', RRDCACHED_ADDRESS: '' };

function rrdtool(...args: string[]): string {
  return execFileSync('rrdtool', args, { env: ENV, encoding: 'latin1' });
}

function withDir(fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrd-native-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function recordingLogger(): { warnings: object[]; logger: StructuredLogger } {
  const warnings: object[] = [];
  return { warnings, logger: { debug() {}, info() {}, warn: (o: object | string) => void warnings.push(typeof o === 'string' ? { msg: o } : o), error() {} } };
}

const GMETAD_FILE = ['--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U',
  'RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:24:244', 'RRA:AVERAGE:0.5:168:244'];

test('differential: 400 random sequences (all DS types and CFs) give the bytes rrdtool update gives', () => {
  withDir((dir) => {
    const result = runDifferential(dir, 20261201, 400);
    assert.deepEqual(result.mismatches.slice(0, 3), []);
    assert.equal(result.sequences, 400);
    // The sequences include refused updates (repeated, backwards, unparsable) and many applied ones.
    assert.ok(result.refused > 200, `refused ${result.refused}`);
    assert.ok(result.updates > 5000, `updates ${result.updates}`);
  });
});

test('differential: files and value texts as the daemon makes them (host, summary, root; default RRAs too)', () => {
  withDir((dir) => {
    const result = runDifferential(dir, 7, 40, { gmetad: true });
    assert.deepEqual(result.mismatches.slice(0, 3), []);
    assert.ok(result.updates > 400 && result.refused > 0, `${result.updates} updates, ${result.refused} refused`);
  });
});

test('rrdtool number parsing is reproduced, not JavaScript\'s', () => {
  // rrd_strtod scales by repeated division: not always the correctly rounded double.
  let differs = 0;
  for (let i = 1; i < 2000; i++) {
    const text = (i / 1000).toFixed(3);
    if (rrdStrtod(text).value !== Number(text)) differs += 1;
    assert.equal(rrdStrtod(text).value, i / 10 / 100, text); // three decimals: /10, then /100
  }
  assert.ok(differs > 0);
  assert.equal(rrdStrtodbl('12x'), null);
  assert.equal(rrdStrtodbl(''), null);
  assert.equal(rrdStrtodbl('inf'), Infinity);
  assert.equal(rrdStrtodbl('-INF'), -Infinity);
  assert.ok(Number.isNaN(rrdStrtodbl('NaN')));
  assert.equal(Object.is(rrdStrtodbl('-0'), -0), true);
  assert.equal(rrdDiff('18446744073709551615', '18446744073709551610'), 5);
  assert.equal(rrdDiff('5', '10'), -5);
  assert.equal(rrdDiff('-5', '-10'), 5);
  assert.ok(Number.isNaN(rrdDiff('5', '-10')));
  assert.ok(Number.isNaN(rrdDiff('5', 'U')));
});

test('a gmetad host file: values as numbers or text, in the file as rrdtool writes them', () => {
  withDir((dir) => {
    const a = path.join(dir, 'a.rrd');
    const b = path.join(dir, 'b.rrd');
    rrdtool('create', a, ...GMETAD_FILE);
    fs.copyFileSync(a, b);
    const native = new NativeRrdUpdater();
    const values: (number | string | null)[] = [3.5, '3.50', 0.1, null, NaN, 1e21, -0.25, 42];
    values.forEach((value, k) => {
      const time = 1795255456 + 15 * k;
      const text = value === null || (typeof value === 'number' && Number.isNaN(value)) ? 'U' : String(value);
      rrdtool('update', a, `${time}:${text}`);
      assert.equal(native.update(b, time, [value]), 'updated');
    });
    assert.deepEqual(fs.readFileSync(b), fs.readFileSync(a));
    assert.deepEqual(native.inspect(b), { lastUpdate: 1795255456 + 15 * 7, step: 15, ds: ['sum'] });
    // The pipe's argument texts, several per call, as one rrdtool update with several arguments.
    const args = ['1795255600:1.25', '1795255607:U', '1795255700:7'];
    rrdtool('update', a, ...args);
    assert.equal(native.updateArguments(b, args), 'updated');
    assert.deepEqual(fs.readFileSync(b), fs.readFileSync(a));
    for (const bad of ['N:1', '@1795255800:1', '1795255800', '17952558.5:1']) {
      assert.throws(() => native.updateArguments(b, [bad]), (e: unknown) => e instanceof RrdUpdateError && e.kind === 'invalid', bad);
    }
    assert.deepEqual(fs.readFileSync(b), fs.readFileSync(a));
  });
});

test('refused updates (repeated, backwards, unparsable, fractional time) leave the file untouched', () => {
  withDir((dir) => {
    const file = path.join(dir, 'f.rrd');
    rrdtool('create', file, ...GMETAD_FILE);
    const native = new NativeRrdUpdater();
    native.update(file, 1795255470, ['1']);
    const before = fs.readFileSync(file);
    const refusals: [number, string, string][] = [
      [1795255470, '2', 'stale'], [1795255460, '2', 'stale'], [1795255480, 'abc', 'invalid'], [1795255480.5, '2', 'invalid'],
    ];
    for (const [time, value, kind] of refusals) {
      assert.throws(() => native.update(file, time, [value]), (error: unknown) => {
        assert.ok(error instanceof RrdUpdateError);
        assert.equal(error.kind, kind);
        if (kind === 'stale') assert.match(error.message, /illegal attempt to update using time \d+ when last update time is 1795255470/);
        return true;
      });
      assert.deepEqual(fs.readFileSync(file), before);
    }
    assert.throws(() => native.update(file, 1795255485, ['1', '2']), /expected 1 data source readings/);
    assert.throws(() => native.update(path.join(dir, 'gone.rrd'), 1795255485, ['1']), (error: unknown) =>
      error instanceof RrdUpdateError && error.kind === 'missing' && error.code === 'ENOENT');
    // Several updates: the ones before a refused one stay applied, as with rrdtool.
    assert.throws(() => native.updateMany(file, [{ time: 1795255485, values: ['1'] }, { time: 1795255485, values: ['2'] }]), /illegal attempt/);
    assert.equal((native.inspect(file) as { lastUpdate: number }).lastUpdate, 1795255485);
  });
});

test('files it does not fully understand are handed back, logged once, untouched', () => {
  withDir((dir) => {
    const { warnings, logger } = recordingLogger();
    const native = new NativeRrdUpdater({ logger });
    const base = path.join(dir, 'base.rrd');
    rrdtool('create', base, ...GMETAD_FILE);
    const variants: [string, (file: string) => void, RegExp][] = [
      ['hw.rrd', (f) => void rrdtool('create', f, '--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U',
        'RRA:AVERAGE:0.5:1:100', 'RRA:HWPREDICT:100:0.1:0.0035:20'), /HWPREDICT/],
      ['dcounter.rrd', (f) => void rrdtool('create', f, '--step', '15', '--start', '1795255455', 'DS:sum:DCOUNTER:120:U:U',
        'RRA:AVERAGE:0.5:1:100'), /DCOUNTER/],
      ['compute.rrd', (f) => void rrdtool('create', f, '--step', '15', '--start', '1795255455', 'DS:a:GAUGE:120:U:U',
        'DS:b:COMPUTE:a,2,*', 'RRA:AVERAGE:0.5:1:100'), /COMPUTE/],
      ['arch.rrd', (f) => { const b = fs.readFileSync(base); b.writeDoubleBE(8.642135e130, 16); fs.writeFileSync(f, b); }, /architecture/],
      ['v2.rrd', (f) => { const b = fs.readFileSync(base); b.write('0002', 4, 'latin1'); fs.writeFileSync(f, b); }, /version/],
      ['v9.rrd', (f) => { const b = fs.readFileSync(base); b.write('0009', 4, 'latin1'); fs.writeFileSync(f, b); }, /version/],
      ['short.rrd', (f) => { const b = fs.readFileSync(base); fs.writeFileSync(f, b.subarray(0, b.length - 8)); }, /file size/],
      ['long.rrd', (f) => { fs.writeFileSync(f, Buffer.concat([fs.readFileSync(base), Buffer.alloc(8)])); }, /file size/],
      ['text.rrd', (f) => fs.writeFileSync(f, 'not an rrd at all, but long enough to hold a header '.repeat(10)), /not an RRD/],
      ['row.rrd', (f) => { const b = fs.readFileSync(base); b.writeUInt32LE(244, b.length - 244 * 3 * 8 - 24); fs.writeFileSync(f, b); }, /cur_row/],
    ];
    for (const [name, make, reason] of variants) {
      const file = path.join(dir, name);
      make(file);
      const before = fs.readFileSync(file);
      assert.equal(native.update(file, 1795255470, [name === 'compute.rrd' ? '1' : '1']), 'unsupported', name);
      assert.equal(native.update(file, 1795255485, ['1']), 'unsupported', name);
      assert.match(native.unsupportedReason(file) ?? '', reason, name);
      assert.deepEqual(fs.readFileSync(file), before, name);
    }
    assert.equal(warnings.length, variants.length, `one warning per file: ${JSON.stringify(warnings)}`);
  });
});

test('a file changed or replaced by another program is read again before the next write', () => {
  withDir((dir) => {
    const file = path.join(dir, 'f.rrd');
    const twin = path.join(dir, 'twin.rrd');
    rrdtool('create', file, ...GMETAD_FILE);
    fs.copyFileSync(file, twin);
    const native = new NativeRrdUpdater();
    let time = 1795255456;
    for (let k = 0; k < 30; k++, time += 7) {
      // Every third update comes from rrdtool (another writer) on the same file.
      if (k % 3 === 2) rrdtool('update', file, `${time}:${k}`);
      else native.update(file, time, [String(k)]);
      rrdtool('update', twin, `${time}:${k}`);
    }
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(twin));
    // Replaced by a file of another structure (step 10, two RRAs, COUNTER).
    const other = ['--step', '10', '--start', String(time), 'DS:sum:COUNTER:80:U:U', 'RRA:MAX:0.5:1:50', 'RRA:LAST:0.5:3:50'];
    rrdtool('create', path.join(dir, 'new.rrd'), ...other);
    fs.copyFileSync(path.join(dir, 'new.rrd'), twin);
    fs.renameSync(path.join(dir, 'new.rrd'), file);
    for (let k = 1; k < 20; k++) {
      native.update(file, time + 10 * k, [String(1000 * k)]);
      rrdtool('update', twin, `${time + 10 * k}:${1000 * k}`);
    }
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(twin));
    // Deleted: reported as missing, so the caller can create it again.
    fs.rmSync(file);
    assert.throws(() => native.update(file, time + 500, ['1']), (e: unknown) => e instanceof RrdUpdateError && e.kind === 'missing');
    native.forget(file);
    assert.equal(native.size, 0);
  });
});

/** What the updater writes for `updates` on `file`: every row run as applied, and what it writes of them. */
function writePlan(file: string, updates: ReadonlyArray<readonly [number, string, string]>) {
  const old = fs.readFileSync(file);
  const parsed = parseLayout(old, old.length);
  if (!('layout' in parsed)) throw new Error(parsed.unsupported);
  const layout = parsed.layout;
  const header = Buffer.from(new ArrayBuffer(layout.headerLength));
  old.copy(header, 0, 0, layout.headerLength);
  const view = new HeaderView(header);
  const rowWrites = new RowWrites();
  for (const [time, ...values] of updates) applyUpdate(layout, view, time, values, rowWrites);
  const bytesOf = (w: RowWrite) => ({ position: w.position, bytes: rowWrites.bytesOf(w) });
  return { old, layout, header, rows: rowWrites.list.map(bytesOf), writes: finalRowWrites(layout, rowWrites).map(bytesOf) };
}

test('a crash at any point of the row writes leaves every row as it was or as the update leaves it', () => {
  withDir((dir) => {
    const file = path.join(dir, 'f.rrd');
    const twin = path.join(dir, 'twin.rrd');
    const scenarios: Array<{ name: string; before: string[]; updates: Array<[number, string, string]> }> = [
      // The last update leaves a PDP open with a known value: one update 3000 steps on closes
      // it into a row first, then goes round every archive, over that same row again.
      { name: 'across every archive from an open PDP', before: ['1795255463:5:6', '1795255473:7:8'], updates: [[1795255473 + 45000, '9', '10']] },
      { name: 'just past the first archive', before: ['1795255463:5:6', '1795255473:7:8'], updates: [[1795255473 + 15 * 51, '9', '10']] },
      { name: 'across every archive from a closed PDP', before: ['1795255470:5:6'], updates: [[1795255470 + 45000, '9', '10']] },
      // One call, many updates: together round the archives several times.
      {
        name: 'many updates in one call',
        before: ['1795255463:5:6'],
        updates: Array.from({ length: 40 }, (_, k): [number, string, string] => [1795255463 + 37 * (k + 1), String(k), String(2 * k)]),
      },
    ];
    let rewrittenRows = 0;
    for (const { name, before, updates } of scenarios) {
      rrdtool('create', file, '--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U', 'DS:num:GAUGE:120:U:U',
        'RRA:AVERAGE:0.5:1:50', 'RRA:MAX:0.5:4:20', 'RRA:AVERAGE:0.5:40:10');
      rrdtool('update', file, ...before);
      fs.copyFileSync(file, twin);
      rrdtool('update', twin, ...updates.map((u) => u.join(':')));
      const final = fs.readFileSync(twin);
      const { old, layout, header, rows, writes } = writePlan(file, updates);
      const rowBytes = layout.ds.length * 8;
      // The applied runs may write a row more than once; what is written holds each row once.
      const applied = rows.flatMap((w) => Array.from({ length: w.bytes.length / rowBytes }, (_, r) => w.position + r * rowBytes));
      rewrittenRows += applied.length - new Set(applied).size;
      const written = writes.flatMap((w) => Array.from({ length: w.bytes.length / rowBytes }, (_, r) => w.position + r * rowBytes));
      assert.equal(written.length, new Set(written).size, `${name}: a row written twice`);
      // All of it, then the header: rrdtool's bytes.
      const done = Buffer.from(old);
      for (const w of writes) w.bytes.copy(done, w.position);
      header.copy(done, 0);
      assert.ok(done.equals(final), `${name}: differs from rrdtool's file`);
      // Killed after any whole row of any write (the kernel cuts a write short only at a page
      // boundary, here always a row boundary): each row is the old one or the final one.
      for (let k = 0; k < writes.length; k++) {
        for (let cut = 0; cut < writes[k].bytes.length; cut += rowBytes) {
          const crashed = Buffer.from(old);
          for (let m = 0; m < k; m++) writes[m].bytes.copy(crashed, writes[m].position);
          writes[k].bytes.copy(crashed, writes[k].position, 0, cut);
          for (let at = layout.headerLength; at < crashed.length; at += rowBytes) {
            const row = crashed.subarray(at, at + rowBytes);
            assert.ok(row.equals(old.subarray(at, at + rowBytes)) || row.equals(final.subarray(at, at + rowBytes)),
              `${name}: killed in write ${k} after ${cut} bytes, row at ${at} is neither the old nor the final one`);
          }
        }
      }
    }
    // The scenarios do write rows twice, which is what makes the order of the writes matter.
    assert.ok(rewrittenRows > 0, 'no scenario rewrites a row');
  });
});

test('kept descriptors: a file deleted, its directory removed, or a file renamed over is opened again by path', () => {
  withDir((dir) => {
    const host = path.join(dir, 'h1');
    fs.mkdirSync(host);
    const file = path.join(host, 'load_one.rrd');
    const other = path.join(host, 'cpu_num.rrd');
    rrdtool('create', file, ...GMETAD_FILE);
    rrdtool('create', other, ...GMETAD_FILE);
    const native = new NativeRrdUpdater({ maxOpenFiles: 1 });
    native.update(file, 1795255470, ['1']);
    native.update(other, 1795255470, ['1']);
    assert.equal(native.keptOpen, 1, 'at most maxOpenFiles descriptors, the first file keeps its own');

    // Deleted: the kept descriptor would write into the unlinked file; the update says missing.
    fs.rmSync(file);
    assert.throws(() => native.update(file, 1795255485, ['2']), (e: unknown) => e instanceof RrdUpdateError && e.kind === 'missing');
    assert.equal(native.keptOpen, 0);
    rrdtool('create', file, '--step', '15', '--start', '1795255480', 'DS:sum:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:244');
    native.update(file, 1795255485, ['2']);
    assert.equal(native.keptOpen, 1);

    // Renamed over by another program: the new file is the one updated.
    const replacement = path.join(dir, 'replacement.rrd');
    rrdtool('create', replacement, '--step', '15', '--start', '1795255480', 'DS:sum:GAUGE:120:U:U', 'RRA:MAX:0.5:1:50');
    fs.renameSync(replacement, file);
    native.update(file, 1795255500, ['3']);
    assert.match(rrdtool('info', file), /rra\[0\]\.cf = "MAX"[\s\S]*/);
    assert.match(rrdtool('info', file), /last_update = 1795255500/);

    // The host directory removed: missing again; the descriptor is closed.
    fs.rmSync(host, { recursive: true });
    assert.throws(() => native.update(file, 1795255515, ['4']), (e: unknown) => e instanceof RrdUpdateError && e.kind === 'missing');
    assert.equal(native.keptOpen, 0);

    // forget() and close() release descriptors; maxOpenFiles 0 keeps none.
    fs.mkdirSync(host);
    rrdtool('create', file, ...GMETAD_FILE);
    native.update(file, 1795255470, ['1']);
    assert.equal(native.keptOpen, 1);
    native.forget(file);
    assert.equal(native.keptOpen, 0);
    const none = new NativeRrdUpdater({ maxOpenFiles: 0 });
    none.update(file, 1795255485, ['1']);
    assert.equal(none.keptOpen, 0);
  });
});

test('a file entry from file() updates the file as its path does, and is listed again after forget()', () => {
  withDir((dir) => {
    const file = path.join(dir, 'f.rrd');
    const twin = path.join(dir, 'twin.rrd');
    rrdtool('create', file, ...GMETAD_FILE);
    fs.copyFileSync(file, twin);
    const native = new NativeRrdUpdater({ maxOpenFiles: 1 });
    const entry = native.file(file);
    assert.equal(native.file(file), entry, 'one entry per path');
    let time = 1795255470;
    for (let k = 0; k < 5; k++, time += 15) {
      assert.equal(native.update(entry, time, [String(k)]), 'updated');
      native.update(twin, time, [String(k)]);
    }
    assert.equal(native.keptOpen, 1);
    native.forget(entry);
    assert.equal(native.keptOpen, 0);
    assert.equal(native.size, 1, 'the twin only');
    // Replaced while forgotten: the entry parses the new file when used again.
    rrdtool('create', file, '--step', '15', '--start', String(time - 15), 'DS:sum:GAUGE:120:U:U', 'RRA:MAX:0.5:1:50');
    fs.copyFileSync(file, twin);
    for (let k = 0; k < 5; k++, time += 15) {
      assert.equal(native.update(entry, time, [String(k)]), 'updated');
      native.update(twin, time, [String(k)]);
    }
    assert.equal(native.size, 2);
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(twin));
    assert.throws(() => native.update(entry, time - 15, ['1']), (e: unknown) => e instanceof RrdUpdateError && e.kind === 'stale' && e.message.includes(file));
    native.close();
  });
});
