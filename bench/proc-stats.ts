/**
 * CPU time and memory of a process and its descendants, read from /proc (Linux only).
 * CPU is utime+stime in clock ticks (/proc/PID/stat fields 14 and 15); memory is VmRSS
 * (resident now), its RssAnon part (private memory, without the pages mapped from files such
 * as the executable and its libraries) and VmHWM (peak resident) from /proc/PID/status, in KiB.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface ProcessSample {
  readonly pid: number;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  readonly rssKiB: number;
  readonly rssAnonKiB: number;
  readonly hwmKiB: number;
}

export interface ProcessTreeSample {
  /** Root pid first, then its live descendants. */
  readonly processes: readonly ProcessSample[];
  /** utime+stime of all of them, in seconds. */
  readonly cpuSeconds: number;
  /** Sum of VmRSS / RssAnon / VmHWM over all of them (the HWM sum is an upper bound of the tree's true peak). */
  readonly rssKiB: number;
  readonly rssAnonKiB: number;
  readonly hwmKiB: number;
  /** When the sample was taken (performance-independent epoch ms). */
  readonly atMs: number;
}

/** Clock ticks per second (`getconf CLK_TCK`), 100 on Linux unless told otherwise. */
export function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/** utime and stime (ticks) from the text of /proc/PID/stat; the command name may contain spaces and parens. */
export function parseStat(text: string): { utimeTicks: number; stimeTicks: number; ppid: number } {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('malformed /proc stat line');
  // After ") " come fields 3 (state), 4 (ppid) ... 14 (utime), 15 (stime).
  const fields = text.slice(close + 2).trim().split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  return { ppid: field(4), utimeTicks: field(14), stimeTicks: field(15) };
}

/** A `Name:   123 kB` line of /proc/PID/status, in KiB (0 if absent, e.g. for a zombie). */
export function parseStatusKiB(text: string, key: string): number {
  const match = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** One process, or null if it no longer exists. */
export function sampleProcess(pid: number): ProcessSample | null {
  try {
    const stat = parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    return {
      pid,
      utimeTicks: stat.utimeTicks,
      stimeTicks: stat.stimeTicks,
      rssKiB: parseStatusKiB(status, 'VmRSS'),
      rssAnonKiB: parseStatusKiB(status, 'RssAnon'),
      hwmKiB: parseStatusKiB(status, 'VmHWM'),
    };
  } catch {
    return null;
  }
}

/** Direct children of `pid`, from /proc/PID/task/TID/children (all threads), else by scanning ppids. */
export function childPids(pid: number): number[] {
  const found = new Set<number>();
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const list = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      for (const child of list ? list.split(/\s+/) : []) found.add(Number(child));
    }
    return [...found];
  } catch {
    // Kernel without CONFIG_PROC_CHILDREN (or the process is gone): fall back to a /proc scan.
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parseStat(fs.readFileSync(`/proc/${entry}/stat`, 'latin1')).ppid === pid) found.add(Number(entry));
    } catch {
      // raced with its exit
    }
  }
  return [...found];
}

/** The process and all its descendants, or null if the root process no longer exists. */
export function sampleProcessTree(pid: number, ticksPerSecond = 100): ProcessTreeSample | null {
  const root = sampleProcess(pid);
  if (!root) return null;
  const processes: ProcessSample[] = [root];
  const pending = childPids(pid);
  const seen = new Set<number>([pid]);
  while (pending.length > 0) {
    const next = pending.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const sample = sampleProcess(next);
    if (!sample) continue;
    processes.push(sample);
    pending.push(...childPids(next));
  }
  let ticks = 0;
  let rssKiB = 0;
  let rssAnonKiB = 0;
  let hwmKiB = 0;
  for (const p of processes) {
    ticks += p.utimeTicks + p.stimeTicks;
    rssKiB += p.rssKiB;
    rssAnonKiB += p.rssAnonKiB;
    hwmKiB += p.hwmKiB;
  }
  return { processes, cpuSeconds: ticks / ticksPerSecond, rssKiB, rssAnonKiB, hwmKiB, atMs: Date.now() };
}

/** CPU ticks (utime+stime) and name of each thread of `pid`, by thread id; empty if it is gone. */
export function sampleThreads(pid: number): Map<number, { readonly comm: string; readonly ticks: number }> {
  const threads = new Map<number, { comm: string; ticks: number }>();
  try {
    for (const entry of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = fs.readFileSync(`/proc/${pid}/task/${entry}/stat`, 'latin1');
        const stat = parseStat(text);
        const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
        threads.set(Number(entry), { comm, ticks: stat.utimeTicks + stat.stimeTicks });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return threads;
}

/** One thread's CPU between two sampleThreads() of a process. */
export interface ThreadCpuDelta {
  readonly tid: number;
  /** The thread's name (gmetad-ts names its workers; V8's and libuv's threads are "node"). */
  readonly comm: string;
  /** The process's main thread (gmetad-ts's port thread). */
  readonly main: boolean;
  readonly seconds: number;
}

/** Each thread alive at `after` of process `pid`, with the CPU seconds it used since `before` (0 for threads it had not seen). */
export function threadCpuBetween(
  pid: number, before: ReturnType<typeof sampleThreads>, after: ReturnType<typeof sampleThreads>, ticksPerSecond: number,
): ThreadCpuDelta[] {
  return [...after].map(([tid, t]) => ({ tid, comm: t.comm, main: tid === pid, seconds: (t.ticks - (before.get(tid)?.ticks ?? 0)) / ticksPerSecond }));
}

/** A thread's scheduler times (/proc/PID/task/TID/schedstat): on a core, and runnable but waiting for one. */
export interface ThreadSchedule {
  readonly runSeconds: number;
  readonly waitSeconds: number;
}

export function parseSchedstat(text: string): ThreadSchedule {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(run) || !Number.isFinite(wait)) throw new Error(`unexpected schedstat: ${JSON.stringify(text)}`);
  return { runSeconds: run! / 1e9, waitSeconds: wait! / 1e9 };
}

/** The scheduler times of the main thread of `pid`; null if it is gone or the kernel has no schedstat. */
export function sampleSchedule(pid: number): ThreadSchedule | null {
  try {
    return parseSchedstat(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'latin1'));
  } catch {
    return null;
  }
}

/** Machine-wide CPU time spent outside any process, in seconds (the `cpu` line of /proc/stat). */
export interface MachineCpu {
  /** Interrupts and softirqs (network receive and send over loopback among them): no nice value preempts them. */
  readonly irqSeconds: number;
  /** Time the hypervisor ran something else while a virtual CPU wanted to run. */
  readonly stealSeconds: number;
}

/** The `cpu` line of /proc/stat: fields user nice system idle iowait irq softirq steal ..., in clock ticks. */
export function parseMachineCpu(text: string, ticksPerSecond: number): MachineCpu {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const fields = line?.trim().split(/\s+/).slice(1).map(Number);
  if (!fields || fields.length < 8 || fields.some((f) => !Number.isFinite(f))) throw new Error(`unexpected /proc/stat cpu line: ${JSON.stringify(line)}`);
  return { irqSeconds: (fields[5]! + fields[6]!) / ticksPerSecond, stealSeconds: fields[7]! / ticksPerSecond };
}

export function sampleMachineCpu(ticksPerSecond: number): MachineCpu {
  return parseMachineCpu(fs.readFileSync('/proc/stat', 'latin1'), ticksPerSecond);
}
