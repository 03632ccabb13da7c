/**
 * Every top-level directive the C gmetad 3.7.2 accepts (gmetad/conf.c.in), plus
 * gmetad-python's plugins_dir, each with its own validation. Directive names are
 * case-insensitive, as dotconf is opened with CASE_INSENSITIVE.
 *
 * Where the C gmetad silently accepted nonsense (a port "abc" became 0, `scalable no` was
 * still on), these handlers either reject the value or warn about the difference.
 */
import { isIP } from 'node:net';
import { isValidHostName, parseAddress } from './address';
import { DEFAULT_SOURCE_PORT, DEFAULT_STEP } from './defaults';
import { DEFAULT_SOURCE_LIMITS } from './limits';
import { invalid, makeWarning, type ConfigWarning } from './errors';
import { parseMemcachedParameters } from './memcached-parameters';
import { parseRiemannAttributes } from './riemann-attributes';
import type { DataSourceConfig, GmetadConfig, PluginSection, SourceAddress } from './types';

/** A writable copy of the config, filled in directive by directive and frozen at the end. */
export interface Draft {
  file: string;
  dataSources: DataSourceConfig[];
  gridname: string;
  authority: string | null;
  trustedHosts: string[];
  allTrusted: boolean;
  debugLevel: number;
  xmlPort: number;
  interactivePort: number;
  serverThreads: number;
  umask: number | null;
  rrdRootdir: string;
  rrdcachedAddress: string | null;
  setuid: boolean;
  setuidUsername: string;
  scalable: boolean;
  writeRrds: boolean;
  rras: string[];
  caseSensitiveHostnames: boolean;
  carbon: { -readonly [K in keyof GmetadConfig['carbon']]: GmetadConfig['carbon'][K] };
  memcached: { -readonly [K in keyof GmetadConfig['memcached']]: GmetadConfig['memcached'][K] };
  riemann: { -readonly [K in keyof GmetadConfig['riemann']]: GmetadConfig['riemann'][K] };
  unsummarizedMetrics: string[];
  unsummarizedSflowVmMetrics: boolean;
  summarizedMetrics: string[];
  pluginsDir: string | null;
  portThreadNice: number;
  pluginSections: PluginSection[];
}

/** One occurrence of a directive in the file. */
export interface DirectiveUse {
  readonly file: string;
  /** As written (its case is kept for messages). */
  readonly key: string;
  readonly values: readonly string[];
  readonly line: number;
}

export interface DirectiveSpec {
  /** Repeating it adds to a list (data_source, trusted_hosts...) instead of overriding. */
  readonly accumulates: boolean;
  apply(draft: Draft, use: DirectiveUse, warn: (warning: ConfigWarning) => void): void;
}

type Apply = DirectiveSpec['apply'];

function fail(use: DirectiveUse, reason: string, label?: string): never {
  throw invalid(use.file, use.line, use.key, reason, label);
}

function warning(use: DirectiveUse, reason: string): ConfigWarning {
  return makeWarning(use.file, use.line, use.key, reason);
}

/** The single value of a one-value directive; extra values are ignored like the C gmetad does. */
function single(use: DirectiveUse, warn: (w: ConfigWarning) => void): string {
  const [first, ...extra] = use.values;
  if (first === undefined) fail(use, 'missing value');
  if (extra.length > 0) {
    warn(warning(use, `extra values ignored: ${extra.map((v) => JSON.stringify(v)).join(' ')} (quote a value that contains spaces)`));
  }
  return first;
}

function nonEmptyString(use: DirectiveUse, warn: (w: ConfigWarning) => void): string {
  const value = single(use, warn);
  if (value === '') fail(use, 'empty value');
  return value;
}

/** dotconf reads ARG_INT with sscanf("%li"): decimal, 0x hex or 0-prefixed octal. */
export function parseCInteger(text: string): number | null {
  if (!/^[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.test(text)) return null;
  const negative = text.startsWith('-');
  const digits = text.replace(/^[+-]/, '');
  let value: number;
  if (/^0[xX]/.test(digits)) value = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits.startsWith('0')) value = parseInt(digits.slice(1), 8);
  else value = parseInt(digits, 10);
  if (!Number.isSafeInteger(value)) return null;
  return negative ? -value : value;
}

function integer(use: DirectiveUse, warn: (w: ConfigWarning) => void, min: number, max: number, what: string): number {
  const text = single(use, warn);
  const value = parseCInteger(text);
  if (value === null || value < min || value > max) fail(use, `invalid value "${text}" (expected ${what})`);
  return value;
}

function port(use: DirectiveUse, warn: (w: ConfigWarning) => void): number {
  return integer(use, warn, 1, 65535, 'a port number 1..65535');
}

/** dotconf ARG_TOGGLE words. Anything else is an error here (dotconf read it as off). */
export function parseToggle(text: string): boolean | null {
  switch (text.toLowerCase()) {
    case 'on': case 'yes': case '1': return true;
    case 'off': case 'no': case '0': return false;
    default: return null;
  }
}

const TOGGLE_WORDS = 'on/off, yes/no or 1/0';

function toggle(use: DirectiveUse, warn: (w: ConfigWarning) => void): boolean {
  const text = single(use, warn);
  const value = parseToggle(text);
  if (value === null) fail(use, `invalid value "${text}" (expected ${TOGGLE_WORDS})`);
  return value;
}

/** Directives the C gmetad reads as an integer used as a flag: any integer, or a toggle word. */
function integerFlag(use: DirectiveUse, warn: (w: ConfigWarning) => void): boolean {
  const text = single(use, warn);
  const word = parseToggle(text);
  if (word !== null) return word;
  const number = parseCInteger(text);
  if (number === null) fail(use, `invalid value "${text}" (expected ${TOGGLE_WORDS})`);
  return number !== 0;
}

/** scalable/write_rrds: the C gmetad only turns them off for the exact word "off". */
function offOnlyFlag(use: DirectiveUse, warn: (w: ConfigWarning) => void): boolean {
  const value = toggle(use, warn);
  if (!value && use.values[0] !== 'off') {
    warn(warning(use, `"${use.values[0]}" taken as off; the C gmetad 3.7.2 only recognised exactly "off" here and stayed on`));
  }
  return value;
}

function protocol(use: DirectiveUse, warn: (w: ConfigWarning) => void): 'tcp' | 'udp' {
  const text = single(use, warn);
  const value = text.toLowerCase();
  if (value !== 'tcp' && value !== 'udp') fail(use, `invalid protocol "${text}" (expected tcp or udp)`);
  return value;
}

function list(use: DirectiveUse, warn: (w: ConfigWarning) => void): readonly string[] {
  if (use.values.length === 0) warn(warning(use, 'no values given; ignored'));
  const blank = use.values.find((v) => v === '');
  if (blank !== undefined) fail(use, 'empty value in list');
  return use.values;
}

export function isValidHost(text: string): boolean {
  return isIP(text) !== 0 || isValidHostName(text);
}

const dataSource: Apply = (draft, use) => {
  const [name, ...rest] = use.values;
  if (name === undefined) fail(use, 'missing data source name');
  if (name === '') fail(use, 'empty data source name');
  const label = `data_source ${JSON.stringify(name)}`;

  // The optional interval: a purely numeric second value (as the C gmetad decides).
  let step = DEFAULT_STEP;
  let addressTexts = rest;
  const first = rest[0];
  if (first !== undefined && /^[+-]?\d+$/.test(first)) {
    step = Number(first);
    if (!/^\d+$/.test(first) || !Number.isSafeInteger(step) || step < 1) {
      fail(use, `invalid polling interval "${first}" (expected a positive number of seconds)`, label);
    }
    addressTexts = rest.slice(1);
  }
  if (addressTexts.length === 0) fail(use, 'no address given (expected host[:port] ...)', label);

  const addresses: SourceAddress[] = addressTexts.map((text) => {
    const parsed = parseAddress(text, DEFAULT_SOURCE_PORT);
    if (!parsed.ok) fail(use, parsed.reason, label);
    return parsed.address;
  });

  const earlier = draft.dataSources.find((ds) => ds.name === name);
  if (earlier !== undefined) fail(use, `duplicate data source name (already defined at ${earlier.origin})`, label);

  // Limits are filled in at the end of the file (a `limits` section may come later).
  draft.dataSources.push({ name, step, addresses, origin: `${use.file}:${use.line}`, limits: DEFAULT_SOURCE_LIMITS });
};

const trustedHosts: Apply = (draft, use, warn) => {
  for (const host of list(use, warn)) {
    if (!isValidHost(host)) fail(use, `invalid host "${host}" (expected a host name or an IP address)`);
    draft.trustedHosts.push(host);
  }
};

/** The C gmetad keeps at most MAX_RRAS (32) archives. */
const MAX_RRAS = 32;

const rras: Apply = (draft, use) => {
  if (use.values.length === 0) fail(use, 'missing value (expected one or more "RRA:CF:xff:steps:rows")');
  if (use.values.length > MAX_RRAS) fail(use, `too many RRAs (${use.values.length}; at most ${MAX_RRAS})`);
  for (const rra of use.values) {
    if (!/^RRA:[A-Za-z_]+(?::[^:\s]+){2,}$/.test(rra)) fail(use, `invalid RRA "${rra}" (expected RRA:CF:xff:steps:rows)`);
  }
  draft.rras = [...use.values];
};

// A value meaning off is warned about in load.ts, once trusted_hosts is known: the warning
// says exactly who may read the ports.
const allTrusted: Apply = (draft, use, warn) => {
  draft.allTrusted = integerFlag(use, warn);
};

const umask: Apply = (draft, use, warn) => {
  const text = single(use, warn);
  if (!/^[0-7]{1,6}$/.test(text)) fail(use, `invalid umask "${text}" (expected octal digits, e.g. 022)`);
  // Like the C gmetad, never let the umask take permissions away from the owner.
  draft.umask = parseInt(text, 8) & 0o7077;
};

const rrdcachedAddress: Apply = (draft, use, warn) => {
  const text = nonEmptyString(use, warn);
  // Unix sockets as librrd spells them (the C gmetad itself only did IPv4 host:port).
  if (/^unix:\/./.test(text) || /^\/./.test(text)) {
    draft.rrdcachedAddress = text;
    return;
  }
  const parsed = parseAddress(text, 42217);
  if (!parsed.ok) fail(use, parsed.reason);
  draft.rrdcachedAddress = text;
};

const scalar = (apply: Apply): DirectiveSpec => ({ accumulates: false, apply });
const accumulating = (apply: Apply): DirectiveSpec => ({ accumulates: true, apply });

/** Keyed by lower-case name. */
export const DIRECTIVES: ReadonlyMap<string, DirectiveSpec> = new Map<string, DirectiveSpec>([
  ['data_source', accumulating(dataSource)],
  ['gridname', scalar((d, u, w) => { d.gridname = nonEmptyString(u, w); })],
  ['authority', scalar((d, u, w) => { d.authority = nonEmptyString(u, w); })],
  ['trusted_hosts', accumulating(trustedHosts)],
  ['all_trusted', scalar(allTrusted)],
  ['debug_level', scalar((d, u, w) => { d.debugLevel = integer(u, w, 0, 2 ** 31 - 1, 'a level >= 0'); })],
  ['xml_port', scalar((d, u, w) => { d.xmlPort = port(u, w); })],
  ['interactive_port', scalar((d, u, w) => { d.interactivePort = port(u, w); })],
  ['server_threads', scalar((d, u, w) => { d.serverThreads = integer(u, w, 1, 1024, 'a number of threads 1..1024'); })],
  ['umask', scalar(umask)],
  ['rrd_rootdir', scalar((d, u, w) => { d.rrdRootdir = nonEmptyString(u, w); })],
  ['rrdcached_address', scalar(rrdcachedAddress)],
  ['setuid', scalar((d, u, w) => { d.setuid = toggle(u, w); })],
  ['setuid_username', scalar((d, u, w) => { d.setuidUsername = nonEmptyString(u, w); })],
  ['scalable', scalar((d, u, w) => { d.scalable = offOnlyFlag(u, w); })],
  ['write_rrds', scalar((d, u, w) => { d.writeRrds = offOnlyFlag(u, w); })],
  ['rras', scalar(rras)],
  ['case_sensitive_hostnames', scalar((d, u, w) => { d.caseSensitiveHostnames = integerFlag(u, w); })],
  ['carbon_server', scalar((d, u, w) => { d.carbon.server = nonEmptyString(u, w); })],
  ['carbon_port', scalar((d, u, w) => { d.carbon.port = port(u, w); })],
  ['carbon_protocol', scalar((d, u, w) => { d.carbon.protocol = protocol(u, w); })],
  // The C gmetad treats a timeout of 0 as its 500 ms default.
  ['carbon_timeout', scalar((d, u, w) => { d.carbon.timeoutMs = integer(u, w, 0, 2 ** 31 - 1, 'milliseconds >= 0') || 500; })],
  ['graphite_prefix', scalar((d, u, w) => { d.carbon.graphitePrefix = nonEmptyString(u, w); })],
  ['graphite_path', scalar((d, u, w) => { d.carbon.graphitePath = nonEmptyString(u, w); })],
  ['memcached_parameters', scalar((d, u, w) => {
    const text = nonEmptyString(u, w);
    try {
      parseMemcachedParameters(text);
    } catch (err) {
      fail(u, (err as Error).message);
    }
    d.memcached.parameters = text;
  })],
  // Whether memcached keys are CLUSTER/HOST/METRIC instead of HOST/METRIC.
  ['memcached_include_cluster_in_key', scalar((d, u, w) => { d.memcached.includeClusterInKey = integerFlag(u, w); })],
  ['riemann_server', scalar((d, u, w) => { d.riemann.server = nonEmptyString(u, w); })],
  ['riemann_port', scalar((d, u, w) => { d.riemann.port = port(u, w); })],
  ['riemann_protocol', scalar((d, u, w) => { d.riemann.protocol = protocol(u, w); })],
  ['riemann_attributes', scalar((d, u, w) => {
    const text = nonEmptyString(u, w);
    try {
      parseRiemannAttributes(text);
    } catch (err) {
      fail(u, (err as Error).message);
    }
    d.riemann.attributes = text;
  })],
  ['unsummarized_metrics', accumulating((d, u, w) => { d.unsummarizedMetrics.push(...list(u, w)); })],
  ['unsummarized_sflow_vm_metrics', scalar((d, u, w) => { d.unsummarizedSflowVmMetrics = toggle(u, w); })],
  ['summarized_metrics', accumulating((d, u, w) => { d.summarizedMetrics.push(...list(u, w)); })],
  // gmetad-python: where plugin modules live.
  ['plugins_dir', scalar((d, u, w) => { d.pluginsDir = nonEmptyString(u, w); })],
  // gmetad-ts: the nice value the thread serving the ports asks for (util/thread-priority).
  ['port_thread_nice', scalar((d, u, w) => { d.portThreadNice = integer(u, w, -20, 0, 'a nice value -20..0'); })],
]);
