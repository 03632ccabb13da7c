/**
 * Summary of a V8 .cpuprofile (written by `node --cpu-prof`): self time per function,
 * to point at what a slow daemon spends its CPU on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotFunction {
  readonly name: string;
  /** file:line, relative to `root` when inside it. */
  readonly location: string;
  readonly selfMs: number;
  readonly selfPercent: number;
}

/** Self time by function (same name+location merged), largest first. */
export function hotFunctions(profile: CpuProfile, root = '', limit = 15): HotFunction[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // The delta before sample i+1 is the time spent in sample i.
    const us = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + us);
  }
  const merged = new Map<string, { name: string; location: string; us: number }>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const frame = node.callFrame;
    const name = frame.functionName || '(anonymous)';
    const file = frame.url.replace(/^file:\/\//, '');
    const shown = root && file.startsWith(root) ? path.relative(root, file) : file;
    const location = shown ? `${shown}:${frame.lineNumber + 1}` : '';
    const key = `${name}@${location}`;
    const entry = merged.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    merged.set(key, entry);
  }
  return [...merged.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, selfPercent: total ? (100 * e.us) / total : 0 }));
}

/** The newest .cpuprofile in `dir`, or null. */
export function newestProfile(dir: string): string | null {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  const withTimes = files.map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
  return path.join(dir, withTimes[0]!.f);
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
}

/** A markdown-ish list of the hottest functions. */
export function formatHotFunctions(list: readonly HotFunction[]): string {
  return list
    .map((h) => `  ${h.selfPercent.toFixed(1).padStart(5)}%  ${h.selfMs.toFixed(0).padStart(7)} ms  ${h.name}  ${h.location}`)
    .join('\n');
}

export interface LongTask {
  /** Start, ms after the profile started. */
  readonly atMs: number;
  readonly durationMs: number;
  /** Outermost gmetad-ts frames (under dist/src) of the samples in the stretch, with their share. */
  readonly entries: readonly { name: string; percent: number }[];
  /** Functions with the most self time inside the stretch. */
  readonly leaves: readonly { name: string; percent: number }[];
}

/**
 * Stretches of consecutive non-idle samples of at least `minMs`: what kept the event loop
 * busy (and so delayed timers and sockets) that long. Sampling is ~1 ms, so durations are
 * approximate; GC and native work ("(program)") count as busy.
 */
export function longTasks(profile: CpuProfile, minMs = 40, limit = 10, ownCode = '/dist/src/'): LongTask[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes as (ProfileNode & { children?: number[] })[]) {
    for (const child of n.children ?? []) parent.set(child, n.id);
  }
  const label = (n: ProfileNode) => {
    const file = n.callFrame.url.replace(/^file:\/\//, '');
    const short = file.includes(ownCode) ? file.slice(file.indexOf(ownCode) + 1) : path.basename(file);
    return `${n.callFrame.functionName || '(anonymous)'}${short ? ` ${short}:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  const entryOf = (id: number): string => {
    let outer: ProfileNode | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node && node.callFrame.url.includes(ownCode)) outer = node;
    }
    return outer ? label(outer) : '(outside gmetad-ts code)';
  };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const tasks: { atUs: number; us: number; ids: number[] }[] = [];
  let clock = 0;
  let current: { atUs: number; us: number; ids: number[] } | null = null;
  for (let i = 0; i < samples.length; i++) {
    clock += deltas[i] ?? 0;
    const id = samples[i]!;
    const idle = byId.get(id)?.callFrame.functionName === '(idle)';
    const span = deltas[i + 1] ?? 0;
    if (idle) {
      if (current) tasks.push(current);
      current = null;
      continue;
    }
    current ??= { atUs: clock, us: 0, ids: [] };
    current.us += span;
    current.ids.push(id);
  }
  if (current) tasks.push(current);
  const share = (names: string[]) => {
    const counts = new Map<string, number>();
    for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, c]) => ({ name, percent: (100 * c) / names.length }));
  };
  return tasks
    .filter((t) => t.us >= minMs * 1000)
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((t) => ({
      atMs: t.atUs / 1000,
      durationMs: t.us / 1000,
      entries: share(t.ids.map(entryOf)),
      leaves: share(t.ids.map((id) => label(byId.get(id)!))),
    }));
}

export function formatLongTasks(list: readonly LongTask[]): string {
  const pct = (xs: readonly { name: string; percent: number }[]) => xs.map((x) => `${x.percent.toFixed(0)}% ${x.name}`).join('; ');
  return list
    .map((t) => `  ${t.durationMs.toFixed(0).padStart(5)} ms at +${(t.atMs / 1000).toFixed(1)} s\n      entry: ${pct(t.entries)}\n      self:  ${pct(t.leaves)}`)
    .join('\n');
}
