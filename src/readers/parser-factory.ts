/** Chooses the XML tokenizer a reader uses (config/CLI `parser` option). */
import { createFastParser } from './fast-parser';
import { createSaxParser } from './sax-parser';
import type { StreamingXmlParser, XmlSink } from './xml-parser';

export type ParserKind = 'fast' | 'sax';

export const PARSER_KINDS: readonly ParserKind[] = ['fast', 'sax'];

export function createXmlParser(sink: XmlSink, kind: ParserKind = 'fast'): StreamingXmlParser {
  switch (kind) {
    case 'fast': return createFastParser(sink);
    case 'sax': return createSaxParser(sink);
  }
}
