import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NativeRrdUpdater } from '../../src/plugins/rrd/native';
import { headerLengthFor } from '../../src/plugins/rrd/native/rrd-layout';
import { registryFor, spawnManaged, waitFor } from '../helpers/processes';
import { crashUpdates, type CrashUpdate } from '../helpers/rrd-native-crash-child';

const ENV = { ...process.env, LC_ALL: 'C', RRDCACHED_ADDRESS: '' };
const rrdtool = (...args: string[]): string => execFileSync('rrdtool', args, { env: ENV, encoding: 'latin1' });

/** Runs `rrdtool -` over the commands; throws on any ERROR. */
function rrdtoolScript(commands: string[]): void {
  if (commands.length === 0) return;
  const result = spawnSync('rrdtool', ['-'], { input: commands.join('\n') + '\n', env: ENV, maxBuffer: 1 << 28 });
  const errors = result.stdout.toString('latin1').split('\n').filter((l) => l.startsWith('ERROR'));
  assert.deepEqual(errors, []);
}

const HEADER = headerLengthFor(2, 3);

test('SIGKILL while the native updater writes leaves files rrdtool reads, holding rrdtool\'s own state', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('rrd-native-crash');
  const files = Array.from({ length: 20 }, (_, i) => path.join(dir, `m${i}.rrd`));
  for (const file of files) {
    rrdtool('create', file, '--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U', 'DS:num:GAUGE:120:U:U',
      'RRA:AVERAGE:0.5:1:2000', 'RRA:MAX:0.5:4:500', 'RRA:AVERAGE:0.5:40:300');
  }
  const child = path.join(__dirname, '..', 'helpers', 'rrd-native-crash-child.js');
  let interruptedRows = 0;
  for (let round = 0; round < 6; round++) {
    const seed = round + 1;
    // Twins: the files as the round starts, to replay the round through rrdtool.
    const starts = files.map((file) => Number(rrdtool('last', file).trim()));
    for (const file of files) fs.copyFileSync(file, `${file}.twin`);

    // Odd rounds pause between each update's row and header writes: the kill lands there.
    const pauseMs = round % 2 === 1 ? 2 : 0;
    const writer = await spawnManaged(`native writer ${round}`, process.execPath, [child, String(seed), String(pauseMs), ...files]);
    registry.track(writer);
    await waitFor(() => writer.output().includes('ready'), { description: 'first updates', process: writer, intervalMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 20 + 37 * round)); // a different point of the loop each round
    process.kill(writer.pid, 'SIGKILL');
    const status = await writer.exited;
    assert.equal(status.signal, 'SIGKILL', writer.output());

    const native = new NativeRrdUpdater();
    const replay: string[] = [];
    const nextUpdates: CrashUpdate[] = [];
    files.forEach((file, i) => {
      const info = rrdtool('info', file);
      const last = Number(/^last_update = (\d+)$/m.exec(info)?.[1]);
      assert.ok(last > starts[i], `${file}: no update landed`);
      assert.match(rrdtool('fetch', file, 'AVERAGE', '--start', String(last - 3600), '--end', String(last)), /sum\s+num/);
      assert.match(rrdtool('fetch', file, 'MAX', '--start', String(last - 3600), '--end', String(last)), /sum\s+num/);
      assert.deepEqual(native.inspect(file), { lastUpdate: last, step: 15, ds: ['sum', 'num'] });
      // Replay the same updates through rrdtool up to the file's last update.
      const args: string[] = [];
      const sequence = crashUpdates(seed, i, starts[i]);
      for (;;) {
        const update = sequence.next().value as CrashUpdate;
        if (update.time > last) {
          nextUpdates.push(update);
          break;
        }
        args.push(`${update.time}:${update.values.join(':')}`);
      }
      for (let k = 0; k < args.length; k += 200) replay.push(`update ${file}.twin ${args.slice(k, k + 200).join(' ')}`);
    });
    rrdtoolScript(replay);
    // And the update the kill may have interrupted, on a second twin.
    files.forEach((file) => fs.copyFileSync(`${file}.twin`, `${file}.next`));
    rrdtoolScript(files.map((file, i) => `update ${file}.next ${nextUpdates[i].time}:${nextUpdates[i].values.join(':')}`));
    for (const file of files) {
      const got = fs.readFileSync(file);
      const twin = fs.readFileSync(`${file}.twin`);
      const next = fs.readFileSync(`${file}.next`);
      // The header is exactly rrdtool's after the last update the file records...
      assert.ok(got.subarray(0, HEADER).equals(twin.subarray(0, HEADER)), `${file}: header differs from rrdtool's`);
      // ...and every row is rrdtool's, or one the interrupted update wrote ahead of it.
      for (let at = HEADER; at < got.length; at += 16) {
        const row = got.subarray(at, at + 16);
        if (row.equals(twin.subarray(at, at + 16))) continue;
        assert.ok(row.equals(next.subarray(at, at + 16)), `${file}: row at ${at} is neither rrdtool's nor the next update's`);
        interruptedRows += 1;
      }
    }
  }
  // The paused rounds were killed between rows and header: their rows are ahead of it.
  assert.ok(interruptedRows > 0, 'no kill landed between an update\'s rows and its header');
  t.diagnostic(`rows written ahead of their header by interrupted updates: ${interruptedRows}`);
  // rrdtool itself carries on with the files.
  for (const file of files) {
    const last = Number(rrdtool('last', file).trim());
    rrdtool('update', file, `${last + 15}:1:2`);
    assert.equal(Number(rrdtool('last', file).trim()), last + 15);
  }
});
