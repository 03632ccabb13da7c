/**
 * The Ganglia tree in the Prometheus text format (0.0.4), rendered in slices.
 *
 * Families:
 *   <prefix><metric>[_unit]{grid,cluster,host}          every numeric metric of every host
 *                                                        that is up and not expired
 *   <prefix>cluster_<metric>[_unit]{grid,cluster}        the cluster's SUM over its up hosts
 *   <prefix>grid_<metric>[_unit]{grid}                   a remote grid's SUM, and this grid's
 *   <prefix>cluster_metric_hosts{grid,cluster,metric}    NUM: hosts summed in each SUM
 *   <prefix>grid_metric_hosts{grid,metric}
 *   <prefix>cluster_hosts{grid,cluster,state}            hosts up / down
 *   <prefix>grid_hosts{grid,state}
 * then the daemon's own health (gmetad_*, health.ts).
 *
 * Why not prom-client: its registry keeps every series in label-keyed maps (setting 100k
 * values took 175-365 ms per poll here) and renders all of it in one run of microtasks
 * (170-230 ms at 100k series, during which the event loop never turns). The tree is
 * already an immutable in-memory model, so this reads it directly at scrape time and
 * gives the event loop back every few milliseconds.
 *
 * Names: see names.ts. Two Ganglia metrics whose names clean up to the same Prometheus name
 * (`cpu.user` and `cpu_user`, or a host metric `cluster_x` and the cluster summary of `x`)
 * would merge two meanings into one family, so the clean one (a name that needed no
 * changes, else host metrics before summaries, then alphabetical) keeps the name and each
 * other gets `_<8 hex of its Ganglia name>` before the unit: stable from scrape to scrape.
 */
import { NUMERIC_TYPES, type Cluster, type ExtraData, type Grid, type Host, type Summary, type TreeNode } from '../../store/model';
import type { TreeView } from '../../store/store';
import type { DaemonStats } from '../../util/stats';
import { family, familyHeader, labels, sample, sampleLine, sampleText, type Family } from './families';
import { healthFamilies } from './health';
import {
  familyName, formatValue, isCleanName, lintSafeBase, sanitizeName, shortHash, unitRule, type UnitRule,
} from './names';

/** A VAL that is already a number in the text format (Go's ParseFloat), written verbatim. */
const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

export interface ExpositionOptions {
  /** Prepended to every Ganglia family name (default "ganglia_"). */
  readonly prefix: string;
  /** Append the gmetad_* health families. */
  readonly health: boolean;
  /** Append process_* figures (not in a node_exporter textfile: it has its own). */
  readonly processMetrics: boolean;
  /** Give the event loop back after this much work (ms). */
  readonly sliceMs: number;
  /** Text per chunk handed to the writer (characters). */
  readonly chunkChars: number;
}

export const DEFAULT_EXPOSITION: ExpositionOptions = {
  prefix: 'ganglia_', health: true, processMetrics: true, sliceMs: 5, chunkChars: 64 * 1024,
};

export interface ExpositionInput {
  readonly view: TreeView;
  /** Epoch seconds: hosts not heard from or past DMAX at this time are left out. */
  readonly now: number;
  readonly stats: DaemonStats;
  /** Epoch ms of the daemon's start. */
  readonly bootTimeMs: number;
}

export interface RenderCounts {
  families: number;
  series: number;
  /** Times the event loop was given back. */
  pauses: number;
  /**
   * Longest stretch without giving the event loop back (wall ms): what a scrape blocks. On a
   * loaded machine this includes time the OS ran other processes.
   */
  maxSliceMs: number;
  /** The same stretch in this process's CPU time (ms): the blocking the work itself costs. */
  maxSliceCpuMs: number;
}

export function newRenderCounts(): RenderCounts {
  return { families: 0, series: 0, pauses: 0, maxSliceMs: 0, maxSliceCpuMs: 0 };
}

/** Hands the event loop back (other sockets, polls, timers run) before going on. */
export type Yield = () => Promise<void>;
export const yieldToEventLoop: Yield = () => new Promise((resolve) => setImmediate(resolve));

const enum Level { Host = 0, Cluster = 1, Grid = 2 }
const LEVEL_WORD = ['', 'cluster_', 'grid_'] as const;

/** How one Ganglia metric (at one level, in one unit) maps to a family; cached across scrapes. */
interface Mapping {
  readonly key: string;
  readonly level: Level;
  readonly gangliaName: string;
  readonly base: string;
  readonly rule: UnitRule;
  readonly clean: boolean;
}

interface Claim {
  readonly mapping: Mapping;
  readonly family: Family;
}

function describe(extra: ExtraData, name: string, units: string, level: Level): string {
  let title = '';
  let desc = '';
  for (const e of extra) {
    if (e.name === 'DESC') desc = e.val;
    else if (e.name === 'TITLE') title = e.val;
  }
  const what = desc || title || `Ganglia metric ${name}`;
  const unitText = units.trim() ? ` (Ganglia ${name} in ${units.trim()})` : ` (Ganglia ${name})`;
  const scope = level === Level.Cluster ? 'Sum over the cluster\'s up hosts: ' : level === Level.Grid ? 'Sum over the grid\'s up hosts: ' : '';
  return `${scope}${what}${unitText}`;
}

/** Is the host shown: up at its last poll, still heard from now, not past its DMAX. */
export function hostVisible(h: Host, now: number): boolean {
  if (!h.up) return false;
  const tn = Math.max(0, Math.floor(now - h.t0));
  if (h.tmax > 0 && tn >= 4 * h.tmax) return false;
  return !(h.dmax > 0 && tn > h.dmax);
}

export class ExpositionRenderer {
  /** level → units → Ganglia name → mapping (nested maps: no key string built per sample). */
  private readonly mappings: Map<string, Map<string, Mapping>>[] = [new Map(), new Map(), new Map()];
  private mappingCount = 0;

  constructor(private readonly options: ExpositionOptions = DEFAULT_EXPOSITION, private readonly pause: Yield = yieldToEventLoop) {}

  private mapping(level: Level, name: string, units: string): Mapping {
    let byName = this.mappings[level].get(units);
    if (!byName) {
      byName = new Map();
      this.mappings[level].set(units, byName);
    }
    let m = byName.get(name);
    if (!m) {
      const { base, unitToken } = lintSafeBase(sanitizeName(name));
      const fromUnits = unitRule(units);
      const rule = fromUnits.suffix !== '' || unitToken === null ? fromUnits : unitRule(unitToken);
      m = { key: `${level}\u0000${name}\u0000${units}`, level, gangliaName: name, base, rule, clean: isCleanName(name) };
      if (++this.mappingCount > 100_000) { // names from hostile sources: bounded
        for (const map of this.mappings) map.clear();
        this.mappingCount = 0;
      }
      byName.set(name, m);
    }
    return m;
  }

  /**
   * The exposition text, in chunks of about options.chunkChars; between chunks (and inside
   * long walks) the event loop gets a turn at least every options.sliceMs.
   */
  async *render(input: ExpositionInput, counts: RenderCounts = newRenderCounts()): AsyncGenerator<string> {
    const { view, now } = input;
    const { prefix, sliceMs } = this.options;
    let sliceStart = performance.now();
    let sliceCpuStart = process.cpuUsage();
    const endSlice = (worked: number): void => {
      const cpu = process.cpuUsage(sliceCpuStart);
      counts.maxSliceMs = Math.max(counts.maxSliceMs, worked);
      counts.maxSliceCpuMs = Math.max(counts.maxSliceCpuMs, (cpu.user + cpu.system) / 1000);
    };
    const maybePause = async (): Promise<void> => {
      const worked = performance.now() - sliceStart;
      if (worked < sliceMs) return;
      endSlice(worked);
      counts.pauses += 1;
      await this.pause();
      sliceStart = performance.now();
      sliceCpuStart = process.cpuUsage();
    };

    const claims = new Map<Mapping, Claim>();
    const claim = (level: Level, name: string, units: string, extra: ExtraData): Claim => {
      const mapping = this.mapping(level, name, units);
      let c = claims.get(mapping);
      if (!c) {
        c = { mapping, family: family('', describe(extra, name, units, level)) };
        claims.set(mapping, c);
      }
      return c;
    };

    const grid = view.gridname;
    const clusterHosts = family(`${prefix}cluster_hosts`, 'Hosts of the cluster by state at its last poll (up: heard from within 4 x TMAX).');
    const gridHosts = family(`${prefix}grid_hosts`, 'Hosts of the grid by state (this grid: its sources that answer).');
    const clusterNum = family(`${prefix}cluster_metric_hosts`, 'Up hosts reporting the metric in the cluster (NUM of its summary).');
    const gridNum = family(`${prefix}grid_metric_hosts`, 'Up hosts reporting the metric in the grid (NUM of its summary).');

    const summarize = (summary: Summary, level: Level, labelText: string, hostsFamily: Family, numFamily: Family): void => {
      sample(hostsFamily, `${labelText},state="up"`, summary.hostsUp);
      sample(hostsFamily, `${labelText},state="down"`, summary.hostsDown);
      for (const ms of summary.metrics.values()) {
        const c = claim(level, ms.name, ms.units, ms.extra);
        sample(c.family, labelText, ms.sum * c.mapping.rule.factor);
        sample(numFamily, `${labelText},${labels([['metric', ms.name]])}`, ms.num);
      }
    };

    // Nodes of sources that stopped answering are left out, as their hosts are.
    const dead = new Set<TreeNode>();
    for (const s of view.sources) {
      if (!s.dead || !s.snapshot) continue;
      for (const node of s.snapshot.nodes) dead.add(node);
      for (const node of s.snapshot.absentNodes ?? []) dead.add(node);
    }

    const gridsSeen = new Set<string>([grid]);
    summarize(view.rootSummary, Level.Grid, labels([['grid', grid]]), gridHosts, gridNum);
    let work = 0;
    for (const node of view.nodes.values()) {
      if (dead.has(node)) continue;
      if (node.kind === 'grid') {
        const g: Grid = node;
        if (gridsSeen.has(g.name)) continue; // one series per grid name
        gridsSeen.add(g.name);
        summarize(g.summary, Level.Grid, labels([['grid', g.name]]), gridHosts, gridNum);
        continue;
      }
      const cluster: Cluster = node;
      const clusterLabels = labels([['grid', grid], ['cluster', cluster.name]]);
      summarize(cluster.summary, Level.Cluster, clusterLabels, clusterHosts, clusterNum);
      for (const host of cluster.hosts.values()) {
        if (!hostVisible(host, now)) continue;
        const hostLabels = `${clusterLabels},${labels([['host', host.name]])}`;
        for (const m of host.metrics.values()) {
          if (!NUMERIC_TYPES.has(m.type)) continue;
          if (m.dmax > 0 && now - m.t0 > m.dmax) continue;
          const c = claim(Level.Host, m.name, m.units, m.extra);
          const { factor } = c.mapping.rule;
          if (factor === 1 && PLAIN_DECIMAL.test(m.val)) {
            sampleText(c.family, hostLabels, m.val);
            continue;
          }
          const value = m.val.trim() === '' ? NaN : Number(m.val);
          if (Number.isNaN(value) && m.val.trim() !== 'NaN') continue;
          sampleText(c.family, hostLabels, formatValue(value * factor));
        }
        if ((++work & 7) === 0) await maybePause();
      }
    }

    const families: Family[] = [clusterHosts, gridHosts, clusterNum, gridNum];
    const taken = new Set(families.map((f) => f.name));
    // Host metrics first, then cluster and grid summaries (claims keep first-seen order within each).
    const ordered = [...claims.values()].sort((a, b) => a.mapping.level - b.mapping.level);
    families.push(...this.name(ordered, prefix, taken));
    if (this.options.health) {
      families.push(...healthFamilies(view, input.stats, { process: this.options.processMetrics, bootTimeMs: input.bootTimeMs }));
    }

    let chunk = '';
    for (const f of families) {
      const n = f.values.length;
      if (n === 0) continue;
      counts.families += 1;
      counts.series += n;
      chunk += familyHeader(f);
      for (let i = 0; i < n; i++) {
        chunk += sampleLine(f, i);
        if (chunk.length >= this.options.chunkChars) {
          yield chunk;
          chunk = '';
          await maybePause();
        }
      }
    }
    if (chunk !== '') yield chunk;
    endSlice(performance.now() - sliceStart);
  }

  /** Gives each claim its family name, resolving collisions (see the header). */
  private name(claims: Claim[], prefix: string, taken: Set<string>): Family[] {
    const byName = new Map<string, Claim[]>();
    for (const c of claims) {
      const wanted = familyName(`${prefix}${LEVEL_WORD[c.mapping.level]}`, c.mapping.base, c.mapping.rule.suffix);
      const list = byName.get(wanted);
      if (list) list.push(c);
      else byName.set(wanted, [c]);
    }
    const out: Family[] = [];
    for (const [wanted, list] of byName) {
      // Claims with the same Ganglia name and level (units spelled differently, or KB on one
      // host and MB on another: both converted to bytes) are one meaning: one family.
      const owners = new Map<string, Claim[]>();
      for (const c of list) {
        const owner = `${c.mapping.level}\u0000${c.mapping.gangliaName}`;
        const same = owners.get(owner);
        if (same) same.push(c);
        else owners.set(owner, [c]);
      }
      const ranked = [...owners.values()].sort((a, b) => {
        const x = a[0].mapping;
        const y = b[0].mapping;
        return Number(y.clean) - Number(x.clean) || x.level - y.level || (x.gangliaName < y.gangliaName ? -1 : x.gangliaName > y.gangliaName ? 1 : 0);
      });
      ranked.forEach((group, i) => {
        const m = group[0].mapping;
        let name = wanted;
        if (i > 0 || taken.has(wanted)) {
          name = familyName(`${prefix}${LEVEL_WORD[m.level]}`, `${m.base}_${shortHash(m.gangliaName)}`, m.rule.suffix);
        }
        taken.add(name);
        const merged = group[0].family;
        merged.name = name;
        for (const other of group.slice(1)) {
          merged.labelTexts.push(...other.family.labelTexts);
          merged.values.push(...other.family.values);
        }
        out.push(merged);
      });
    }
    return out;
  }
}
