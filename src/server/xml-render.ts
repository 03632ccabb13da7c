/**
 * Text of every element gmetad prints, in the C gmetad 3.7.2's exact layout: one element
 * per line, `\n` endings, attributes always present and in gmetad's order. Unlike 3.7.2,
 * attribute values are XML-escaped, so the output is always well-formed.
 *
 * Everything here returns JS strings holding one char per byte (latin1); the writers turn
 * them into Buffers with the 'latin1' encoding.
 */
import type { Cluster, ExtraData, Grid, Host, Metric, Summary, TreeNode } from '../store/model';
import { isExpired, tnAt } from '../store/lifetime';
import { formatSum } from '../store/summary';
import { DTD_HEADER } from './dtd';

export { DTD_HEADER };

export const GANGLIA_XML_START = '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmetad">\n';
export const DOCUMENT_END = '</GRID>\n</GANGLIA_XML>\n';

/**
 * What cannot be written as is: the five markup characters; tab, LF and CR (a parser would
 * turn them into spaces); characters XML 1.0 does not allow at all; and everything above
 * U+00FF, which the ISO-8859-1 document cannot hold as a byte (it comes from `&#x13C;`-style
 * references in the source). Those are written back as numeric character references.
 */
const SPECIAL = /[&<>"'\x00-\x1f\u0100-\uffff]/;
const SPECIAL_ALL = /[&<>"']|[\ud800-\udbff][\udc00-\udfff]|[\x00-\x1f\u0100-\uffff]/g;
const ENTITIES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
};

/** XML 1.0 Char: what a numeric reference may name. */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd
    || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
}

function escapeChar(c: string): string {
  const entity = ENTITIES[c];
  if (entity !== undefined) return entity;
  const code = c.codePointAt(0)!;
  // A lone surrogate or a control character cannot be written in XML at all.
  return `&#x${(isXmlChar(code) ? code : 0xfffd).toString(16).toUpperCase()};`;
}

/** Escapes an attribute value; returns the same string when nothing needs escaping. */
export function escapeAttr(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, escapeChar) : value;
}

/**
 * Escapes values that repeat a lot (TYPE, UNITS, SLOPE, SOURCE) once. Bounded so that a
 * source sending random UNITS cannot grow it forever.
 */
const repeatedEscapes = new Map<string, string>();
const REPEATED_ESCAPES_MAX = 4096;

function escapeRepeated(value: string): string {
  let escaped = repeatedEscapes.get(value);
  if (escaped === undefined) {
    escaped = escapeAttr(value);
    if (repeatedEscapes.size >= REPEATED_ESCAPES_MAX) repeatedEscapes.clear();
    repeatedEscapes.set(value, escaped);
  }
  return escaped;
}

/** EXTRA_DATA blocks are shared between metrics (see model.ExtraData): render each list once. */
const extraBlocks = new WeakMap<ExtraData, string>();

export function extraDataXml(extra: ExtraData): string {
  let block = extraBlocks.get(extra);
  if (block === undefined) {
    block = '<EXTRA_DATA>\n';
    for (const e of extra) {
      block += `<EXTRA_ELEMENT NAME="${escapeAttr(e.name)}" VAL="${escapeAttr(e.val)}"/>\n`;
    }
    block += '</EXTRA_DATA>\n';
    extraBlocks.set(extra, block);
  }
  return block;
}


export function rootGridStart(gridname: string, authority: string, now: number): string {
  return `<GRID NAME="${escapeAttr(gridname)}" AUTHORITY="${escapeAttr(authority)}" LOCALTIME="${now}">\n`;
}

/** The whole METRIC element (gmetad prints it at once; it has no children). */
export function metricXml(m: Metric, now: number): string {
  return `<METRIC NAME="${escapeAttr(m.name)}" VAL="${escapeAttr(m.val)}" TYPE="${escapeRepeated(m.type)}"`
    + ` UNITS="${escapeRepeated(m.units)}" TN="${tnAt(m.t0, now)}" TMAX="${m.tmax}" DMAX="${m.dmax}"`
    + ` SLOPE="${escapeRepeated(m.slope)}" SOURCE="${escapeRepeated(m.source)}">\n`
    + `${extraDataXml(m.extra)}</METRIC>\n`;
}

export function hostStart(h: Host, now: number): string {
  return `<HOST NAME="${escapeAttr(h.name)}" IP="${escapeAttr(h.ip)}" REPORTED="${h.reported}"`
    + ` TN="${tnAt(h.t0, now)}" TMAX="${h.tmax}" DMAX="${h.dmax}" LOCATION="${escapeAttr(h.location)}"`
    + ` GMOND_STARTED="${h.gmondStarted}" TAGS="${escapeAttr(h.tags)}">\n`;
}

export const HOST_END = '</HOST>\n';

/** A host with all its (unexpired) metrics. */
export function hostXml(h: Host, now: number): string {
  let out = hostStart(h, now);
  for (const m of h.metrics.values()) {
    if (!isExpired(m, now)) out += metricXml(m, now);
  }
  return out + HOST_END;
}

export function clusterStart(c: Cluster): string {
  return `<CLUSTER NAME="${escapeAttr(c.name)}" LOCALTIME="${c.localtime}" OWNER="${escapeAttr(c.owner)}"`
    + ` LATLONG="${escapeAttr(c.latlong)}" URL="${escapeAttr(c.url)}">\n`;
}

export function gridStart(g: Grid): string {
  return `<GRID NAME="${escapeAttr(g.name)}" AUTHORITY="${escapeAttr(g.authority)}" LOCALTIME="${g.localtime}">\n`;
}

export function nodeStart(node: TreeNode): string {
  return node.kind === 'cluster' ? clusterStart(node) : gridStart(node);
}

export function nodeEnd(node: TreeNode): string {
  return node.kind === 'cluster' ? '</CLUSTER>\n' : '</GRID>\n';
}

/** HOSTS line and one METRICS element per summarised metric. */
export function summaryXml(s: Summary): string {
  let out = `<HOSTS UP="${s.hostsUp}" DOWN="${s.hostsDown}" SOURCE="gmetad"/>\n`;
  for (const m of s.metrics.values()) {
    out += `<METRICS NAME="${escapeAttr(m.name)}" SUM="${formatSum(m)}" NUM="${m.num}" TYPE="double"`
      + ` UNITS="${escapeRepeated(m.units)}" SLOPE="${escapeRepeated(m.slope)}" SOURCE="${escapeRepeated(m.source)}">\n`
      + `${extraDataXml(m.extra)}</METRICS>\n`;
  }
  return out;
}
