/**
 * The query of the Nagios plugin check_ganglia_metric (Michael Conigliaro,
 * github.com/mconigliaro/check_ganglia_metric, MIT; also the base of the C rewrite
 * RPI-HPC/check_ganglia_metric), reimplemented from its documented behaviour because the
 * original needs Python 2 and NagAconda, which Debian 12 does not have:
 *  - read the whole XML port (8651) of the gmetad;
 *  - take every HOST of `GRID/CLUSTER/HOST` (clusters directly under the root grid) with
 *    its METRICs: VAL, UNITS, and EXTRA_DATA TITLE (the metric name without one);
 *  - host absent: UNKNOWN `Host "<host>" not found`; metric absent: UNKNOWN
 *    `Metric "<metric>" for host "<host>" not found`; else OK `<title> = <val> <units>`
 *    (exit 3 and 0, as Nagios reads them). Its value cache is left out: every check reads
 *    the gmetad, which is the state a cache would hold.
 */
import * as sax from 'sax';
import { rawRequest } from './net';

export interface NagiosAnswer {
  /** 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
  readonly status: number;
  readonly text: string;
}

interface MetricFound {
  title: string;
  units: string;
  value: string;
}

export async function checkGangliaMetric(xmlPort: number, metricHost: string, metricName: string): Promise<NagiosAnswer> {
  const reply = await rawRequest(xmlPort, null);
  const metrics = new Map<string, Map<string, MetricFound>>();
  const path: string[] = [];
  let host: Map<string, MetricFound> | null = null;
  let metric: MetricFound | null = null;
  const parser = sax.parser(true, {});
  parser.onopentag = (tag) => {
    const attrs = tag.attributes as Record<string, string>;
    path.push(tag.name);
    const where = path.join('/');
    if (where === 'GANGLIA_XML/GRID/CLUSTER/HOST') {
      host = new Map();
      metrics.set(attrs.NAME, host);
    } else if (where === 'GANGLIA_XML/GRID/CLUSTER/HOST/METRIC' && host !== null) {
      metric = { title: attrs.NAME, units: attrs.UNITS ?? '', value: attrs.VAL ?? '' };
      host.set(attrs.NAME, metric);
    } else if (tag.name === 'EXTRA_ELEMENT' && metric !== null && attrs.NAME === 'TITLE') {
      metric.title = attrs.VAL;
    }
  };
  parser.onclosetag = (name) => {
    path.pop();
    if (name === 'METRIC') metric = null;
    if (name === 'HOST') host = null;
  };
  parser.write(reply.data.toString('latin1')).close();
  const found = metrics.get(metricHost);
  if (found === undefined) return { status: 3, text: `UNKNOWN: Host "${metricHost}" not found` };
  const m = found.get(metricName);
  if (m === undefined) return { status: 3, text: `UNKNOWN: Metric "${metricName}" for host "${metricHost}" not found` };
  return { status: 0, text: `OK: ${m.title} = ${m.value} ${m.units}` };
}
