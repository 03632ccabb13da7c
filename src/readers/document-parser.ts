/**
 * The seam between the network side of a reader (connect, read, gunzip) and the parsing
 * side (tokenizer + SnapshotBuilder, in a parse worker or inline). The poller knows nothing
 * about XML; it pushes the document's raw bytes into a DocumentParser and asks for the
 * snapshot at end of input.
 */
import type { SourceSnapshot } from '../store/model';

/**
 * Consumes one document, chunk by chunk. One instance per connection attempt. `T` is what a
 * finished document is: a SourceSnapshot, or a SourceImage inside a parse worker.
 */
export interface DocumentParser<T = SourceSnapshot> {
  /**
   * Feeds the next chunk of the document (raw bytes; latin1, one char per byte), parsed
   * before it returns. Throws a DocumentError as soon as the input is known to be malformed.
   */
  write(chunk: Buffer): void;
  /** End of input: the finished snapshot, or a DocumentError (malformed, truncated). */
  finish(): Promise<T>;
  /** The poll is abandoned (failed, stopped): drop what the parser holds. */
  abort(): void;
}

/** The document is malformed or incomplete; `atEnd` when found only at end of input. */
export class DocumentError extends Error {
  readonly code = 'GMETAD_DOCUMENT';
  constructor(message: string, readonly atEnd: boolean) {
    super(message);
    this.name = 'DocumentError';
  }
}

/**
 * Creates a parser for one poll. `pollTime` is the poll's start in whole epoch seconds
 * (the C gmetad's time(0)), the reference point for the TN -> t0 conversion.
 */
export type DocumentParserFactory = (pollTime: number) => DocumentParser;

/**
 * A document crossed one of its source's limits (config/limits): the poll is aborted with
 * this message, which names the limit as written in gmetad.conf.
 */
export class LimitExceeded extends Error {
  readonly code = 'GMETAD_LIMIT';
  constructor(readonly limit: string, detail: string) {
    super(`${limit} exceeded: ${detail}`);
    this.name = 'LimitExceeded';
  }
}
