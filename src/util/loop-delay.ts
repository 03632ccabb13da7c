/**
 * How late the port thread's event loop runs, sampled while it has work: /status "eventLoop".
 *
 * A repeating 10 ms timer measures the loop's delay (a timer is late by as long as the loop
 * was held), but every tick is a wake-up, and on this project's 2-core VM each cost ~80 µs:
 * 0.12 CPU s per 15 s, a third of what the C gmetad uses in all at 1000 hosts × 100 metrics,
 * spent measuring an idle loop. So the timer runs only while there is work: `wake()` is called
 * where work enters the port thread (a connection on either port, a poll's result, the root
 * summary, a reload), and sampling goes on while the loop stays busy (more than
 * BUSY_FRACTION of the last TAIL_MS), then stops. An idle loop delays nothing that could be
 * measured; what it skips is only time spent waiting for a core while nothing runs.
 * node's monitorEventLoopDelay cannot be paused (enabled again, it records the pause as
 * one huge delay), hence this sampler: it records each tick's lateness beyond its schedule.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/** The sampling interval: a 10 ms timer, as before (1 ms would wake the thread ten times as often). */
export const LOOP_DELAY_RESOLUTION_MS = 10;
/** How long sampling goes on after the last sign of work. */
export const TAIL_MS = 1_000;
/** The loop counts as busy when it ran more than this fraction of the last tail window. */
export const BUSY_FRACTION = 0.02;

export interface LoopDelayDeps {
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  /** Arms a one-shot timer (default setTimeout, unref'd). */
  readonly schedule?: (run: () => void, delayMs: number) => { cancel(): void };
  /** The loop's utilization (0..1) since the previous call (default performance.eventLoopUtilization). */
  readonly utilization?: () => number;
}

function defaultUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, last);
    last = now;
    return since.utilization;
  };
}

function scheduleUnref(run: () => void, delayMs: number): { cancel(): void } {
  const timer = setTimeout(run, delayMs);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}

export class LoopDelaySampler {
  /** Lateness of each tick beyond its schedule, nanoseconds (at least 1: histograms take no 0). */
  readonly histogram: RecordableHistogram = createHistogram();
  private readonly now: () => number;
  private readonly schedule: (run: () => void, delayMs: number) => { cancel(): void };
  private readonly utilization: () => number;
  private timer: { cancel(): void } | null = null;
  private due = 0;
  private windowEnds = 0;
  private enabled = false;

  constructor(private readonly resolutionMs = LOOP_DELAY_RESOLUTION_MS, deps: LoopDelayDeps = {}) {
    this.now = deps.now ?? (() => performance.now());
    this.schedule = deps.schedule ?? scheduleUnref;
    this.utilization = deps.utilization ?? defaultUtilization();
  }

  /** True while the timer runs. */
  get sampling(): boolean {
    return this.timer !== null;
  }

  /** Allows sampling (start-up); nothing is sampled before. */
  enable(): void {
    this.enabled = true;
    this.wake();
  }

  disable(): void {
    this.enabled = false;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Work is arriving: sample from now until the loop has been idle for a while. */
  wake(): void {
    if (!this.enabled || this.timer !== null) return;
    this.utilization(); // the busy fraction is measured from here
    this.windowEnds = this.now() + TAIL_MS;
    this.arm();
  }

  private arm(): void {
    this.due = this.now() + this.resolutionMs;
    this.timer = this.schedule(() => this.tick(), this.resolutionMs);
  }

  private tick(): void {
    const now = this.now();
    this.histogram.record(Math.max(1, Math.round((now - this.due) * 1e6)));
    if (now >= this.windowEnds) {
      if (this.utilization() <= BUSY_FRACTION) {
        this.timer = null;
        return;
      }
      this.windowEnds = now + TAIL_MS;
    }
    this.arm();
  }
}
