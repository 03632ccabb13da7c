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
}

export function gangliaDocumentFactory(options: GangliaDocumentOptions): DocumentParserFactory {
  // One interner per source for its whole life: the next poll shares strings with the live tree.
  const interner = new Interner();
  return (pollTime: number): DocumentParser => {
    const builder = new SnapshotBuilder({
      source: options.source, pollTime, scalable: options.scalable, policy: options.policy, interner,
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
