/**
 * Carbon metric paths exactly as the C gmetad 3.7.2 builds them (write_data_to_carbon in
 * gmetad/export_helpers.c), for one host metric:
 *
 *   [graphite_prefix "."] CLUSTER "." HOST "." METRIC            without graphite_path
 *   [graphite_prefix "."] graphite_path with %s %h %m replaced   with graphite_path
 *
 * - %s / CLUSTER is the CLUSTER NAME of the polled XML (not the data_source name), with
 *   spaces turned into "_".
 * - %h / HOST is the HOST NAME with "." turned into "_", lowercased when
 *   case_sensitive_hostnames is 0.
 * - %m / METRIC is the METRIC NAME with spaces turned into "_".
 * - graphite_prefix is used verbatim.
 *
 * Where the C code is broken we do what it evidently meant (listed in the README):
 * - the C gmetad ignores a one-character graphite_prefix or graphite_path (`strlen > 1`);
 *   here any non-empty one applies;
 * - without graphite_path the C gmetad leaves spaces in METRIC, which splits the carbon line
 *   ("a b 1 2" is read as path "a" value "b"); here they become "_" as with graphite_path;
 * - any other whitespace or control character in a name (a newline would start a forged
 *   line) becomes "_" too; the C gmetad sends it raw.
 * - a CLUSTER containing "%s" makes the C gmetad loop forever; here replacement text is
 *   never expanded again.
 */

export interface CarbonNameOptions {
  readonly prefix: string | null;
  readonly path: string | null;
  readonly caseSensitiveHostnames: boolean;
}

/** Whitespace and control characters (a carbon line is "path value time\n"). */
const UNSAFE = /[\x00-\x20\x7f]/g;

export function carbonCluster(name: string): string {
  return name.replace(UNSAFE, '_');
}

export function carbonHost(name: string, caseSensitive: boolean): string {
  const safe = name.replace(UNSAFE, '_').replace(/\./g, '_');
  return caseSensitive ? safe : safe.toLowerCase();
}

export function carbonMetric(name: string): string {
  return name.replace(UNSAFE, '_');
}

type Piece = string | '%s' | '%h' | '%m';

/** graphite_path cut at its macros, in order ("%s.%h.%m" -> ["%s", ".", "%h", ".", "%m"]). */
function parseTemplate(template: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const two = template.slice(i, i + 2);
    if (two === '%s' || two === '%h' || two === '%m') {
      if (literal) pieces.push(literal);
      literal = '';
      pieces.push(two);
      i += 1;
    } else {
      literal += template[i];
    }
  }
  if (literal) pieces.push(literal);
  return pieces;
}

/**
 * Builds paths fast: per host, the template is resolved once into the text around each
 * %m, so each metric costs a few string concatenations. Metric names are cleaned once per
 * distinct name.
 */
export class CarbonNamer {
  private readonly pieces: readonly Piece[];
  private readonly metricNames = new Map<string, string>();

  constructor(private readonly options: CarbonNameOptions) {
    const prefix = options.prefix ? `${options.prefix}.` : '';
    const template = options.path ?? '%s.%h.%m';
    const pieces = parseTemplate(template);
    this.pieces = prefix ? [prefix, ...pieces] : pieces;
  }

  /**
   * The path of every metric of one host, as the text before and after METRIC:
   * path(metric) = parts[0] + m + parts[1] + m + ... + parts[n] (n = number of %m).
   */
  hostParts(cluster: string, host: string): string[] {
    const s = carbonCluster(cluster);
    const h = carbonHost(host, this.options.caseSensitiveHostnames);
    const parts: string[] = [''];
    for (const piece of this.pieces) {
      if (piece === '%m') parts.push('');
      else parts[parts.length - 1] += piece === '%s' ? s : piece === '%h' ? h : piece;
    }
    return parts;
  }

  metric(name: string): string {
    let cleaned = this.metricNames.get(name);
    if (cleaned === undefined) {
      cleaned = carbonMetric(name);
      // Bounded: a source inventing names every poll cannot grow it without limit.
      if (this.metricNames.size >= 100_000) this.metricNames.clear();
      this.metricNames.set(name, cleaned);
    }
    return cleaned;
  }

  path(cluster: string, host: string, metric: string): string {
    return joinParts(this.hostParts(cluster, host), this.metric(metric));
  }
}

export function joinParts(parts: readonly string[], metric: string): string {
  if (parts.length === 2) return parts[0] + metric + parts[1];
  let out = parts[0];
  for (let i = 1; i < parts.length; i++) out += metric + parts[i];
  return out;
}
