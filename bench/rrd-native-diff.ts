/**
 * The native RRD updater's differential test at scale: `node dist/bench/rrd-native-diff.js
 * [--sequences N] [--seed S] [--dir D] [--types GAUGE,COUNTER] [--cfs AVERAGE,MAX] [--gmetad]`
 * applies N random update sequences to twin files through `rrdtool update` and through
 * NativeRrdUpdater and compares outcomes and bytes (see test/helpers/rrd-native-differential).
 * --gmetad: files and value texts exactly as the daemon makes them (see randomGmetadSequence).
 * Exits 1 on any mismatch, printing the first ones with what reproduces them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runDifferential } from '../test/helpers/rrd-native-differential';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function main(): void {
  const sequences = Number(option('sequences') ?? 10000);
  const seed = Number(option('seed') ?? 1);
  const dir = option('dir') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rrd-native-diff-'));
  const types = option('types')?.split(',') as ('GAUGE' | 'COUNTER' | 'DERIVE' | 'ABSOLUTE')[] | undefined;
  const cfs = option('cfs')?.split(',');
  const gmetad = process.argv.includes('--gmetad');
  const batch = gmetad ? 100 : 1000; // default RRAs make 0.6-1.3 MB files
  let total = 0;
  let updates = 0;
  let refused = 0;
  const mismatches: string[] = [];
  const started = Date.now();
  for (let done = 0; done < sequences; done += batch) {
    const count = Math.min(batch, sequences - done);
    const result = runDifferential(path.join(dir, `b${done}`), seed * 1_000_003 + done, count, { types, cfs, gmetad });
    total += result.sequences;
    updates += result.updates;
    refused += result.refused;
    mismatches.push(...result.mismatches);
  }
  console.log(`rrd-native-diff: seed ${seed}: ${total} sequences, ${updates} updates (${refused} refused by rrdtool), `
    + `${total - mismatches.length} byte-identical, ${mismatches.length} mismatched, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const m of mismatches.slice(0, 5)) console.log(m);
  if (mismatches.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`files kept in ${dir}`);
  process.exitCode = mismatches.length === 0 ? 0 : 1;
}

main();
