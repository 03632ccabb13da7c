/**
 * Turns exported values into remote-write samples: one series per value, named as the
 * Prometheus exporters name them (../prometheus-naming), labels sorted by name as the
 * remote-write spec requires: `__name__`, then `cluster`, `grid`, `host` and the configured
 * constant labels, in byte order.
 *
 *   ganglia_load_one{cluster, grid, host}         each numeric host metric
 *   ganglia_sum_load_one{cluster, grid}           a cluster's SUM (a grid's, without cluster)
 *   ganglia_num_load_one{cluster, grid}           its NUM
 *   ganglia_hosts_up / ganglia_hosts_down{cluster, grid}
 *
 * Timestamps only move forward per data source (see SeriesTimestamps): a receiver refuses a
 * whole batch that holds a sample whose timestamp it already has with another value, and two
 * polls of one source can end within the same second (a restart after SIGHUP).
 *
 * Label objects are shared: one per metric name, one set per host per poll, so a queued
 * sample costs one small object.
 */
import {
  HOSTS_DOWN_NAME, HOSTS_UP_NAME, LABEL_CLUSTER, LABEL_GRID, LABEL_HOST, type PrometheusNames,
} from '../prometheus-naming';
import type { ExportedValues } from '../push/exported-values';
import type { Label, RemoteSample } from './write-request';

const NAME_LABEL = '__name__';

function byName(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export class SeriesBuilder {
  private readonly nameLabels = new Map<string, Label>();

  /** `constantLabels`: extra labels on every series (names already checked). */
  constructor(private readonly names: PrometheusNames, private readonly constantLabels: readonly Label[] = []) {}

  /** `timestamp`: epoch ms of every sample of `values`. */
  samples(values: ExportedValues, timestamp: number): RemoteSample[] {
    const out: RemoteSample[] = [];
    for (const host of values.hosts) {
      const rest = this.labelSet(host.grid, host.cluster, host.host);
      for (const metric of host.metrics) {
        out.push({ labels: [this.nameLabel(this.names.host(metric.name, metric.units)), ...rest], value: metric.value, timestamp });
      }
    }
    for (const summary of values.summaries) {
      const rest = this.labelSet(summary.grid, summary.cluster, null);
      out.push({ labels: [this.nameLabel(HOSTS_UP_NAME), ...rest], value: summary.hostsUp, timestamp });
      out.push({ labels: [this.nameLabel(HOSTS_DOWN_NAME), ...rest], value: summary.hostsDown, timestamp });
      for (const metric of summary.metrics.values()) {
        out.push({ labels: [this.nameLabel(this.names.sum(metric.name, metric.units)), ...rest], value: metric.sum, timestamp });
        out.push({ labels: [this.nameLabel(this.names.num(metric.name)), ...rest], value: metric.num, timestamp });
      }
    }
    return out;
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
  private labelSet(grid: string, cluster: string | null, host: string | null): Label[] {
    const labels: Label[] = [{ name: LABEL_GRID, value: grid }, ...this.constantLabels];
    if (cluster !== null) labels.push({ name: LABEL_CLUSTER, value: cluster });
    if (host !== null) labels.push({ name: LABEL_HOST, value: host });
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
