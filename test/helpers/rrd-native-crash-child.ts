/**
 * Child for the native updater's crash test: `node rrd-native-crash-child.js SEED PAUSE_MS FILE...`
 * updates the files natively in an endless loop until it is killed, and prints "ready"
 * once every file has taken one update. Each file's updates are crashUpdates(SEED, index,
 * its last update): pseudo-random gaps, some longer than whole archives so that many rows
 * are written at once; the test regenerates them to replay them through rrdtool.
 */
import { NativeRrdUpdater } from '../../src/plugins/rrd/native';
import { seededRandom } from './seeded-random';

export interface CrashUpdate {
  readonly time: number;
  readonly values: [string, string];
}

/** The endless update sequence of file `index` for a round seeded `seed`. */
export function* crashUpdates(seed: number, index: number, lastUpdate: number): Generator<CrashUpdate> {
  const rand = seededRandom(seed * 1000 + index);
  let time = lastUpdate;
  for (;;) {
    const r = rand();
    time += r < 0.7 ? 1 + Math.floor(rand() * 20) : r < 0.95 ? 15 * (1 + Math.floor(rand() * 40)) : 15 * 3000;
    yield { time, values: [(rand() * 1000).toFixed(2), String(Math.floor(rand() * 1e6))] };
  }
}

if (require.main === module) {
  const [seedText, pauseText, ...files] = process.argv.slice(2);
  // PAUSE > 0: wait that many ms between the rows and the header of every update, so the
  // kill lands there (a SIGKILL at any point is what the test asserts about).
  const pauseMs = Number(pauseText);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const native = new NativeRrdUpdater(pauseMs > 0 ? { betweenWrites: () => void Atomics.wait(sleeper, 0, 0, pauseMs) } : {});
  const sequences = files.map((file, i) => {
    const inspection = native.inspect(file);
    if ('unsupported' in inspection) throw new Error(`${file}: ${inspection.unsupported}`);
    return crashUpdates(Number(seedText), i, inspection.lastUpdate);
  });
  let round = 0;
  for (;;) {
    for (let i = 0; i < files.length; i++) {
      const { time, values } = sequences[i].next().value as CrashUpdate;
      native.update(files[i], time, values);
    }
    if (round++ === 0) process.stdout.write('ready\n');
  }
}
