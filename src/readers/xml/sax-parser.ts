/**
 * The reference tokenizer: the `sax` package in strict mode behind the StreamingXmlParser
 * interface. Slower than the fast parser; production never uses it (parser-factory.ts): it is
 * the yardstick the fast parser is tested against.
 */
import * as sax from 'sax';
import saxModule from 'sax';
import { MAX_TOKEN } from './fast-parser';
import type { Attributes, StreamingXmlParser, XmlSink } from './xml-parser';
import { XmlParseError } from './xml-parser';

/**
 * sax fails any internal buffer (attribute value, comment, ...) past MAX_BUFFER_LENGTH (64 KiB
 * by default), checked at most once per write. The limit here is the fast parser's, exact,
 * counted per token below; sax's own check stays only as a backstop past it. (sax reads this
 * module-wide value at check time; this daemon is its only user in the process.)
 */
(saxModule as unknown as { MAX_BUFFER_LENGTH: number }).MAX_BUFFER_LENGTH = 2 * MAX_TOKEN;

/** sax's states outside markup (before the root, text, an entity in text). */
const STATE = (saxModule as unknown as { STATE: Record<string, number> }).STATE;
const OUTSIDE_MARKUP: ReadonlySet<number> = new Set([STATE.BEGIN, STATE.BEGIN_WHITESPACE, STATE.TEXT, STATE.TEXT_ENTITY]);

/** What this module reads of sax's parser state (untyped in @types/sax). */
interface SaxPosition {
  readonly position: number;
  readonly startTagPosition: number;
  readonly state: number;
}

const LINE_BREAKS = /\r\n|[\t\n\r]/g;

/** Control characters other than tab, CR, LF are not XML; sax lets them through. */
const INVALID_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;

/**
 * expat (and the XML spec) turn tab, CR, LF and CRLF in attribute values into one space;
 * sax keeps them verbatim. Normalise so both tokenizers report the same values.
 */
function normaliseAttributes(attributes: Record<string, string>): Attributes {
  for (const key in attributes) {
    const value = attributes[key];
    if (INVALID_CHARS.test(value)) throw new Error(`invalid character in attribute ${key}`);
    if (value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1 || value.indexOf('\t') !== -1) {
      attributes[key] = value.replace(LINE_BREAKS, ' ');
    }
  }
  return attributes;
}

class SaxXmlParser implements StreamingXmlParser {
  private readonly parser: sax.SAXParser;
  private failure: Error | null = null;
  private sawRoot = false;
  private depth = 0;
  private ended = false;

  constructor(sink: XmlSink) {
    // strictEntities: only the five XML entities, not sax's HTML set (&nbsp; etc.).
    const options: sax.SAXOptions & { strictEntities: boolean } = { strictEntities: true, position: true };
    this.parser = sax.parser(true, options);
    this.parser.onerror = (err: Error) => {
      // sax appends "\nLine: ..\nColumn: ..\nChar: .."; keep the first line, use our position.
      const message = err.message.split('\n', 1)[0];
      this.positioned(message);
    };
    this.parser.onopentag = (tag: sax.Tag | sax.QualifiedTag) => {
      // sax accepts a second root element; expat (and we) do not.
      if (this.depth === 0 && this.sawRoot) this.positioned('second root element');
      this.sawRoot = true;
      this.depth++;
      let attrs: Attributes;
      try {
        attrs = normaliseAttributes(tag.attributes as Record<string, string>);
      } catch (err) {
        return this.positioned((err as Error).message);
      }
      this.checkToken();
      sink.openTag(tag.name, attrs);
    };
    this.parser.onclosetag = (name: string) => {
      this.checkToken();
      this.depth--;
      sink.closeTag(name);
    };
    // Every kind of token ends in one of these, at its `>`.
    const tokenEnded = (): void => this.checkToken();
    // sax reports a comment at its `--`, one char before its `>`.
    this.parser.oncomment = () => this.checkToken(1);
    this.parser.onclosecdata = tokenEnded;
    this.parser.ondoctype = tokenEnded;
    this.parser.onprocessinginstruction = tokenEnded;
    (this.parser as unknown as { onsgmldeclaration: () => void }).onsgmldeclaration = tokenEnded;
  }

  /**
   * The fast parser's limit, exactly: a token from its `<` to its `>` inclusive may be
   * MAX_TOKEN bytes (latin1: one char each). sax's positions count chars consumed, so at a
   * token's `>` (or after a write that ends inside one) it spans position - startTagPosition + 1.
   * One difference is left: inside a DOCTYPE's internal subset sax restarts the count at each
   * declaration's `<`, so there the limit applies per declaration, not to the whole DOCTYPE.
   */
  private checkToken(before = 0): void {
    const p = this.parser as unknown as SaxPosition;
    if (p.position - p.startTagPosition + 1 + before > MAX_TOKEN) this.positioned(`token longer than ${MAX_TOKEN} bytes`);
  }

  write(chunk: string): void {
    this.checkUsable();
    try {
      this.parser.write(chunk);
      // An unfinished token is held by sax: refuse it once it is past the limit.
      if (!OUTSIDE_MARKUP.has((this.parser as unknown as SaxPosition).state)) this.checkToken();
    } catch (err) {
      throw this.fail(err);
    }
  }

  end(): void {
    this.checkUsable();
    this.ended = true;
    try {
      this.parser.close();
      if (!this.sawRoot) this.positioned('no root element');
    } catch (err) {
      throw this.fail(err);
    }
  }

  private positioned(message: string): never {
    throw new XmlParseError(message, this.parser.line + 1, this.parser.column);
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.ended) throw new Error('XML parser used after end()');
  }

  private fail(err: unknown): Error {
    this.failure = err instanceof Error ? err : new Error(String(err));
    return this.failure;
  }
}

export function createSaxParser(sink: XmlSink): StreamingXmlParser {
  return new SaxXmlParser(sink);
}
