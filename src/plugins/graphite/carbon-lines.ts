/**
 * Which values go to carbon, as in the C gmetad 3.7.2 (startElement_METRIC in
 * gmetad/process_xml.c calls write_data_to_carbon next to the host RRD write):
 *
 * - every numeric metric (int8..uint32, float, double) of every host that is up, in the
 *   clusters this gmetad polls itself (clusters inside a child grid are not sent; with
 *   `scalable off` they are flattened to the top level and sent, as in C);
 * - not the summaries (__SummaryInfo__), neither of clusters, grids nor the root;
 * - a metric whose DMAX has expired is skipped (the snapshot builder already drops it);
 * - the value is VAL exactly as received, the time the CLUSTER's LOCALTIME (the time of
 *   the poll when a source sends none: C uses time(0) for 0).
 *
 * One line per value: "path value time\n". The C gmetad appends a NUL byte after each
 * line over TCP (it writes strlen + 1 bytes); we do not.
 */
import type { Cluster, Host, SourceSnapshot } from '../../store/model';
import { NUMERIC_TYPES } from '../../store/model';
import { authoritativeClusters } from '../authoritative-clusters';
import { CarbonNamer, joinParts } from './carbon-names';

/** A value carbon would refuse or that would break the line: empty, or holding whitespace. */
const BAD_VALUE = /^$|[\x00-\x20\x7f]/;

export interface LineSink {
  addText(line: string): void;
}

export interface LineCounts {
  lines: number;
  /** Values not sent because VAL was empty or held whitespace. */
  invalid: number;
}

/** The suffix of every line of a cluster: " time\n". */
export function lineTime(cluster: Cluster, polledAt: number): string {
  return ' ' + String(cluster.localtime > 0 ? cluster.localtime : Math.floor(polledAt)) + '\n';
}

export function carbonLinesForHost(cluster: Cluster, host: Host, time: string, namer: CarbonNamer, sink: LineSink, counts: LineCounts): void {
  if (!host.up) return;
  let parts: string[] | null = null;
  for (const metric of host.metrics.values()) {
    if (!NUMERIC_TYPES.has(metric.type)) continue;
    if (BAD_VALUE.test(metric.val)) {
      counts.invalid += 1;
      continue;
    }
    if (parts === null) parts = namer.hostParts(cluster.name, host.name);
    sink.addText(joinParts(parts, namer.metric(metric.name)) + ' ' + metric.val + time);
    counts.lines += 1;
  }
}

/** Every carbon line of one poll, in tree order (for tests and the plugin alike). */
export function carbonLines(snapshot: SourceSnapshot, namer: CarbonNamer, sink: LineSink): LineCounts {
  const counts: LineCounts = { lines: 0, invalid: 0 };
  for (const cluster of authoritativeClusters(snapshot.nodes)) {
    const time = lineTime(cluster, snapshot.polledAt);
    for (const host of cluster.hosts.values()) carbonLinesForHost(cluster, host, time, namer, sink, counts);
  }
  return counts;
}
