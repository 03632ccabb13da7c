/**
 * Chooses the XML tokenizer: the hand-written fast one (production), or sax (the reference
 * the tests compare it with). There is no config option: only code and tests choose.
 */
import { createFastParser } from './fast-parser';
import { createSaxParser } from './sax-parser';
import type { StreamingXmlParser, XmlSink } from './xml-parser';

export type ParserKind = 'fast' | 'sax';

export function createXmlParser(sink: XmlSink, kind: ParserKind = 'fast'): StreamingXmlParser {
  switch (kind) {
    case 'fast': return createFastParser(sink);
    case 'sax': return createSaxParser(sink);
  }
}
