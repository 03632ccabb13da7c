/**
 * The seam between the network side of a reader (connect, read, gunzip) and the parsing
 * side (tokenizer + SnapshotBuilder). The poller knows nothing about XML; it only pushes
 * decoded text into a DocumentParser and asks for the snapshot at end of input.
 */
import type { SourceSnapshot } from '../store/model';

/** Consumes one document, chunk by chunk. One instance per connection attempt. */
export interface DocumentParser {
  /**
   * Feeds the next chunk, already decoded as latin1 (one char per byte). May throw
   * XmlParseError (with line/column) as soon as the input is malformed.
   */
  write(text: string): void;
  /** End of input: returns the finished snapshot, or throws XmlParseError if truncated. */
  finish(): SourceSnapshot;
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
