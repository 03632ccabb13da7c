/**
 * A streaming XML tokenizer specialised for Ganglia documents.
 *
 * `sax` spends about a second of CPU on a 32 MB gmond dump because it walks the input one
 * character at a time through a state machine and builds every name and value by string
 * concatenation. Ganglia XML is a very regular subset of XML (elements with quoted
 * attributes, whitespace between them, one DTD prolog), so this tokenizer finds token
 * boundaries with indexOf, slices names and values out of the chunk, and reuses the
 * attribute names seen on the previous element of the same name. What gmond repeats on every
 * host is not tokenized again: a METRIC start tag is compared with the last one of its name
 * outside its varying values (VAL, TN), and the EXTRA_DATA body that follows with that
 * metric's last body; both with native string comparisons, the recorded events replayed.
 *
 * It is still a well-formedness checker, because a truncated or garbled document must
 * never become a snapshot: tags must nest and close, there is exactly one root element,
 * nothing but whitespace, comments and PIs outside it, attribute values must not contain
 * `<` or stray `&`, only the five predefined and numeric character references exist, no
 * control characters. Like expat, attribute values are normalised (tab, CR, LF -> space).
 * It does not validate against the DTD, expand DTD-declared entities or apply DTD
 * attribute defaults (the snapshot builder supplies the defaults Ganglia relies on).
 *
 * Chunks may split the input anywhere: an incomplete token is kept and re-scanned once
 * more input arrives. A single token (tag, comment, CDATA section, DOCTYPE, PI; from its `<`
 * to its `>`) larger than MAX_TOKEN is rejected however the chunks fall, so that garbage
 * without a `>` cannot make the re-scan quadratic or the buffer unbounded.
 */
import type { Attributes, StreamingXmlParser, XmlSink } from './xml-parser';
import { XmlParseError } from './xml-parser';
import { detach } from '../intern';

/** Longest token accepted, in bytes from `<` to `>` inclusive; real Ganglia tags are < 2 KB. */
export const MAX_TOKEN = 1 << 20;

/** Characters of a new chunk first used to finish a token cut by the previous chunk's end. */
const FINISH_TOKEN = 4096;

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const AMP = 38;
const SQUOTE = 39;
const SLASH = 47;
const LT = 60;
const EQ = 61;
const GT = 62;
const QMARK = 63;
const LBRACKET = 91;
const RBRACKET = 93;

/** Where the document is, for what may legally come next. */
const enum Phase {
  /** Nothing but whitespace/comments/PIs yet. */
  Start,
  /** After the DOCTYPE: no second DOCTYPE. */
  AfterDoctype,
  InRoot,
  AfterRoot,
}


function isWhitespace(c: number): boolean {
  return c === SPACE || c === LF || c === TAB || c === CR;
}

/** XML NameStartChar restricted to what latin1 input can contain (plus anything above). */
function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58
    || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7);
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 0xb7;
}

/** XML 1.0 Char production, for character references. */
function isXmlChar(code: number): boolean {
  return code === TAB || code === LF || code === CR
    || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/** Decodes the reference between `&` at `amp` and `;` at `semi`; null if not one of ours. */
function decodeReference(s: string, amp: number, semi: number): string | null {
  const len = semi - amp - 1;
  if (len <= 0) return null;
  if (s.charCodeAt(amp + 1) === HASH) {
    let hex = false;
    let p = amp + 2;
    if (p < semi && s.charCodeAt(p) === 120 /* x */) {
      hex = true;
      p++;
    }
    if (p >= semi || semi - p > 8) return null;
    let code = 0;
    for (; p < semi; p++) {
      const c = s.charCodeAt(p);
      let digit: number;
      if (c >= 48 && c <= 57) digit = c - 48;
      else if (hex && c >= 97 && c <= 102) digit = c - 87;
      else if (hex && c >= 65 && c <= 70) digit = c - 55;
      else return null;
      code = code * (hex ? 16 : 10) + digit;
    }
    return isXmlChar(code) ? String.fromCodePoint(code) : null;
  }
  switch (s.slice(amp + 1, semi)) {
    case 'lt': return '<';
    case 'gt': return '>';
    case 'amp': return '&';
    case 'quot': return '"';
    case 'apos': return "'";
    default: return null;
  }
}

const EXTRA_DATA_END = '</EXTRA_DATA>';
const METRIC_NAME_PREFIX = '<METRIC NAME="';
/** Characters of EXTRA_DATA blocks a document's parser keeps for replay (see FastXmlParser.blocks). */
const MAX_BLOCK_CACHE = 1 << 20;

/** An element event of a recorded block: an open tag with its attributes, or a close (attrs null). */
interface BlockEvent {
  readonly name: string;
  readonly attrs: Attributes | null;
}

interface Recording {
  /** The block's text, from `<EXTRA_DATA` to its `</EXTRA_DATA>` (or a METRIC's body). */
  readonly key: string;
  /** Where that text ends in the input being scanned. */
  readonly end: number;
  /** Open elements outside the block. */
  readonly depth: number;
  readonly events: BlockEvent[];
  /** For a METRIC's body: the template it is recorded for; null for an EXTRA_DATA block. */
  readonly template: MetricTemplate | null;
}

const METRIC_END = '</METRIC>';
/** Attributes of a METRIC that differ from host to host; the rest is constant per metric name. */
const VARYING: ReadonlySet<string> = new Set(['VAL', 'TN']);
/** Longest METRIC start tag learned as a template, and longest body kept (characters). */
const MAX_TEMPLATE_TAG = 4096;
const MAX_BODY = 64 * 1024;
/** Times a name's template or body may be replaced in one document before it stops changing. */
const MAX_RELEARN = 16;

/**
 * A METRIC start tag as gmond writes it for one metric name on every host: the constant text
 * around the varying values (VAL, TN), the attributes it stood for, and what followed it up
 * to its `</METRIC>` (the EXTRA_DATA block) with the events that produced. A tag whose text
 * is the template's with other plain values in the varying places tokenizes to the same
 * attributes with those values, so it is matched with a few native comparisons.
 */
interface MetricTemplate {
  /** The NAME value, also the key of FastXmlParser.templates. */
  readonly name: string;
  /**
   * parts[0]: from `<` through the opening quote of the first varying value; parts[v]: from
   * the closing quote of varying value v-1 through the opening quote of value v; the last
   * part: from the last closing quote through `>` or `/>`.
   */
  readonly parts: readonly string[];
  /** The quote (char code) around each varying value. */
  readonly quotes: readonly number[];
  /** Attribute names in document order, and their values (null: a varying one, in order). */
  readonly keys: readonly string[];
  readonly values: readonly (string | null)[];
  readonly selfClosing: boolean;
  /** Text from after the tag through `</METRIC>`, and its events (the last closes METRIC). */
  body: string | null;
  events: readonly BlockEvent[];
  /** Bodies recorded again after a mismatch (bounded by MAX_RELEARN). */
  relearned: number;
  /** The template of the METRIC that followed this one last time: the first guess next time. */
  next: MetricTemplate | null;
}

/** Thrown inside the scanner: message and buffer offset, turned into line/column later. */
class ScanError {
  constructor(readonly message: string, readonly offset: number) {}
}

class FastXmlParser implements StreamingXmlParser {
  /** Unconsumed input; always starts at a token boundary. */
  private buffer = '';
  /** Absolute offset, line (1-based) and column (0-based) of buffer[0]. */
  private offset = 0;
  private line = 1;
  private column = 0;
  private phase = Phase.Start;
  private readonly open: string[] = [];
  /** Attribute names of the last element of each name, in order: the expected names. */
  private readonly attributeNames = new Map<string, string[]>();
  private failure: Error | null = null;
  private ended = false;
  /**
   * EXTRA_DATA blocks of this document, by their exact text, with the events they produced.
   * A gmond sends the same block for a metric on every host (1000 times at S2): an identical
   * block is found with one native search and replayed instead of tokenized again. Identical
   * text inside the root element tokenizes identically, so nothing is skipped unchecked.
   */
  private readonly blocks = new Map<string, readonly BlockEvent[]>();
  /** Characters held in `blocks` (bounded: MAX_BLOCK_CACHE). */
  private blockChars = 0;
  /** The block being recorded, or null. */
  private recording: Recording | null = null;
  /** METRIC start tags by NAME (see MetricTemplate); held characters count in blockChars. */
  private readonly templates = new Map<string, MetricTemplate>();
  /** Templates replaced in this document (bounded by MAX_RELEARN per name on average). */
  private relearnedTemplates = 0;
  /** The template of the last METRIC start tag, whose `next` is the guess for the next one. */
  private lastTemplate: MetricTemplate | null = null;
  /** Value bounds (start, end) of the METRIC start tag being tokenized, for learning it. */
  private readonly bounds: number[] = [];
  /** Varying values of the METRIC start tag being matched against a template. */
  private readonly varying: string[] = [];

  constructor(private readonly sink: XmlSink) {}

  write(chunk: string): void {
    this.checkUsable();
    if (chunk.length === 0) return;
    const buffered = this.buffer.length;
    let input = buffered === 0 ? chunk : this.buffer + chunk;
    if (buffered > 0 && buffered <= FINISH_TOKEN) {
      // The kept text is one unfinished token. `buffer + chunk` would be flattened by the
      // first search in it, a copy of every chunk (~20 ms per 34 MB document): finish the
      // token with a prefix of the chunk instead (the prefix is one more chunk boundary),
      // and go on in the chunk itself. A longer token is likely to need the whole chunk.
      for (let take = FINISH_TOKEN; take < chunk.length; take *= 8) {
        const head = this.buffer + chunk.slice(0, take);
        const consumed = this.consume(head);
        if (consumed === 0) continue; // still unfinished: nothing happened, try a longer prefix
        input = consumed >= buffered ? chunk.slice(consumed - buffered) : head.slice(consumed) + chunk.slice(take);
        break;
      }
    }
    const consumed = this.consume(input);
    this.buffer = consumed === input.length ? '' : input.slice(consumed);
  }

  /** Scans `input` (not the end of the document); returns how much of it was consumed. */
  private consume(input: string): number {
    try {
      const consumed = this.scan(input, false);
      if (input.length - consumed > MAX_TOKEN) throw new ScanError(`token longer than ${MAX_TOKEN} bytes`, consumed);
      this.advance(input, consumed);
      return consumed;
    } catch (err) {
      throw this.fail(err, input);
    }
  }

  end(): void {
    this.checkUsable();
    this.ended = true;
    const input = this.buffer;
    this.buffer = '';
    try {
      const consumed = this.scan(input, true);
      if (consumed < input.length) throw new ScanError('unexpected end of input inside markup', consumed);
      if (this.open.length > 0) {
        throw new ScanError(`unclosed element <${this.open[this.open.length - 1]}> at end of input`, input.length);
      }
      if (this.phase !== Phase.AfterRoot) throw new ScanError('no root element', input.length);
    } catch (err) {
      throw this.fail(err, input);
    }
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.ended) throw new Error('XML parser used after end()');
  }

  /** Records the first failure; scanner errors become XmlParseError with a position. */
  private fail(err: unknown, input: string): Error {
    let error: Error;
    if (err instanceof ScanError) {
      const { line, column } = this.positionOf(input, err.offset);
      error = new XmlParseError(err.message, line, column);
    } else {
      error = err instanceof Error ? err : new Error(String(err));
    }
    this.failure = error;
    return error;
  }

  /** Line (1-based) and column (1-based) of input[offset]. */
  private positionOf(input: string, offset: number): { line: number; column: number } {
    let line = this.line;
    let lineStart = -1;
    const end = Math.min(offset, input.length);
    for (let i = input.indexOf('\n'); i !== -1 && i < end; i = input.indexOf('\n', i + 1)) {
      line++;
      lineStart = i;
    }
    const column = lineStart === -1 ? this.column + end + 1 : end - lineStart;
    return { line, column };
  }

  /** Moves the position bookkeeping past input[0, consumed). */
  private advance(input: string, consumed: number): void {
    let lineStart = -1;
    for (let i = input.indexOf('\n'); i !== -1 && i < consumed; i = input.indexOf('\n', i + 1)) {
      this.line++;
      lineStart = i;
    }
    this.column = lineStart === -1 ? this.column + consumed : consumed - lineStart - 1;
    this.offset += consumed;
  }

  /**
   * Consumes every complete token of `s`; returns how far it got (the start of an
   * incomplete token). With `final`, trailing text is checked as complete.
   */
  private scan(s: string, final: boolean): number {
    const n = s.length;
    let pos = 0;
    while (pos < n) {
      const lt = s.indexOf('<', pos);
      const textEnd = lt === -1 ? n : lt;
      if (textEnd > pos) {
        const checked = this.checkText(s, pos, textEnd, final || lt !== -1);
        if (checked < textEnd) return checked;
      }
      if (lt === -1) return n;
      const next = this.markup(s, lt);
      if (next < 0) return lt;
      if (next - lt > MAX_TOKEN) throw new ScanError(`token longer than ${MAX_TOKEN} bytes`, lt);
      pos = next;
    }
    return pos;
  }

  /**
   * Text between tags carries nothing for Ganglia, but it must still be well-formed:
   * only whitespace outside the root; inside, no control characters and only valid
   * references. Returns `to`, or where a reference cut by the chunk end starts.
   */
  private checkText(s: string, from: number, to: number, complete: boolean): number {
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (isWhitespace(c)) continue;
      if (this.phase !== Phase.InRoot) {
        throw new ScanError(this.phase === Phase.AfterRoot ? 'text after the root element' : 'text before the root element', i);
      }
      if (c === AMP) {
        const semi = s.indexOf(';', i + 1);
        if (semi === -1 || semi >= to) {
          if (!complete && to - i < 16) return i;
          throw new ScanError('unterminated entity reference', i);
        }
        if (decodeReference(s, i, semi) === null) throw new ScanError('undefined entity reference', i);
        i = semi;
      } else if (c < SPACE) {
        throw new ScanError('invalid character', i);
      } else if (c === RBRACKET && s.startsWith(']]>', i)) {
        throw new ScanError("']]>' not allowed in text", i);
      }
    }
    return to;
  }

  /** Dispatches on the token starting with `<` at `lt`; returns its end or -1 if incomplete. */
  private markup(s: string, lt: number): number {
    if (lt + 1 >= s.length) return -1;
    switch (s.charCodeAt(lt + 1)) {
      case SLASH: return this.closeTag(s, lt);
      case BANG: return this.declaration(s, lt);
      case QMARK: return this.processingInstruction(s, lt);
      default: return this.startTag(s, lt);
    }
  }

  private startTag(s: string, lt: number): number {
    const n = s.length;
    if (this.phase === Phase.AfterRoot) throw new ScanError('second root element', lt);
    let i = lt + 1;
    let name = knownElementAt(s, i);
    let j = i + name.length;
    if (name.length === 0) {
      if (!isNameStart(s.charCodeAt(i))) throw new ScanError("invalid element name after '<'", i);
      j = i + 1;
      while (j < n && isNameChar(s.charCodeAt(j))) j++;
      name = detach(s.slice(i, j));
    }
    if (j >= n) return -1;
    let bounds: number[] | null = null;
    if (this.recording === null && this.open.length > 0) {
      if (name === 'METRIC') {
        const next = this.templatedMetric(s, lt);
        if (next >= 0) return next;
        bounds = this.bounds;
        bounds.length = 0;
      } else if (name === 'EXTRA_DATA') {
        const next = this.extraDataBlock(s, lt);
        if (next >= 0) return next;
      }
    }
    i = j;
    // No '<' may appear inside the tag. Every character up to the '>' is looked at below
    // (names, whitespace, '=', quotes, values), so a '<' is met where it stands.

    let expected = this.attributeNames.get(name);
    if (expected === undefined) {
      expected = [];
      this.attributeNames.set(name, expected);
    }
    /** Every name so far came from `expected` in order, whose entries are distinct: no repeat yet. */
    let guessedOnly = true;
    const attrs: Record<string, string> = {};
    for (let k = 0; ; k++) {
      if (i >= n) return -1;
      let c = s.charCodeAt(i);
      const spaced = isWhitespace(c);
      while (isWhitespace(c)) {
        if (++i >= n) return -1;
        c = s.charCodeAt(i);
      }
      if (c === GT) {
        if (bounds !== null) return this.learnedMetric(s, lt, i + 1, attrs, bounds, false);
        this.openElement(name, attrs, false);
        return i + 1;
      }
      if (c === SLASH) {
        if (i + 1 >= n) return -1;
        if (s.charCodeAt(i + 1) !== GT) throw new ScanError("expected '>' after '/'", i + 1);
        if (bounds !== null) return this.learnedMetric(s, lt, i + 2, attrs, bounds, true);
        this.openElement(name, attrs, true);
        return i + 2;
      }
      if (c === LT) throw new ScanError("'<' inside a tag", i);
      if (!spaced) throw new ScanError('missing whitespace before attribute', i);

      let attrName: string;
      const guess = expected[k];
      if (guess !== undefined && matchesAt(s, i, guess) && i + guess.length < n
        && !isNameChar(s.charCodeAt(i + guess.length))) {
        attrName = guess;
        i += guess.length;
      } else {
        if (!isNameStart(c)) throw new ScanError('invalid attribute name', i);
        j = i + 1;
        while (j < n && isNameChar(s.charCodeAt(j))) j++;
        if (j >= n) return -1;
        attrName = detach(s.slice(i, j));
        // Learn the name, keeping the list free of repeats (a repeat is an error, found below).
        if (!expected.includes(attrName)) {
          expected.length = k;
          expected.push(attrName);
        }
        guessedOnly = false;
        i = j;
      }

      c = s.charCodeAt(i);
      while (isWhitespace(c)) {
        if (++i >= n) return -1;
        c = s.charCodeAt(i);
      }
      if (c !== EQ) throw new ScanError(`expected '=' after attribute ${attrName}`, i);
      if (++i >= n) return -1;
      c = s.charCodeAt(i);
      while (isWhitespace(c)) {
        if (++i >= n) return -1;
        c = s.charCodeAt(i);
      }
      if (c !== DQUOTE && c !== SQUOTE) throw new ScanError('attribute value must be quoted', i);
      const start = i + 1;
      const close = s.indexOf(c === DQUOTE ? '"' : "'", start);
      if (close === -1) {
        const stray = s.indexOf('<', start);
        if (stray !== -1) throw new ScanError("'<' in attribute value", stray);
        return -1;
      }
      if (!guessedOnly && attrs[attrName] !== undefined && Object.prototype.hasOwnProperty.call(attrs, attrName)) {
        throw new ScanError(`duplicate attribute ${attrName}`, i);
      }
      attrs[attrName] = attributeValue(s, start, close);
      if (bounds !== null) bounds.push(start, close);
      i = close + 1;
    }
  }

  /**
   * At `<METRIC` (inside the root, nothing recording): if the tag is a known template's text
   * with plain values in its varying places, emits it (and its body, if that is the
   * template's too) and returns where it ends; else -1 and the tag is tokenized as usual.
   */
  private templatedMetric(s: string, lt: number): number {
    let t = this.lastTemplate?.next ?? null;
    if (t === null || !textAt(s, lt, t.parts[0])) {
      // Not the metric that followed last time: look the name up.
      const at = lt + METRIC_NAME_PREFIX.length;
      if (!matchesAt(s, lt, METRIC_NAME_PREFIX)) return -1;
      const quote = s.indexOf('"', at);
      if (quote === -1) return -1;
      t = this.templates.get(s.slice(at, quote)) ?? null;
      if (t === null || !textAt(s, lt, t.parts[0])) return -1;
    }
    const parts = t.parts;
    const varying = this.varying;
    let p = lt + parts[0].length;
    for (let v = 1; v < parts.length; v++) {
      const close = s.indexOf(t.quotes[v - 1] === DQUOTE ? '"' : "'", p);
      if (close === -1) return -1;
      for (let k = p; k < close; k++) {
        const c = s.charCodeAt(k);
        if (c < SPACE || c === AMP || c === LT) return -1;
      }
      if (!textAt(s, close, parts[v])) return -1;
      varying[v - 1] = s.slice(p, close);
      p = close + parts[v].length;
    }
    const attrs: Record<string, string> = {};
    const { keys, values } = t;
    for (let k = 0, v = 0; k < keys.length; k++) {
      const value = values[k];
      attrs[keys[k]] = value === null ? varying[v++] : value;
    }
    return this.metricOpened(s, lt, p, attrs, t, t.selfClosing);
  }

  /** A METRIC start tag tokenized in full, `bounds` its values: learns it, then emits it. */
  private learnedMetric(s: string, lt: number, end: number, attrs: Attributes, bounds: readonly number[], selfClosing: boolean): number {
    const name = attrs.NAME;
    let t = name === undefined ? undefined : this.templates.get(name);
    if (name !== undefined && end - lt <= MAX_TEMPLATE_TAG && this.blockChars + end - lt <= MAX_BLOCK_CACHE
      && (t === undefined || this.relearnedTemplates < MAX_RELEARN * this.templates.size)) {
      if (t !== undefined) this.relearnedTemplates++;
      const keys = Object.keys(attrs);
      const values: (string | null)[] = [];
      const parts: string[] = [];
      const quotes: number[] = [];
      let from = lt;
      for (let k = 0; k < keys.length; k++) {
        if (VARYING.has(keys[k])) {
          const start = bounds[2 * k];
          parts.push(detach(s.slice(from, start)));
          quotes.push(s.charCodeAt(start - 1));
          from = bounds[2 * k + 1];
          values.push(null);
        } else {
          values.push(detach(attrs[keys[k]]));
        }
      }
      parts.push(detach(s.slice(from, end)));
      t = {
        name: detach(name), parts, quotes, keys, values, selfClosing, body: null, events: [], relearned: 0, next: null,
      };
      this.templates.set(t.name, t);
      this.blockChars += end - lt;
    }
    if (t === undefined) {
      this.openElement('METRIC', attrs, selfClosing);
      return end;
    }
    return this.metricOpened(s, lt, end, attrs, t, selfClosing);
  }

  /**
   * Emits a METRIC start tag ending at `end` whose name has template `t`; replays the body
   * that follows when it is the template's, else starts recording it. Returns how far the
   * input is consumed.
   */
  private metricOpened(s: string, lt: number, end: number, attrs: Attributes, t: MetricTemplate, selfClosing: boolean): number {
    const last = this.lastTemplate;
    if (last !== null) last.next = t;
    this.lastTemplate = t;
    this.openElement('METRIC', attrs, selfClosing);
    if (selfClosing) return end;
    const body = t.body;
    // The whole stretch counts as one token for MAX_TOKEN in scan(): keep it within.
    if (body !== null && end - lt + body.length <= MAX_TOKEN && textAt(s, end, body)) {
      const sink = this.sink;
      for (const e of t.events) {
        if (e.attrs === null) sink.closeTag(e.name);
        else sink.openTag(e.name, e.attrs);
      }
      this.open.pop();
      return end + body.length;
    }
    if (t.relearned < MAX_RELEARN) {
      const close = s.indexOf(METRIC_END, end);
      if (close !== -1 && close + METRIC_END.length - end <= MAX_BODY
        && this.blockChars + close + METRIC_END.length - end <= MAX_BLOCK_CACHE) {
        this.recording = {
          key: s.slice(end, close + METRIC_END.length), end: close + METRIC_END.length, depth: this.open.length - 1, events: [], template: t,
        };
      }
    }
    return end;
  }

  /**
   * At `<EXTRA_DATA` (inside the root): replays an identical block seen before and returns
   * where it ends, or starts recording this one (when it is whole in `s`) and returns -1.
   */
  private extraDataBlock(s: string, lt: number): number {
    const close = s.indexOf(EXTRA_DATA_END, lt);
    if (close === -1) return -1;
    const end = close + EXTRA_DATA_END.length;
    const key = s.slice(lt, end);
    const events = this.blocks.get(key);
    if (events !== undefined) {
      const sink = this.sink;
      for (const e of events) {
        if (e.attrs === null) sink.closeTag(e.name);
        else sink.openTag(e.name, e.attrs);
      }
      return end;
    }
    if (this.blockChars + key.length <= MAX_BLOCK_CACHE) this.recording = { key, end, depth: this.open.length, events: [], template: null };
    return -1;
  }

  /** The block's closing tag ended at `end`: keep it if it is the one recording began with. */
  private endRecording(end: number): void {
    const r = this.recording!;
    this.recording = null;
    if (end !== r.end) return;
    const key = detach(r.key);
    const t = r.template;
    if (t === null) {
      this.blocks.set(key, r.events);
    } else {
      if (t.body !== null) t.relearned++;
      t.body = key;
      t.events = r.events;
    }
    this.blockChars += key.length;
  }

  private openElement(name: string, attrs: Attributes, selfClosing: boolean): void {
    if (this.open.length === 0) this.phase = Phase.InRoot;
    this.sink.openTag(name, attrs);
    if (this.recording !== null && selfClosing && this.open.length === this.recording.depth) {
      this.recording = null; // <EXTRA_DATA/>: no block to keep
    } else if (this.recording !== null) {
      // Copies: the parser's slices would keep their input chunk alive.
      const kept: Record<string, string> = {};
      for (const key of Object.keys(attrs)) kept[key] = detach(attrs[key]);
      this.recording.events.push({ name, attrs: kept });
      if (selfClosing) this.recording.events.push({ name, attrs: null });
    }
    if (selfClosing) {
      this.sink.closeTag(name);
      if (this.open.length === 0) this.phase = Phase.AfterRoot;
    } else {
      this.open.push(name);
    }
  }

  private closeTag(s: string, lt: number): number {
    const gt = s.indexOf('>', lt + 2);
    if (gt === -1) return -1;
    const depth = this.open.length;
    if (depth === 0) throw new ScanError('close tag without open element', lt);
    const name = this.open[depth - 1];
    let i = lt + 2;
    const matches = s.startsWith(name, i);
    if (matches) {
      i += name.length;
      while (i < gt && isWhitespace(s.charCodeAt(i))) i++;
    }
    if (!matches || i !== gt) {
      throw new ScanError(`mismatched tag: expected </${name}>, got </${s.slice(lt + 2, Math.min(gt, lt + 66))}>`, lt);
    }
    this.open.pop();
    this.sink.closeTag(name);
    if (this.recording !== null) {
      this.recording.events.push({ name, attrs: null });
      if (depth - 1 === this.recording.depth) this.endRecording(gt + 1);
    }
    if (depth === 1) this.phase = Phase.AfterRoot;
    return gt + 1;
  }

  /** `<!--`, `<![CDATA[` or `<!DOCTYPE`. */
  private declaration(s: string, lt: number): number {
    if (s.startsWith('<!--', lt)) return this.comment(s, lt);
    if (s.startsWith('<![CDATA[', lt)) {
      if (this.phase !== Phase.InRoot) throw new ScanError('CDATA section outside the root element', lt);
      const end = s.indexOf(']]>', lt + 9);
      return end === -1 ? -1 : end + 3;
    }
    if (s.startsWith('<!DOCTYPE', lt)) return this.doctype(s, lt);
    const available = s.length - lt;
    for (const prefix of ['<!--', '<![CDATA[', '<!DOCTYPE']) {
      if (available < prefix.length && prefix.startsWith(s.slice(lt))) return -1;
    }
    throw new ScanError("invalid markup after '<!'", lt);
  }

  private comment(s: string, lt: number): number {
    const dashes = s.indexOf('--', lt + 4);
    if (dashes === -1 || dashes + 2 >= s.length) return -1;
    if (s.charCodeAt(dashes + 2) !== GT) throw new ScanError("'--' inside a comment", dashes);
    return dashes + 3;
  }

  /** Skips the DOCTYPE, internal subset included (quotes and comments may contain ']' or '>'). */
  private doctype(s: string, lt: number): number {
    if (this.phase !== Phase.Start) throw new ScanError('DOCTYPE not allowed here', lt);
    const n = s.length;
    let i = lt + 9;
    if (i >= n) return -1;
    if (!isWhitespace(s.charCodeAt(i))) throw new ScanError('malformed DOCTYPE', i);
    let quote = 0;
    let inSubset = false;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (quote !== 0) {
        if (c === quote) quote = 0;
      } else if (c === DQUOTE || c === SQUOTE) {
        quote = c;
      } else if (inSubset) {
        if (c === RBRACKET) {
          inSubset = false;
        } else if (c === LT) {
          if (i + 4 > n) return -1;
          if (s.startsWith('<!--', i)) {
            const end = s.indexOf('-->', i + 4);
            if (end === -1) return -1;
            i = end + 2;
          }
        }
      } else if (c === LBRACKET) {
        inSubset = true;
      } else if (c === GT) {
        this.phase = Phase.AfterDoctype;
        return i + 1;
      } else if (c === LT) {
        throw new ScanError("'<' inside DOCTYPE", i);
      }
    }
    return -1;
  }

  /** `<?target ...?>`; the XML declaration only at the very start of the document. */
  private processingInstruction(s: string, lt: number): number {
    const end = s.indexOf('?>', lt + 2);
    if (end === -1) return -1;
    let j = lt + 2;
    if (!isNameStart(s.charCodeAt(j))) throw new ScanError('invalid processing instruction', j);
    while (j < end && isNameChar(s.charCodeAt(j))) j++;
    if (j < end && !isWhitespace(s.charCodeAt(j))) throw new ScanError('invalid processing instruction', j);
    if (j - lt - 2 === 3 && s.slice(lt + 2, j).toLowerCase() === 'xml' && this.offset + lt !== 0) {
      throw new ScanError('XML declaration not at start of document', lt);
    }
    return end + 2;
  }
}

/**
 * The Ganglia element name at `at` if there is one (matched in place, never sliced; the
 * common METRIC and EXTRA_ELEMENT tested first), else ''.
 */
function knownElementAt(s: string, at: number): string {
  switch (s.charCodeAt(at)) {
    case 77 /* M */: return wordAt(s, at, 'METRIC') || wordAt(s, at, 'METRICS');
    case 69 /* E */: return wordAt(s, at, 'EXTRA_ELEMENT') || wordAt(s, at, 'EXTRA_DATA');
    case 72 /* H */: return wordAt(s, at, 'HOST') || wordAt(s, at, 'HOSTS');
    case 67 /* C */: return wordAt(s, at, 'CLUSTER');
    case 71 /* G */: return wordAt(s, at, 'GRID') || wordAt(s, at, 'GANGLIA_XML');
    default: return '';
  }
}

/** `word` if the name at `at` is exactly it (the input goes on past it), else ''. */
function wordAt(s: string, at: number, word: string): string {
  const end = at + word.length;
  return end < s.length && matchesAt(s, at, word) && !isNameChar(s.charCodeAt(end)) ? word : '';
}

/** s.startsWith(word, at), as a loop the JIT inlines (the words are short names). */
function matchesAt(s: string, at: number, word: string): boolean {
  const n = word.length;
  if (at + n > s.length) return false;
  for (let k = 0; k < n; k++) if (s.charCodeAt(at + k) !== word.charCodeAt(k)) return false;
  return true;
}

/**
 * s.startsWith(text, at) for longer texts: V8's startsWith compares char by char (~1 us for
 * 250 chars), a slice (a view, no copy) compared with === runs a native memcmp (~50 ns).
 */
function textAt(s: string, at: number, text: string): boolean {
  return s.slice(at, at + text.length) === text;
}

/** The value between the quotes; sliced as is unless it needs decoding or is invalid. */
function attributeValue(s: string, start: number, end: number): string {
  for (let p = start; p < end; p++) {
    const c = s.charCodeAt(p);
    if (c < SPACE || c === AMP || c === LT) return decodeValue(s, start, end, p);
  }
  return s.slice(start, end);
}

/** Slow path: references, whitespace normalisation, invalid characters. */
function decodeValue(s: string, start: number, end: number, first: number): string {
  const parts: string[] = [s.slice(start, first)];
  let from = first;
  for (let p = first; p < end; p++) {
    const c = s.charCodeAt(p);
    if (c === LT) throw new ScanError("'<' in attribute value", p);
    if (c === AMP) {
      const semi = s.indexOf(';', p + 1);
      if (semi === -1 || semi >= end) throw new ScanError("unescaped '&' in attribute value", p);
      const decoded = decodeReference(s, p, semi);
      if (decoded === null) throw new ScanError('undefined entity reference in attribute value', p);
      parts.push(s.slice(from, p), decoded);
      p = semi;
      from = semi + 1;
    } else if (c < SPACE) {
      if (c !== TAB && c !== LF && c !== CR) throw new ScanError('invalid character in attribute value', p);
      parts.push(s.slice(from, p), ' ');
      // CR LF is one line end, hence one space.
      if (c === CR && p + 1 < end && s.charCodeAt(p + 1) === LF) p++;
      from = p + 1;
    }
  }
  parts.push(s.slice(from, end));
  return parts.join('');
}

/** A tokenizer for Ganglia XML; see the module comment for what it checks. */
export function createFastParser(sink: XmlSink): StreamingXmlParser {
  return new FastXmlParser(sink);
}
