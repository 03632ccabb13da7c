/** Wires a tokenizer to a SnapshotBuilder: the DocumentParser each poll feeds. */
import type { SummaryPolicy } from '../store/summary';
import type { DaemonStats } from '../util/stats';
import type { DocumentParser, DocumentParserFactory } from './document';
import { createXmlParser, type ParserKind } from './parser-factory';
import { Interner } from './intern';
import { SnapshotBuilder } from './snapshot-builder';

export interface GangliaDocumentOptions {
  readonly source: string;
  readonly scalable: boolean;
  readonly policy: SummaryPolicy;
  readonly stats: DaemonStats;
  readonly parser?: ParserKind;
  /** More HOST elements kept than this aborts the document (limits max_hosts). */
  readonly maxHosts?: number;
}

export function gangliaDocumentFactory(options: GangliaDocumentOptions): DocumentParserFactory {
  // One interner per source for its whole life: the next poll shares strings with the live tree.
  const interner = new Interner();
  return (pollTime: number): DocumentParser => {
    const builder = new SnapshotBuilder({
      source: options.source, pollTime, scalable: options.scalable, policy: options.policy, interner,
      maxHosts: options.maxHosts,
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
        const snapshot = builder.finish();
        options.stats.metricsReceived += builder.metricsReceived;
        return snapshot;
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
