/**
 * Turns exported values into remote-write samples: one series per value, named and
 * converted as the `/metrics` endpoint names them (./family-names), labels sorted by name as
 * the remote-write spec requires (`__name__` first, then byte order). Label values are the
 * text Ganglia sent (bytes re-read as UTF-8, as the exposition does).
 *
 * Timestamps only move forward per data source (SeriesTimestamps): a receiver refuses a
 * whole batch that holds a sample whose timestamp it already has with another value, and two
 * polls of one source can end within the same second (a restart after SIGHUP).
 *
 * Label objects are shared: one per family name, one set per host per poll, so a queued
 * sample costs one small object.
 */
import { toUnicode } from '../prometheus/names';
import type { ExportedValues, SummaryValues } from '../push/exported-values';
import { type FamilyMapping, FamilyNames, fixedFamilies, NameLevel } from './family-names';
import type { Label, RemoteSample } from './write-request';

const NAME_LABEL = '__name__';

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

  /** `timestamp`: epoch ms of every sample of `values`. */
  samples(values: ExportedValues, timestamp: number): RemoteSample[] {
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
    const out: RemoteSample[] = [];
    let i = 0;
    for (const host of values.hosts) {
      const rest = this.labelSet([['grid', host.grid], ['cluster', host.cluster], ['host', host.host]]);
      for (const metric of host.metrics) {
        const m = hostMappings[i++];
        out.push({ labels: [this.nameLabel(m.name), ...rest], value: metric.value * m.rule.factor, timestamp });
      }
    }
    for (const summary of values.summaries) this.summarySamples(summary, timestamp, out);
    return out;
  }

  private summarySamples(summary: SummaryValues, timestamp: number, out: RemoteSample[]): void {
    const cluster = summary.cluster !== null;
    const level = cluster ? NameLevel.Cluster : NameLevel.Grid;
    const scope: [string, string][] = cluster ? [['grid', summary.grid], ['cluster', summary.cluster!]] : [['grid', summary.grid]];
    const rest = this.labelSet(scope);
    const hostsName = this.nameLabel(cluster ? this.fixed.clusterHosts : this.fixed.gridHosts);
    const numName = this.nameLabel(cluster ? this.fixed.clusterNum : this.fixed.gridNum);
    out.push({ labels: [hostsName, ...this.labelSet([...scope, ['state', 'up']])], value: summary.hostsUp, timestamp });
    out.push({ labels: [hostsName, ...this.labelSet([...scope, ['state', 'down']])], value: summary.hostsDown, timestamp });
    for (const metric of summary.metrics.values()) {
      const m = this.names.mapping(level, metric.name, metric.units);
      out.push({ labels: [this.nameLabel(m.name), ...rest], value: metric.sum * m.rule.factor, timestamp });
      out.push({ labels: [numName, ...this.labelSet([...scope, ['metric', metric.name]])], value: metric.num, timestamp });
    }
  }

  private nameLabel(name: string): Label {
    let label = this.nameLabels.get(name);
    if (!label) {
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

/** Epoch ms per data source (and the root), strictly increasing: a repeated second becomes +1 ms. */
export class SeriesTimestamps {
  private readonly last = new Map<string | null, number>();

  next(source: string | null, timeSeconds: number): number {
    const previous = this.last.get(source) ?? Number.NEGATIVE_INFINITY;
    const ms = Math.max(timeSeconds * 1000, previous + 1);
    this.last.set(source, ms);
    return ms;
  }
}
