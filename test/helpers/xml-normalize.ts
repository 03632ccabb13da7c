/**
 * Canonical forms of Ganglia XML for comparing two daemons' output: children sorted by
 * element and NAME at every level, chosen attribute values masked, attribute ORDER kept
 * (each element carries its attributes as an ordered "KEY=value" list, so an order
 * difference shows up in a comparison).
 */
import * as sax from 'sax';

export interface XmlElement {
  readonly name: string;
  /** [name, value] in document order. */
  readonly attrs: ReadonlyArray<readonly [string, string]>;
  readonly children: readonly XmlElement[];
}

/** Splits an interactive-port reply into its HTTP header block (if any) and the body. */
export function splitHttp(reply: string): { header: string | null; body: string } {
  if (!reply.startsWith('HTTP/')) return { header: null, body: reply };
  const end = reply.indexOf('\r\n\r\n');
  if (end < 0) return { header: reply, body: '' };
  return { header: reply.slice(0, end + 4), body: reply.slice(end + 4) };
}

/** The XML declaration + DOCTYPE block: everything up to and including the `]>\n`. */
export function prologOf(xml: string): string {
  const end = xml.indexOf(']>\n');
  return end < 0 ? '' : xml.slice(0, end + 3);
}

/** Parses a whole Ganglia document (strict XML). Throws on malformed input. */
export function parseGangliaXml(xml: string): XmlElement {
  const parser = sax.parser(true, { trim: true, position: true });
  type Building = { name: string; attrs: Array<[string, string]>; children: XmlElement[] };
  const stack: Building[] = [];
  let pendingAttrs: Array<[string, string]> = [];
  let root: XmlElement | null = null;
  let error: Error | null = null;

  parser.onattribute = (attr) => {
    pendingAttrs.push([attr.name, attr.value]);
  };
  parser.onopentag = (tag) => {
    stack.push({ name: tag.name, attrs: pendingAttrs, children: [] });
    pendingAttrs = [];
  };
  parser.onclosetag = () => {
    const done = stack.pop() as Building;
    const element: XmlElement = { name: done.name, attrs: done.attrs, children: done.children };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else root = element;
  };
  parser.onerror = (err) => {
    error ??= err;
    parser.resume();
  };
  parser.write(xml).close();
  if (error) throw new Error(`not well-formed: ${(error as Error).message}`);
  if (!root) throw new Error('no root element');
  return root;
}

export function attr(element: XmlElement, key: string): string | undefined {
  return element.attrs.find(([k]) => k === key)?.[1];
}

/** Depth-first list of elements named `name`. */
export function findAll(element: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const visit = (e: XmlElement) => {
    if (e.name === name) out.push(e);
    e.children.forEach(visit);
  };
  visit(element);
  return out;
}

/** The element at a path of `ELEMENT:NAME` steps below `root`, e.g. ['GRID:g', 'CLUSTER:c']. */
export function pick(root: XmlElement, ...steps: string[]): XmlElement | undefined {
  let current: XmlElement | undefined = root;
  for (const step of steps) {
    const [tag, name] = step.split(':', 2) as [string, string | undefined];
    current = current?.children.find((c) => c.name === tag && (name === undefined || attr(c, 'NAME') === name));
  }
  return current;
}

/** Where an element sits, for masking decisions: its ancestors, outermost first. */
export interface ElementContext {
  readonly element: XmlElement;
  readonly ancestors: readonly XmlElement[];
}

export interface NormalizeOptions {
  /** Attributes masked everywhere (value replaced by "*"). Default: TN and LOCALTIME. */
  readonly maskAttributes?: readonly string[];
  /** Further per-element masking, e.g. VAL of host metrics. */
  readonly maskWhen?: (ctx: ElementContext, attribute: string) => boolean;
  /** Elements left out entirely (with their subtrees). */
  readonly dropWhen?: (ctx: ElementContext) => boolean;
}

export interface CanonicalElement {
  readonly name: string;
  /** "KEY=value" in document order; masked values are "*". */
  readonly attrs: readonly string[];
  readonly children: readonly CanonicalElement[];
}

const MASKED = '*';

function sortKey(e: CanonicalElement): string {
  const nameAttr = e.attrs.find((a) => a.startsWith('NAME='));
  return `${e.name}\u0000${nameAttr ?? ''}\u0000${e.attrs.join('\u0001')}`;
}

/** Sorted, masked copy of `element` (see NormalizeOptions). */
export function canonicalize(element: XmlElement, options: NormalizeOptions = {}): CanonicalElement {
  const masked = new Set(options.maskAttributes ?? ['TN', 'LOCALTIME']);
  const visit = (e: XmlElement, ancestors: readonly XmlElement[]): CanonicalElement => {
    const ctx: ElementContext = { element: e, ancestors };
    const attrs = e.attrs.map(([k, v]) =>
      masked.has(k) || options.maskWhen?.(ctx, k) ? `${k}=${MASKED}` : `${k}="${v}"`,
    );
    const below = [...ancestors, e];
    const children = e.children
      .filter((c) => !options.dropWhen?.({ element: c, ancestors: below }))
      .map((c) => visit(c, below))
      .sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
    return { name: e.name, attrs, children };
  };
  return visit(element, []);
}

/** One line per element, indented: a readable form for assert.equal diffs. */
export function canonicalText(element: CanonicalElement): string {
  const lines: string[] = [];
  const visit = (e: CanonicalElement, depth: number) => {
    lines.push(`${'  '.repeat(depth)}${e.name} ${e.attrs.join(' ')}`.trimEnd());
    e.children.forEach((c) => visit(c, depth + 1));
  };
  visit(element, 0);
  return lines.join('\n') + '\n';
}

/** Parse + canonicalize + render, for the common case. */
export function normalizeXml(xml: string, options: NormalizeOptions = {}): string {
  return canonicalText(canonicalize(parseGangliaXml(xml), options));
}

/**
 * Attribute layout per element type: for each element name, every distinct ordered list
 * of attribute names seen (space-joined), in first-seen order. A daemon that prints
 * attributes in a consistent order has exactly one layout per element.
 */
export function attributeLayout(element: XmlElement): Record<string, string[]> {
  const layouts: Record<string, string[]> = {};
  const visit = (e: XmlElement) => {
    const layout = e.attrs.map(([k]) => k).join(' ');
    const known = (layouts[e.name] ??= []);
    if (!known.includes(layout)) known.push(layout);
    e.children.forEach(visit);
  };
  visit(element);
  return layouts;
}

/**
 * A unified-style line diff (LCS based; fine for the few thousand lines of a dump):
 * `-` lines only in `expected`, `+` lines only in `actual`, with `context` lines around.
 * Empty string when equal. node's assert truncates long multi-line strings, this does not.
 */
export function lineDiff(expected: string, actual: string, context = 2): string {
  if (expected === actual) return '';
  const a = expected.split('\n');
  const b = actual.split('\n');
  // lcs[i][j] = LCS length of a[i..] and b[j..]
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Array<[' ' | '-' | '+', string]> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push([' ', a[i++]!]), j++;
    else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push(['-', a[i++]!]);
    else ops.push(['+', b[j++]!]);
  }
  const keep = ops.map(([op]) => op !== ' ');
  const shown = ops.map((_, k) => keep.slice(Math.max(0, k - context), k + context + 1).some(Boolean));
  const out: string[] = [];
  ops.forEach(([op, line], k) => {
    if (shown[k]) out.push(`${op} ${line}`);
    else if (shown[k - 1]) out.push('  ...');
  });
  return out.join('\n');
}
