/**
 * The port thread's priority (`port_thread_nice`, gmetad-ts only).
 *
 * The main thread serves both ports, reads the pollers' sockets and runs the store and the
 * plugins: little CPU without RRDs (~0.5 s per 15 s at 1M metrics; the RRD writer's updates
 * add ~2 s at 100k metrics) but it must get a core at once. The
 * parse workers, V8's helpers and other processes (a C gmetad beside it, rrdcached) want
 * whole cores. On a busy 2-core machine at nice 0 the port thread waited for a core three
 * times as long as it ran (BENCHMARKS.md, issue 9), so it asks for a lower nice value than
 * everything else. It can only when it may raise its priority: started as root (before it
 * drops privileges) or with RLIMIT_NICE (systemd `LimitNICE=`).
 *
 * Linux nice values belong to threads (setpriority(PRIO_PROCESS, tid)) and a new thread or
 * child process inherits its creator's, so what the port thread creates later goes back to
 * the process's base value: the parse workers set their own at start (`baseNice` in their
 * workerData), child processes are set right after spawning (`restoreBaseNice`), and libuv's
 * thread pool (file I/O, DNS, gunzip) is started before the raise so that its threads keep
 * the base value.
 */
import { promises as fs, writeFileSync } from 'node:fs';
import * as os from 'node:os';

/** The calls this needs from node:os (tests inject their own). */
export interface PriorityCalls {
  getPriority(pid?: number): number;
  setPriority(pid: number, priority: number): void;
}

export type PortThreadPriority =
  | { readonly kind: 'unchanged'; readonly nice: number }
  | { readonly kind: 'set'; readonly from: number; readonly to: number }
  | { readonly kind: 'refused'; readonly nice: number; readonly wanted: number; readonly reason: string };

/** The nice value the process started with; what threads and children other than the port thread keep. */
let baseNice: number | null = null;
let portNice: number | null = null;

/** The base nice value for threads and children (the process's, before any raise). */
export function processBaseNice(calls: PriorityCalls = os): number {
  return baseNice ?? calls.getPriority(0);
}

/**
 * Sets the calling thread (the port thread) to `wanted`; 0 leaves it as started. Never makes
 * it lower priority than it started with (under `nice -n -15` it stays at -15); a raise that
 * is refused leaves it where it was, and says why. Called once, at start, while still root.
 */
export async function setPortThreadNice(wanted: number, calls: PriorityCalls = os): Promise<PortThreadPriority> {
  baseNice ??= calls.getPriority(0);
  const current = calls.getPriority(0);
  const target = wanted === 0 ? current : Math.min(wanted, baseNice);
  if (target === current) return { kind: 'unchanged', nice: current };
  // Its threads are created on first use, all at once; started now, they are not the port thread's children.
  await fs.access('/');
  try {
    calls.setPriority(0, target);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'EACCES'
      ? 'not permitted (start as root, or allow it with RLIMIT_NICE / systemd LimitNICE=)'
      : (err as Error).message;
    return { kind: 'refused', nice: current, wanted: target, reason };
  }
  portNice = target;
  return { kind: 'set', from: current, to: target };
}

/**
 * A child process inherits the port thread's nice value: give it the process's base value.
 * It may already have exited (then there is nothing to do).
 */
export function restoreBaseNice(pid: number | undefined, calls: PriorityCalls = os): void {
  if (pid === undefined || portNice === null || baseNice === null || portNice === baseNice) return;
  try {
    calls.setPriority(pid, baseNice);
  } catch {
    // ESRCH: the child is gone already.
  }
}

/**
 * Called first in a worker thread the port thread started (a parse worker, the RRD update
 * thread): the thread inherited the port thread's nice value, which may be raised, and goes
 * back to the process's (`baseNice`, from its workerData), as bulk work should; and it gets
 * a name (Linux), so that `top -H` and the benchmarks tell it apart from V8's and libuv's
 * threads, which node names "node" too.
 */
export function settleWorkerThread(name: string, baseNice: number): void {
  try {
    if (os.getPriority(0) !== baseNice) os.setPriority(0, baseNice);
  } catch {
    // Raising a nice value is always permitted on Linux; elsewhere the thread runs as it is.
  }
  try {
    writeFileSync('/proc/thread-self/comm', name);
  } catch {
    // not Linux, or /proc not mounted: only a name
  }
}

/** For tests: forget what was set. */
export function resetThreadPriorityState(): void {
  baseNice = null;
  portNice = null;
}
