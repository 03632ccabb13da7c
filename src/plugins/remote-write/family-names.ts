/**
 * Prometheus names for pushed samples: exactly the families the `/metrics` endpoint serves
 * (../prometheus/exposition), so a dashboard works the same on scraped and pushed data.
 * The name rules and unit conversions are ../prometheus/names'; this applies them per value
 * instead of per scrape:
 *
 *   <prefix><metric>[_unit]{grid, cluster, host}      host metrics, converted to the base unit
 *   <prefix>cluster_<metric>[_unit]{grid, cluster}    a cluster's SUM   (grid_…{grid} for grids)
 *   <prefix>cluster_metric_hosts{grid, cluster, metric}   its NUM
 *   <prefix>cluster_hosts{grid, cluster, state="up"|"down"}
 *
 * Collisions are resolved as the exposition resolves them: among the Ganglia metrics whose
 * names clean up to one family name, the clean one (a name that needed no change, else host
 * metrics before summaries, then alphabetical) keeps it and each other gets
 * `_<8 hex of its Ganglia name>`. A scrape sees the whole tree at once; a push sees the
 * metrics as they come, so a later, cleaner metric can take a name over (then logged), after
 * which both agree.
 */
import { familyName, isCleanName, lintSafeBase, sanitizeName, shortHash, unitRule, type UnitRule } from '../prometheus/names';

export const enum NameLevel { Host = 0, Cluster = 1, Grid = 2 }
const LEVEL_WORD = ['', 'cluster_', 'grid_'] as const;

/** The families with fixed names, by level (their names are never given to a metric). */
export function fixedFamilies(prefix: string) {
  return {
    clusterHosts: `${prefix}cluster_hosts`,
    gridHosts: `${prefix}grid_hosts`,
    clusterNum: `${prefix}cluster_metric_hosts`,
    gridNum: `${prefix}grid_metric_hosts`,
  } as const;
}

export interface FamilyMapping {
  readonly level: NameLevel;
  readonly gangliaName: string;
  readonly base: string;
  readonly rule: UnitRule;
  readonly clean: boolean;
  readonly wanted: string;
  /** The family name now (changes only when a collision is re-ranked). */
  name: string;
}

/** Bound of remembered mappings: names come from the network (as the exposition bounds them). */
const MAX_MAPPINGS = 100_000;

export class FamilyNames {
  /** level → units → Ganglia name → mapping. */
  private mappings: Map<string, Map<string, FamilyMapping>>[] = [new Map(), new Map(), new Map()];
  private count = 0;
  private readonly byWanted = new Map<string, FamilyMapping[]>();
  private readonly fixed: ReadonlySet<string>;

  constructor(
    private readonly prefix: string,
    private readonly onRename?: (gangliaName: string, from: string, to: string) => void,
  ) {
    this.fixed = new Set(Object.values(fixedFamilies(prefix)));
  }

  mapping(level: NameLevel, gangliaName: string, units: string): FamilyMapping {
    let byName = this.mappings[level].get(units);
    if (!byName) {
      byName = new Map();
      this.mappings[level].set(units, byName);
    }
    const known = byName.get(gangliaName);
    if (known) return known;
    if (++this.count > MAX_MAPPINGS) {
      this.mappings = [new Map(), new Map(), new Map()];
      this.byWanted.clear();
      this.count = 1;
      byName = new Map();
      this.mappings[level].set(units, byName);
    }
    const { base, unitToken } = lintSafeBase(sanitizeName(gangliaName));
    const fromUnits = unitRule(units);
    const rule = fromUnits.suffix !== '' || unitToken === null ? fromUnits : unitRule(unitToken);
    const wanted = familyName(`${this.prefix}${LEVEL_WORD[level]}`, base, rule.suffix);
    const m: FamilyMapping = { level, gangliaName, base, rule, clean: isCleanName(gangliaName), wanted, name: wanted };
    byName.set(gangliaName, m);
    const group = this.byWanted.get(wanted);
    if (group) group.push(m);
    else this.byWanted.set(wanted, [m]);
    this.rank(wanted);
    return m;
  }

  /** Names every mapping that wants `wanted` (see the header); same Ganglia name and level: one family. */
  private rank(wanted: string): void {
    const group = this.byWanted.get(wanted)!;
    const owners: string[] = [];
    const byOwner = new Map<string, FamilyMapping[]>();
    for (const m of group) {
      const owner = `${m.level}\u0000${m.gangliaName}`;
      const same = byOwner.get(owner);
      if (same) same.push(m);
      else {
        byOwner.set(owner, [m]);
        owners.push(owner);
      }
    }
    const ranked = owners.map((o) => byOwner.get(o)!).sort((a, b) => {
      const x = a[0];
      const y = b[0];
      return Number(y.clean) - Number(x.clean) || x.level - y.level || (x.gangliaName < y.gangliaName ? -1 : x.gangliaName > y.gangliaName ? 1 : 0);
    });
    ranked.forEach((members, i) => {
      const first = members[0];
      const name = i > 0 || this.fixed.has(wanted)
        ? familyName(`${this.prefix}${LEVEL_WORD[first.level]}`, `${first.base}_${shortHash(first.gangliaName)}`, first.rule.suffix)
        : wanted;
      for (const m of members) {
        if (m.name !== name && m !== group[group.length - 1]) this.onRename?.(m.gangliaName, m.name, name);
        m.name = name;
      }
    });
  }
}
