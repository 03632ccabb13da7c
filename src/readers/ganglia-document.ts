/** Wires a tokenizer to a SnapshotBuilder: the DocumentParser each poll feeds. */
import type { SummaryPolicy } from '../store/summary';
import type { DaemonStats } from '../util/stats';
import type { DocumentParser, DocumentParserFactory } from './document';
import { createXmlParser, type ParserKind } from './parser-factory';
import { SnapshotBuilder } from './snapshot-builder';

export interface GangliaDocumentOptions {
  readonly source: string;
  readonly scalable: boolean;
  readonly policy: SummaryPolicy;
  readonly stats: DaemonStats;
  readonly parser?: ParserKind;
}

export function gangliaDocumentFactory(options: GangliaDocumentOptions): DocumentParserFactory {
  return (pollTime: number): DocumentParser => {
    const builder = new SnapshotBuilder({
      source: options.source, pollTime, scalable: options.scalable, policy: options.policy,
    });
    const parser = createXmlParser(builder, options.parser ?? 'fast');
    return {
      write: (text: string) => parser.write(text),
      finish: () => {
        parser.end();
        const snapshot = builder.finish();
        options.stats.metricsReceived += builder.metricsReceived;
        return snapshot;
      },
    };
  };
}
