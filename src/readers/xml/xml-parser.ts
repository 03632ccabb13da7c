/**
 * The one small interface between the readers and an XML tokenizer, so the tokenizer can
 * be swapped (sax, or a faster hand-written one) without touching anything else.
 */

export type Attributes = Readonly<Record<string, string>>;

/** Receives elements as they stream past. Attribute values are already entity-decoded. */
export interface XmlSink {
  openTag(name: string, attrs: Attributes): void;
  closeTag(name: string): void;
}

/** Fed latin1-decoded text chunk by chunk; throws XmlParseError on malformed input. */
export interface StreamingXmlParser {
  write(chunk: string): void;
  /** Declares end of input; throws if the document is incomplete. */
  end(): void;
}

export class XmlParseError extends Error {
  readonly code = 'GMETAD_XML_PARSE';
  constructor(message: string, readonly line: number, readonly column: number) {
    super(`${message} at line ${line}, column ${column}`);
    this.name = 'XmlParseError';
  }
}
