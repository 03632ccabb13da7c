/**
 * Prometheus names, units and escaping for Ganglia data (text exposition format 0.0.4).
 *
 * - Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*, but colons are for recording rules, so every
 *   character outside [a-zA-Z0-9_] becomes "_".
 * - Units: Prometheus wants base units in the name (`_bytes`, `_seconds`, `_ratio`,
 *   `_hertz`, `_celsius`, `_per_second`), so the Ganglia UNITS attribute picks a suffix and a
 *   factor: `mem_free` in "KB" becomes `ganglia_mem_free_bytes` (×1024), `cpu_user` in "%"
 *   becomes `ganglia_cpu_user_ratio` (×0.01). KB and MB are binary (gmond reads them from
 *   /proc/meminfo in KiB), GB and TB decimal (gmond divides disk sizes by 1e9).
 * - Label values: `\` `"` and newline escaped; HELP: `\` and newline escaped.
 * - Strings in the tree are bytes decoded as ISO-8859-1 (one char per byte); the output
 *   must be UTF-8, so non-ASCII text is re-read as UTF-8 (invalid sequences become U+FFFD).
 */

export interface UnitRule {
  /** Appended to the name ("" for none), e.g. "_bytes". */
  readonly suffix: string;
  /** Multiplies the value into the base unit. */
  readonly factor: number;
}

const NO_UNIT: UnitRule = { suffix: '', factor: 1 };

const UNIT_RULES: ReadonlyMap<string, UnitRule> = new Map(Object.entries({
  b: { suffix: '_bytes', factor: 1 },
  byte: { suffix: '_bytes', factor: 1 },
  bytes: { suffix: '_bytes', factor: 1 },
  kb: { suffix: '_bytes', factor: 1024 },
  kib: { suffix: '_bytes', factor: 1024 },
  kbytes: { suffix: '_bytes', factor: 1024 },
  mb: { suffix: '_bytes', factor: 1024 ** 2 },
  mib: { suffix: '_bytes', factor: 1024 ** 2 },
  mbytes: { suffix: '_bytes', factor: 1024 ** 2 },
  gb: { suffix: '_bytes', factor: 1e9 },
  gib: { suffix: '_bytes', factor: 1024 ** 3 },
  tb: { suffix: '_bytes', factor: 1e12 },
  kilobytes: { suffix: '_bytes', factor: 1024 },
  megabytes: { suffix: '_bytes', factor: 1024 ** 2 },
  gigabytes: { suffix: '_bytes', factor: 1e9 },
  bits: { suffix: '_bytes', factor: 1 / 8 },
  milliseconds: { suffix: '_seconds', factor: 1e-3 },
  microseconds: { suffix: '_seconds', factor: 1e-6 },
  nanoseconds: { suffix: '_seconds', factor: 1e-9 },
  ns: { suffix: '_seconds', factor: 1e-9 },
  h: { suffix: '_seconds', factor: 3600 },
  d: { suffix: '_seconds', factor: 86400 },
  '%': { suffix: '_ratio', factor: 0.01 },
  percent: { suffix: '_ratio', factor: 0.01 },
  s: { suffix: '_seconds', factor: 1 },
  sec: { suffix: '_seconds', factor: 1 },
  secs: { suffix: '_seconds', factor: 1 },
  second: { suffix: '_seconds', factor: 1 },
  seconds: { suffix: '_seconds', factor: 1 },
  ms: { suffix: '_seconds', factor: 1e-3 },
  msec: { suffix: '_seconds', factor: 1e-3 },
  us: { suffix: '_seconds', factor: 1e-6 },
  usec: { suffix: '_seconds', factor: 1e-6 },
  min: { suffix: '_seconds', factor: 60 },
  mins: { suffix: '_seconds', factor: 60 },
  minutes: { suffix: '_seconds', factor: 60 },
  hours: { suffix: '_seconds', factor: 3600 },
  days: { suffix: '_seconds', factor: 86400 },
  hz: { suffix: '_hertz', factor: 1 },
  khz: { suffix: '_hertz', factor: 1e3 },
  mhz: { suffix: '_hertz', factor: 1e6 },
  ghz: { suffix: '_hertz', factor: 1e9 },
  c: { suffix: '_celsius', factor: 1 },
  celsius: { suffix: '_celsius', factor: 1 },
  'deg c': { suffix: '_celsius', factor: 1 },
  v: { suffix: '_volts', factor: 1 },
  volts: { suffix: '_volts', factor: 1 },
  w: { suffix: '_watts', factor: 1 },
  watts: { suffix: '_watts', factor: 1 },
}));

/** "bytes/sec", "packets/s", "req/sec": a rate of something per second. */
const PER_SECOND = /^([a-z]+)\s*\/\s*(?:s|sec|second)$/;

/** The suffix and factor for a Ganglia UNITS value (case and blanks ignored). */
export function unitRule(units: string): UnitRule {
  const key = units.trim().toLowerCase();
  if (key === '') return NO_UNIT;
  const rule = UNIT_RULES.get(key);
  if (rule) return rule;
  const rate = PER_SECOND.exec(key);
  if (rate) {
    const base = UNIT_RULES.get(rate[1]);
    if (base?.suffix === '_bytes') return { suffix: '_bytes_per_second', factor: base.factor };
    if (!base) return { suffix: `_${rate[1]}_per_second`, factor: 1 };
  }
  return NO_UNIT;
}

/**
 * snake_case: camelCase split ("cpuUser" → "cpu_user"), lowercased, every character outside
 * [a-z0-9_] becomes "_", runs of "_" collapse.
 */
export function sanitizeName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/__+/g, '_');
}

/** True when the Ganglia name is already a clean Prometheus name (it wins a collision). */
export function isCleanName(name: string): boolean {
  return sanitizeName(name) === name;
}

// What `promtool check metrics` flags in a name (client_golang's promlint): abbreviated
// units, non-base units, type names, and histogram/summary/counter suffixes on a gauge.
const ABBREVIATED = new Set(['s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd']);
const NON_BASE = new Set([
  'minutes', 'hours', 'days', 'weeks', 'kelvin', 'kelvins', 'fahrenheit', 'rankine', 'inches', 'yards', 'miles',
  'bits', 'calories', 'pounds', 'ounces',
]);
const PREFIXES = ['pico', 'nano', 'micro', 'milli', 'centi', 'deci', 'deca', 'hecto', 'kilo', 'kibi', 'mega', 'mibi',
  'giga', 'gibi', 'tera', 'tebi', 'peta', 'pebi'];
const BASE_UNITS = ['seconds', 'second', 'bytes', 'byte', 'meters', 'metres', 'grams', 'joules', 'volts', 'amperes', 'celsius'];
const TYPE_WORDS = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const RESERVED_GAUGE_SUFFIXES = ['_total', '_count', '_sum', '_bucket'];

function lintedToken(token: string): boolean {
  if (ABBREVIATED.has(token) || NON_BASE.has(token) || TYPE_WORDS.has(token)) return true;
  return PREFIXES.some((p) => token.startsWith(p) && (NON_BASE.has(token.slice(p.length)) || BASE_UNITS.includes(token.slice(p.length))));
}

/**
 * Makes a sanitized Ganglia name pass promtool's lint without losing what it says: a
 * trailing unit token (`gpu_mem_mb`, `io_ms`) is returned as the unit to convert from, other
 * flagged tokens are joined to their neighbour (`mb_free` → `mbfree`).
 */
export function lintSafeBase(base: string): { base: string; unitToken: string | null } {
  const tokens = base.split('_').filter((t) => t !== '');
  let unitToken: string | null = null;
  if (tokens.length > 1 && lintedToken(tokens[tokens.length - 1]) && unitRule(tokens[tokens.length - 1]).suffix !== '') {
    unitToken = tokens.pop()!;
  }
  const out: string[] = [];
  for (const token of tokens) {
    if (lintedToken(token) && out.length > 0) out[out.length - 1] += token;
    else if (lintedToken(token)) out.push(`${token}x`);
    else out.push(token);
  }
  return { base: out.join('_') || 'unnamed', unitToken };
}

/**
 * The family name: prefix + base + unit suffix. The suffix is not doubled (`mem_bytes` in
 * bytes) and drops a word the base already says (`bytes_in` in bytes/sec →
 * `bytes_in_per_second`); a gauge that would end like a counter or histogram gets `_value`.
 */
export function familyName(prefix: string, base: string, suffix: string): string {
  let name = prefix + base;
  if (suffix !== '' && !name.endsWith(suffix)) {
    const words = suffix.split('_').filter((w) => w !== '');
    const baseWords = new Set(base.split('_'));
    const kept = words[0] !== 'per' && baseWords.has(words[0]) && words.length > 1 ? words.slice(1) : words;
    name += `_${kept.join('_')}`;
  }
  if (RESERVED_GAUGE_SUFFIXES.some((s) => name.endsWith(s))) name += '_value';
  return name;
}

/** FNV-1a, 32 bits, as 8 hex digits: a short stable tag that tells colliding names apart. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** Bytes decoded as ISO-8859-1 back to the text they encode (UTF-8, as Ganglia sends it). */
export function toUnicode(latin1: string): string {
  return NON_ASCII.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
}

const LABEL_ESCAPES = /[\\"\n]/g;
const HELP_ESCAPES = /[\\\n]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '"': '\\"', '\n': '\\n' };

export function escapeLabelValue(value: string): string {
  return toUnicode(value).replace(LABEL_ESCAPES, (c) => ESCAPED[c]);
}

export function escapeHelp(text: string): string {
  return toUnicode(text).replace(HELP_ESCAPES, (c) => ESCAPED[c]);
}

/** A sample value as Prometheus parses it (Go's ParseFloat), or null for a non-number. */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}
