/** Command-line options shared by the benchmarks (run.ts, rrd.ts). */
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Options every benchmark takes, in node:util parseArgs form; `out` is each one's report file. */
export function commonOptionSpecs(outFile: string) {
  return {
    hosts: { type: 'string', default: '1000' },
    metrics: { type: 'string', default: '100' },
    cycles: { type: 'string', default: '4' },
    step: { type: 'string', default: '15' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results', outFile) },
    main: { type: 'string', default: path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js') },
    gmetad: { type: 'string', default: '/usr/sbin/gmetad' },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
}

export function intOption(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got "${text}"`);
  return n;
}

/** `--only c|ts`: which daemons to run (both by default). */
export function sidesOption(only: string | undefined): ('ts' | 'c')[] {
  if (only === undefined) return ['ts', 'c'];
  if (only !== 'c' && only !== 'ts') throw new Error(`--only: expected "c" or "ts", got "${only}"`);
  return [only];
}
