/**
 * Turns exported values into remote-write samples: one series per value, named and
 * converted as the `/metrics` endpoint names them (./family-names), labels sorted by name as
 * the remote-write spec requires (`__name__` first, then byte order). Label values are the
 * text Ganglia sent (bytes re-read as UTF-8, as the exposition does).
 *
 * Label objects are shared: one per family name, one set per host per poll; a host's samples
 * travel as one SampleGroup.
 */
import { toUnicode } from '../prometheus/names';
import type { ExportedValues, SummaryValues } from '../push/exported-values';
import { type FamilyMapping, FamilyNames, fixedFamilies, NameLevel } from './family-names';
import type { Label, SampleGroup } from './write-request';

const NAME_LABEL = '__name__';
const MAX_NAME_LABELS = 100_000;

function byName(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export class SeriesBuilder {
  private readonly nameLabels = new Map<string, Label>();
  private readonly fixed: ReturnType<typeof fixedFamilies>;

  /** `constantLabels`: extra labels on every series (names already checked). */
  constructor(
    private readonly names: FamilyNames,
    prefix: string,
    private readonly constantLabels: readonly Label[] = [],
  ) {
    this.fixed = fixedFamilies(prefix);
  }

  /** The samples of `values`, one group per host and per summary; `timestamp`: epoch ms. */
  groups(values: ExportedValues, timestamp: number): SampleGroup[] {
    // Every name of the event first: a collision found half-way would otherwise rename a
    // family after some of its samples were built, and send two values for one series and
    // timestamp (a receiver refuses the whole batch).
    const hostMappings: FamilyMapping[] = [];
    for (const host of values.hosts) {
      for (const metric of host.metrics) hostMappings.push(this.names.mapping(NameLevel.Host, metric.name, metric.units));
    }
    for (const summary of values.summaries) {
      const level = summary.cluster !== null ? NameLevel.Cluster : NameLevel.Grid;
      for (const metric of summary.metrics.values()) this.names.mapping(level, metric.name, metric.units);
    }
    const out: SampleGroup[] = [];
    let i = 0;
    for (const host of values.hosts) {
      const rest = this.labelSet([['grid', host.grid], ['cluster', host.cluster], ['host', host.host]]);
      const n = host.metrics.length;
      const names: Label[] = new Array(n);
      const vals = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        const m = hostMappings[i++];
        names[j] = this.nameLabel(m.name);
        vals[j] = host.metrics[j].value * m.rule.factor;
      }
      out.push({ timestamp, names, rests: new Array(n).fill(rest), values: vals });
    }
    for (const summary of values.summaries) out.push(this.summaryGroup(summary, timestamp));
    return out;
  }

  private summaryGroup(summary: SummaryValues, timestamp: number): SampleGroup {
    const cluster = summary.cluster !== null;
    const level = cluster ? NameLevel.Cluster : NameLevel.Grid;
    const scope: [string, string][] = cluster ? [['grid', summary.grid], ['cluster', summary.cluster!]] : [['grid', summary.grid]];
    const rest = this.labelSet(scope);
    const hostsName = this.nameLabel(cluster ? this.fixed.clusterHosts : this.fixed.gridHosts);
    const numName = this.nameLabel(cluster ? this.fixed.clusterNum : this.fixed.gridNum);
    const names: Label[] = [hostsName, hostsName];
    const rests: (readonly Label[])[] = [this.labelSet([...scope, ['state', 'up']]), this.labelSet([...scope, ['state', 'down']])];
    const vals: number[] = [summary.hostsUp, summary.hostsDown];
    for (const metric of summary.metrics.values()) {
      const m = this.names.mapping(level, metric.name, metric.units);
      names.push(this.nameLabel(m.name), numName);
      rests.push(rest, this.labelSet([...scope, ['metric', metric.name]]));
      vals.push(metric.sum * m.rule.factor, metric.num);
    }
    return { timestamp, names, rests, values: Float64Array.from(vals) };
  }

  private nameLabel(name: string): Label {
    let label = this.nameLabels.get(name);
    if (!label) {
      // Bounded like FamilyNames: names come from the network.
      if (this.nameLabels.size >= MAX_NAME_LABELS) this.nameLabels.clear();
      label = { name: NAME_LABEL, value: name };
      this.nameLabels.set(name, label);
    }
    return label;
  }

  /** The labels after `__name__`, sorted. */
  private labelSet(pairs: readonly (readonly [string, string])[]): Label[] {
    const labels: Label[] = [...this.constantLabels];
    for (const [name, value] of pairs) labels.push({ name, value: toUnicode(value) });
    return labels.sort(byName);
  }
}
