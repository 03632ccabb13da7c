/**
 * What the push exporters (remote_write, influxdb) send for one plugin event, in a flat
 * shape both can encode: the numeric values of every up host, and the summaries.
 *
 * The values the RRD plugin writes and /metrics shows: numeric metrics of hosts that are up
 * (and not past their DMAX), skipping a metric past its DMAX; each cluster's summary; a remote grid's summary;
 * the root summary on its own event. Labels: `grid` is this daemon's gridname for its
 * clusters (also those a child grid's flattened with `scalable off`) and the root, the
 * remote grid's name for a remote grid's summary. Values
 * that are not finite numbers (`U`, `NaN`, garbage) are counted, not sent: InfluxDB cannot
 * store them and Prometheus would store a NaN that no graph can use.
 *
 * Timestamps are the poll's (our clock, epoch seconds), not the gmond's LOCALTIME: a
 * remote-write receiver refuses samples older than what it already holds, so a source
 * whose clock is off must not decide the series' time.
 */
import type { RootEvent, SourceEvent } from '../api';
import type { Cluster, MetricSummary, Summary, TreeNode } from '../../store/model';
import { NUMERIC_TYPES } from '../../store/model';

export interface HostMetricValue {
  readonly name: string;
  readonly units: string;
  readonly value: number;
}

export interface HostValues {
  readonly grid: string;
  readonly cluster: string;
  readonly host: string;
  readonly metrics: readonly HostMetricValue[];
}

export interface SummaryValues {
  readonly grid: string;
  /** null for a grid summary (a remote grid, or the root). */
  readonly cluster: string | null;
  readonly hostsUp: number;
  readonly hostsDown: number;
  /** Keyed by metric NAME. */
  readonly metrics: ReadonlyMap<string, MetricSummary>;
}

export interface ExportedValues {
  /** What the values belong to: the data_source name, or null for the root summary. */
  readonly source: string | null;
  /** Epoch seconds: the poll's, or the root summary's. */
  readonly time: number;
  readonly hosts: readonly HostValues[];
  readonly summaries: readonly SummaryValues[];
  /** Numeric metrics skipped because their VAL is not a finite number. */
  readonly invalid: number;
}

/** Number of values `values` carries: host metrics, SUM and NUM of each summary line, hosts up and down. */
export function countValues(values: ExportedValues): number {
  let n = 0;
  for (const host of values.hosts) n += host.metrics.length;
  for (const summary of values.summaries) n += 2 + 2 * summary.metrics.size;
  return n;
}

export function exportedValues(event: SourceEvent | RootEvent): ExportedValues {
  const hosts: HostValues[] = [];
  const summaries: SummaryValues[] = [];
  const gridname = event.view.gridname;
  if (event.kind === 'root') {
    summaries.push(summaryValues(gridname, null, event.summary));
    return { source: null, time: Math.floor(event.time), hosts, summaries, invalid: 0 };
  }
  const time = Math.floor(event.snapshot.polledAt);
  const walker: Walker = { hosts, summaries, invalid: 0 };
  for (const node of event.snapshot.nodes) walk(walker, node, gridname, time);
  return { source: event.snapshot.source, time, ...walker };
}

interface Walker {
  readonly hosts: HostValues[];
  readonly summaries: SummaryValues[];
  invalid: number;
}

function walk(walker: Walker, node: TreeNode, grid: string, time: number): void {
  if (node.kind === 'cluster') walkCluster(walker, node, grid, time);
  // A remote grid named like this one would be the root's series (the exposition keeps one too).
  else if (node.name !== grid) walker.summaries.push(summaryValues(node.name, null, node.summary));
}

function walkCluster(walker: Walker, cluster: Cluster, grid: string, time: number): void {
  for (const host of cluster.hosts.values()) {
    if (!host.up || (host.dmax > 0 && time - host.t0 > host.dmax)) continue;
    const metrics: HostMetricValue[] = [];
    for (const metric of host.metrics.values()) {
      if (!NUMERIC_TYPES.has(metric.type)) continue;
      if (metric.dmax > 0 && time - metric.t0 > metric.dmax) continue;
      const value = Number(metric.val);
      if (metric.val.trim() === '' || !Number.isFinite(value)) {
        walker.invalid += 1;
        continue;
      }
      metrics.push({ name: metric.name, units: metric.units, value });
    }
    if (metrics.length > 0) walker.hosts.push({ grid, cluster: cluster.name, host: host.name, metrics });
  }
  walker.summaries.push(summaryValues(grid, cluster.name, cluster.summary));
}

function summaryValues(grid: string, cluster: string | null, summary: Summary): SummaryValues {
  return { grid, cluster, hostsUp: summary.hostsUp, hostsDown: summary.hostsDown, metrics: summary.metrics };
}
