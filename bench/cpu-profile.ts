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
