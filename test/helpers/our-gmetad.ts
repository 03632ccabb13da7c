/**
 * Our daemon (dist/src/cli/main.js) started exactly like the C one in c-gmetad.ts: same
 * gmetad.conf, foreground, ready when both ports accept and the first poll has landed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  awaitGmetadReady,
  startCGmetad,
  resolveGmetadOptions,
  writeGmetadConfig,
  type GmetadHandle,
  type GmetadOptions,
} from './c-gmetad';
import type { ProcessRegistry } from './processes';

/** dist/test/helpers/our-gmetad.js -> dist/src/cli/main.js */
export const OUR_GMETAD_MAIN = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** Whether the daemon has been built (the tests of it fail with a clear message otherwise). */
export function ourGmetadBuilt(): boolean {
  return fs.existsSync(OUR_GMETAD_MAIN);
}

/**
 * Set GMETAD_TS_UNDER_TEST=c to run the suite with the C gmetad in our daemon's place: a
 * check of the tests themselves. Everything passes except three checks of things the C
 * 3.7.2 build does not do: /status counters (always 0 there), exit status 0 on SIGTERM and
 * the port thread's raised priority (thread-priority.test.ts).
 */
function referenceRequested(): boolean {
  return process.env.GMETAD_TS_UNDER_TEST === 'c';
}

export async function startOurGmetad(registry: ProcessRegistry, opts: GmetadOptions): Promise<GmetadHandle> {
  if (referenceRequested()) return startCGmetad(registry, opts);
  if (!ourGmetadBuilt()) throw new Error(`our daemon is not built: ${OUR_GMETAD_MAIN} is missing`);
  const resolved = await resolveGmetadOptions(registry, opts, 'our-gmetad');
  const confPath = writeGmetadConfig(registry, resolved, 'our-gmetad');
  const child = await registry.spawn(`our gmetad ${opts.gridname}`, process.execPath, [
    OUR_GMETAD_MAIN,
    '-f',
    '-c',
    confPath,
  ]);
  return awaitGmetadReady(child, resolved, confPath);
}
