/**
 * The machine's own timer lateness, beside the daemon's: a process that does nothing but
 * run the event-loop monitor gmetad-ts's /status uses (perf_hooks.monitorEventLoopDelay at
 * 10 ms), at the nice value of the daemon's port thread. Whatever lateness it shows is waiting
 * for a core (the daemons, the emulated gmonds and the dump clients fill both), not work of
 * its own: the floor under the daemon's event-loop figures on this machine, in the same run.
 *
 * Run as a child (`node timer-probe.js NICE`): each line on stdin is answered with one JSON
 * line on stdout, the figures since start, as /status reports them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as readline from 'node:readline';

export const PROBE_RESOLUTION_MS = 10;

export interface ProbeFigures {
  /** Lateness beyond the 10 ms interval, as /status computes it. */
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** The nice value it ran at (the one asked for when permitted). */
  readonly nice: number;
}

export interface TimerProbe {
  read(): Promise<ProbeFigures>;
  stop(): Promise<void>;
}

export function startTimerProbe(nice: number): Promise<TimerProbe> {
  const child: ChildProcess = spawn(process.execPath, [__filename, String(nice)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ask = (): Promise<ProbeFigures> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error('the timer probe has exited'));
        return;
      }
      waiting.push((line) => resolve(JSON.parse(line) as ProbeFigures));
      child.stdin!.write('read\n');
    });
  const probe: TimerProbe = {
    read: ask,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  // Ready once it answers.
  return ask().then(() => probe);
}

function runProbe(nice: number): void {
  try {
    os.setPriority(0, nice);
  } catch {
    // not permitted: it reports the value it runs at
  }
  const histogram = monitorEventLoopDelay({ resolution: PROBE_RESOLUTION_MS });
  histogram.enable();
  const late = (ns: number) => Math.max(0, ns / 1e6 - PROBE_RESOLUTION_MS);
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', () => {
    const figures: ProbeFigures = {
      maxMs: late(histogram.max),
      p99Ms: late(histogram.percentile(99)),
      meanMs: late(histogram.mean),
      nice: os.getPriority(0),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  });
  lines.on('close', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

if (require.main === module) runProbe(Number(process.argv[2] ?? 0));
