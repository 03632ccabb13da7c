/** Wires a tokenizer to a SnapshotBuilder: the parsing of one polled Ganglia document. */
import type { SourceImage } from '../store/image/format';
import { ImageWriter, type ImageSizes } from '../store/image/encode';
import type { SourceSnapshot } from '../store/model';
import type { SummaryPolicy } from '../store/summary';
import type { DaemonStats } from '../util/stats';
import { DocumentError, LimitExceeded, type DocumentParser, type DocumentParserFactory } from './document-parser';
import { createXmlParser, type ParserKind } from './xml/parser-factory';
import { Interner } from './intern';
import { SnapshotBuilder } from './snapshot-builder';
import { ObjectTreeWriter, type TreeWriter } from './tree-writer';

export interface GangliaDocumentOptions {
  readonly source: string;
  readonly scalable: boolean;
  readonly policy: SummaryPolicy;
  /** The tokenizer; tests compare 'sax' with the default 'fast'. */
  readonly parser?: ParserKind;
  /** More HOST elements kept than this aborts the document (limits max_hosts). */
  readonly maxHosts?: number;
  /** More METRIC elements kept than this aborts the document (limits max_metrics). */
  readonly maxMetrics?: number;
}

/** One document, parsed synchronously on the calling thread (a parse worker, or a test). */
export interface GangliaDocument<Result = SourceSnapshot> {
  /** Throws XmlParseError/SnapshotError on malformed input. */
  write(text: string): void;
  finish(): Result;
  /** METRIC elements seen, kept or not (for /status metrics.received). */
  readonly metricsReceived: number;
}

/** Makes the documents of one source as object trees (tests, inline parsing); shares one interner across its polls. */
export function gangliaDocuments(options: GangliaDocumentOptions): (pollTime: number) => GangliaDocument<SourceSnapshot> {
  return documentsOf(options, (interner, pollTime) => new ObjectTreeWriter(interner, Math.floor(pollTime)));
}

/** Makes the documents of one source as SourceImages written while parsing (the parse workers). */
export function gangliaImageDocuments(options: GangliaDocumentOptions): (pollTime: number) => GangliaDocument<SourceImage> {
  let last: ImageSizes | undefined;
  return documentsOf(options, () => new ImageWriter(last), (image) => {
    last = ImageWriter.sizesOf(image);
  });
}

function documentsOf<Result>(
  options: GangliaDocumentOptions, writerFor: (interner: Interner, pollTime: number) => TreeWriter<Result>,
  finished: (result: Result) => void = () => undefined,
): (pollTime: number) => GangliaDocument<Result> {
  // One interner per source for its whole life: the next poll shares strings with the last.
  const interner = new Interner();
  return (pollTime: number): GangliaDocument<Result> => {
    const builder = new SnapshotBuilder<Result>({
      source: options.source, pollTime, scalable: options.scalable, policy: options.policy, interner,
      maxHosts: options.maxHosts, maxMetrics: options.maxMetrics, writer: writerFor(interner, pollTime),
    });
    const parser = createXmlParser(builder, options.parser ?? 'fast');
    const bom = new ByteOrderMark();
    return {
      write: (text: string) => {
        const rest = bom.strip(text);
        if (rest.length > 0) parser.write(rest);
      },
      finish: () => {
        const rest = bom.flush();
        if (rest.length > 0) parser.write(rest);
        parser.end();
        const result = builder.finish();
        finished(result);
        return result;
      },
      get metricsReceived() {
        return builder.metricsReceived;
      },
    };
  };
}

/** The UTF-8 byte-order mark as latin1 chars. */
const UTF8_BOM = '\u00ef\u00bb\u00bf';

/**
 * Drops a UTF-8 byte-order mark at the very start of a document, as expat (and so the C
 * gmetad) accepts it; chunks may split it.
 */
class ByteOrderMark {
  private head: string | null = '';

  strip(text: string): string {
    if (this.head === null) return text;
    const start = this.head + text;
    if (start.length < UTF8_BOM.length && UTF8_BOM.startsWith(start)) {
      this.head = start;
      return '';
    }
    this.head = null;
    return start.startsWith(UTF8_BOM) ? start.slice(UTF8_BOM.length) : start;
  }

  /** End of input: whatever was held back is text after all. */
  flush(): string {
    const rest = this.head ?? '';
    this.head = null;
    return rest;
  }
}

/** A DocumentParser over one GangliaDocument, parsed on the calling thread; counts what it was given. */
export class SyncDocumentParser<T> implements DocumentParser<T> {
  /** Bytes written so far. */
  written = 0;

  constructor(readonly document: GangliaDocument<T>, private readonly onFinished: (document: GangliaDocument<T>) => void = () => undefined) {}

  write(chunk: Buffer): void {
    this.written += chunk.length;
    try {
      this.document.write(chunk.toString('latin1'));
    } catch (err) {
      throw err instanceof LimitExceeded ? err : new DocumentError((err as Error).message, false);
    }
  }

  async finish(): Promise<T> {
    let result: T;
    try {
      result = this.document.finish();
    } catch (err) {
      throw err instanceof LimitExceeded ? err : new DocumentError((err as Error).message, true);
    }
    this.onFinished(this.document);
    return result;
  }

  abort(): void {
    // Nothing held but the document, which the caller drops.
  }
}

/** Parsers that parse on the calling thread (tests, tools; the daemon parses in the pool). */
export function inlineDocumentFactory(options: GangliaDocumentOptions & { readonly stats?: DaemonStats }): DocumentParserFactory {
  const documents = gangliaDocuments(options);
  const count = (document: GangliaDocument<SourceSnapshot>): void => {
    if (options.stats) options.stats.metricsReceived += document.metricsReceived;
  };
  return (pollTime: number): DocumentParser => new SyncDocumentParser(documents(pollTime), count);
}
