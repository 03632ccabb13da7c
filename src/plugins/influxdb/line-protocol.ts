/**
 * InfluxDB line protocol for exported values: one line per host and one per summary,
 * a field per metric (see ./plugin for why), every value written as a float.
 *
 *   ganglia,cluster=Exp\ Cluster,grid=G,host=node-1 load_one=0.5,cpu_user=12.5 1700000000
 *   ganglia_summary,cluster=Exp\ Cluster,grid=G hosts_up=2,hosts_down=1,load_one_sum=2,load_one_num=2 1700000000
 *
 * Escaping as the protocol defines it: measurement — comma, space; tag keys, tag values and
 * field keys — comma, equals sign, space. Line breaks cannot be escaped and become spaces.
 * Names and tag values are the text Ganglia sent (its bytes re-read as UTF-8, which line
 * protocol is). Tags with an empty value are left out (the protocol has no empty tag value). Floats only,
 * never the `i` integer suffix: a field's type is fixed by its first write in a shard, and a
 * Ganglia metric may be uint32 on one host and float on another.
 */
import { toUnicode } from '../prometheus/names';
import type { ExportedValues } from '../push/exported-values';

/** One line and the number of values (fields) it carries. */
export interface InfluxLine {
  readonly text: string;
  readonly values: number;
}

const MEASUREMENT_SPECIAL = /[, \n\r]/;
const MAX_CACHED_KEYS = 100_000;
const KEY_SPECIAL = /[,= \n\r]/;

export function escapeMeasurement(name: string): string {
  return MEASUREMENT_SPECIAL.test(name) ? name.replace(/[\n\r]/g, ' ').replace(/([, ])/g, '\\$1') : name;
}

/** Tag keys, tag values and field keys. */
export function escapeKey(text: string): string {
  return KEY_SPECIAL.test(text) ? text.replace(/[\n\r]/g, ' ').replace(/([,= ])/g, '\\$1') : text;
}

/** A float field value (finite numbers only reach here). */
export function floatValue(value: number): string {
  return String(value);
}

export interface LineBuilderOptions {
  /** Measurement of host values; summaries go to `<measurement>_summary`. */
  readonly measurement: string;
}

export class LineBuilder {
  private readonly hostMeasurement: string;
  private readonly summaryMeasurement: string;
  /** Escaped field keys, by metric name (a few hundred names, reused every poll). */
  private readonly keys = new Map<string, string>();

  constructor(options: LineBuilderOptions) {
    this.hostMeasurement = escapeMeasurement(options.measurement);
    this.summaryMeasurement = escapeMeasurement(`${options.measurement}_summary`);
  }

  /** Lines for one event's values, timestamped `timeMs` (the write asks for precision=ms). */
  lines(values: ExportedValues, timeMs: number): InfluxLine[] {
    const out: InfluxLine[] = [];
    const ts = ` ${timeMs}`;
    for (const host of values.hosts) {
      let fields = '';
      for (const metric of host.metrics) {
        fields += `${fields === '' ? '' : ','}${this.key(metric.name)}=${floatValue(metric.value)}`;
      }
      out.push({ text: `${this.hostMeasurement}${tags(host.grid, host.cluster, host.host)} ${fields}${ts}`, values: host.metrics.length });
    }
    for (const summary of values.summaries) {
      let fields = `hosts_up=${summary.hostsUp},hosts_down=${summary.hostsDown}`;
      for (const metric of summary.metrics.values()) {
        if (!Number.isFinite(metric.sum)) continue;
        fields += `,${this.key(`${metric.name}_sum`)}=${floatValue(metric.sum)},${this.key(`${metric.name}_num`)}=${metric.num}`;
      }
      out.push({ text: `${this.summaryMeasurement}${tags(summary.grid, summary.cluster, null)} ${fields}${ts}`, values: 2 + 2 * summary.metrics.size });
    }
    return out;
  }

  private key(name: string): string {
    let key = this.keys.get(name);
    if (key === undefined) {
      // Names come from the network: the cache is bounded (a hostile source cannot grow it forever).
      if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear();
      key = escapeKey(toUnicode(name));
      this.keys.set(name, key);
    }
    return key;
  }
}

/** `,cluster=…,grid=…,host=…`: keys in byte order, as InfluxDB stores them (saves it a sort). */
function tags(grid: string, cluster: string | null, host: string | null): string {
  let out = '';
  if (cluster) out += `,cluster=${escapeKey(toUnicode(cluster))}`;
  if (grid) out += `,grid=${escapeKey(toUnicode(grid))}`;
  if (host) out += `,host=${escapeKey(toUnicode(host))}`;
  return out;
}
