/**
 * Prometheus names for Ganglia metrics, shared by every exporter that speaks Prometheus
 * (the /metrics endpoint, the textfile writer, remote write), so one metric has one name
 * wherever it lands.
 *
 * - A host metric `load_one` becomes `ganglia_load_one`; every character outside
 *   `[a-zA-Z0-9_:]` becomes `_` (Ganglia names such as `diskstat_sda-1.reads` or
 *   `tcp/established` are legal there, not in Prometheus).
 * - The unit goes in the name only when Ganglia's UNITS already is a Prometheus base unit
 *   (`bytes` → `_bytes`, `bytes/sec` → `_bytes_per_second`, `s` → `_seconds`, `%` →
 *   `_percent`), and not twice. Values are never converted: `mem_free` stays in KB, as
 *   gweb shows it, so its unit is not in the name (`promtool check metrics` rejects
 *   `_kilobytes` and `_milliseconds` as non-base units).
 * - Summaries use Ganglia's own words: `ganglia_sum_load_one` (SUM over the hosts that
 *   report it) and `ganglia_num_load_one` (NUM, how many do), plus `ganglia_hosts_up` and
 *   `ganglia_hosts_down`. (promtool rejects the suffix `_sum` and the word `summary` on gauges.)
 * - Two Ganglia names that sanitize to the same Prometheus name (`a.b` and `a_b`) do not
 *   merge: the second one seen gets `_` and 8 hex digits of a hash of its Ganglia name.
 *
 * Labels: `grid`, `cluster`, `host` (LABEL_GRID etc.); a summary has no `host`, a grid
 * summary no `cluster`.
 */

export const METRIC_PREFIX = 'ganglia_';
export const LABEL_GRID = 'grid';
export const LABEL_CLUSTER = 'cluster';
export const LABEL_HOST = 'host';
export const HOSTS_UP_NAME = `${METRIC_PREFIX}hosts_up`;
export const HOSTS_DOWN_NAME = `${METRIC_PREFIX}hosts_down`;

/** Ganglia UNITS (lowercased, trimmed) that are Prometheus base units, and their name suffix. */
const BASE_UNIT_SUFFIXES: ReadonlyMap<string, string> = new Map([
  ['bytes', 'bytes'], ['byte', 'bytes'],
  ['bytes/sec', 'bytes_per_second'], ['bytes/s', 'bytes_per_second'], ['bytes/second', 'bytes_per_second'],
  ['s', 'seconds'], ['sec', 'seconds'], ['secs', 'seconds'], ['second', 'seconds'], ['seconds', 'seconds'],
  ['%', 'percent'], ['percent', 'percent'],
  ['celsius', 'celsius'], ['volts', 'volts'], ['amperes', 'amperes'], ['joules', 'joules'],
]);

/** `[a-zA-Z0-9_:]` kept, anything else `_`; a leading digit gets a `_` before it. */
export function sanitizeNamePart(text: string): string {
  const cleaned = text.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** The name suffix for a Ganglia UNITS string, or '' when it is not a base unit. */
export function unitSuffix(units: string): string {
  return BASE_UNIT_SUFFIXES.get(units.trim().toLowerCase()) ?? '';
}

/** `ganglia_<name>[_<unit>]`, without collision handling (see PrometheusNames). */
export function hostMetricName(gangliaName: string, units: string): string {
  return withUnit(`${METRIC_PREFIX}${sanitizeNamePart(gangliaName)}`, units);
}

/** The SUM of a summary line: `ganglia_sum_<name>[_<unit>]`. */
export function summarySumName(gangliaName: string, units: string): string {
  return withUnit(`${METRIC_PREFIX}sum_${sanitizeNamePart(gangliaName)}`, units);
}

/** The NUM of a summary line (a host count, so no unit): `ganglia_num_<name>`. */
export function summaryNumName(gangliaName: string): string {
  return `${METRIC_PREFIX}num_${sanitizeNamePart(gangliaName)}`;
}

function withUnit(base: string, units: string): string {
  const suffix = unitSuffix(units);
  if (suffix === '' || base.endsWith(`_${suffix}`)) return base;
  return `${base}_${suffix}`;
}

/** FNV-1a, 32 bits, as 8 hex digits: short, stable across runs and machines. */
export function nameHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export type NameKind = 'host' | 'sum' | 'num';

/**
 * Names memoized per (kind, Ganglia name, units), with collisions kept apart. One instance
 * per exporter; it grows with the number of distinct metric names (hundreds), not hosts.
 */
export class PrometheusNames {
  private readonly byKey = new Map<string, string>();
  /** Prometheus name → the key that owns it. */
  private readonly owners = new Map<string, string>();

  /** Called once per collision (for a log line). */
  constructor(private readonly onCollision?: (gangliaName: string, prometheusName: string, renamed: string) => void) {}

  host(gangliaName: string, units: string): string {
    return this.resolve('host', gangliaName, units);
  }

  sum(gangliaName: string, units: string): string {
    return this.resolve('sum', gangliaName, units);
  }

  num(gangliaName: string): string {
    return this.resolve('num', gangliaName, '');
  }

  private resolve(kind: NameKind, gangliaName: string, units: string): string {
    const key = `${kind}\0${gangliaName}\0${units}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const plain = kind === 'host' ? hostMetricName(gangliaName, units)
      : kind === 'sum' ? summarySumName(gangliaName, units) : summaryNumName(gangliaName);
    // The same Ganglia name with another UNITS string that maps to the same suffix is the
    // same series, not a collision.
    const owner = this.owners.get(plain);
    let name = plain;
    if (owner !== undefined && owner.split('\0')[1] !== gangliaName) {
      name = `${plain}_${nameHash(gangliaName)}`;
      this.onCollision?.(gangliaName, plain, name);
    } else if (owner === undefined) {
      this.owners.set(plain, key);
    }
    this.byKey.set(key, name);
    return name;
  }
}
