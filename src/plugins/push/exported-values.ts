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
import type { MetricSummary, Summary } from '../../store/model';
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

/** Every value of one event at once (tests, small trees); exporters use exportedValueChunks. */
export function exportedValues(event: SourceEvent | RootEvent): ExportedValues {
  const hosts: HostValues[] = [];
  const summaries: SummaryValues[] = [];
  let invalid = 0;
  let first: ExportedValues | null = null;
  for (const chunk of exportedValueChunks(event, Number.POSITIVE_INFINITY)) {
    first ??= chunk;
    hosts.push(...chunk.hosts);
    summaries.push(...chunk.summaries);
    invalid += chunk.invalid;
  }
  return { source: first!.source, time: first!.time, hosts, summaries, invalid };
}

/**
 * The values of one event in chunks of at most `hostsPerChunk` hosts (a host is never split;
 * summaries come with the chunks), so an exporter can give the event loop a turn between
 * chunks: 1000 hosts x 100 metrics is 100k values, too many for one turn.
 */
export function* exportedValueChunks(event: SourceEvent | RootEvent, hostsPerChunk: number): Generator<ExportedValues> {
  const gridname = event.view.gridname;
  if (event.kind === 'root') {
    yield { source: null, time: Math.floor(event.time), hosts: [], summaries: [summaryValues(gridname, null, event.summary)], invalid: 0 };
    return;
  }
  const source = event.snapshot.source;
  const time = Math.floor(event.snapshot.polledAt);
  let hosts: HostValues[] = [];
  let summaries: SummaryValues[] = [];
  let invalid = 0;
  const chunk = (): ExportedValues => {
    const out = { source, time, hosts, summaries, invalid };
    hosts = [];
    summaries = [];
    invalid = 0;
    return out;
  };
  let emitted = false;
  for (const node of event.snapshot.nodes) {
    if (node.kind !== 'cluster') {
      // A remote grid named like this one would be the root's series (the exposition keeps one too).
      if (node.name !== gridname) summaries.push(summaryValues(node.name, null, node.summary));
      continue;
    }
    for (const host of node.hosts.values()) {
      if (!host.up || (host.dmax > 0 && time - host.t0 > host.dmax)) continue;
      const metrics: HostMetricValue[] = [];
      for (const metric of host.metrics.values()) {
        if (!NUMERIC_TYPES.has(metric.type)) continue;
        if (metric.dmax > 0 && time - metric.t0 > metric.dmax) continue;
        const value = Number(metric.val);
        if (metric.val.trim() === '' || !Number.isFinite(value)) {
          invalid += 1;
          continue;
        }
        metrics.push({ name: metric.name, units: metric.units, value });
      }
      if (metrics.length > 0) hosts.push({ grid: gridname, cluster: node.name, host: host.name, metrics });
      if (hosts.length >= hostsPerChunk) {
        emitted = true;
        yield chunk();
      }
    }
    summaries.push(summaryValues(gridname, node.name, node.summary));
  }
  if (!emitted || hosts.length > 0 || summaries.length > 0 || invalid > 0) yield chunk();
}

function summaryValues(grid: string, cluster: string | null, summary: Summary): SummaryValues {
  return { grid, cluster, hostsUp: summary.hostsUp, hostsDown: summary.hostsDown, metrics: summary.metrics };
}
