/** Messages between the parse pool (main thread) and its workers. */
import type { SourceImage } from '../store/image/format';
import type { SummaryPolicyOptions } from '../store/summary';
import type { AttemptResult, FetchRequest } from './fetch-document';

/** The name a parse worker gives its thread (`top -H`, the benchmarks). */
export const PARSE_THREAD_NAME = 'gmetad-parse';

/** What a worker is started with. */
export interface ParseWorkerData {
  /** The nice value the worker gives its thread: the process's, not the port thread's (util/thread-priority). */
  readonly baseNice: number;
}

/** How a source's documents are read; sent with every poll (small), so reloads just work. */
export interface SourceSettings {
  readonly scalable: boolean;
  readonly summary: SummaryPolicyOptions;
  /** limits max_hosts (config/limits). */
  readonly maxHosts?: number;
  /** limits max_metrics. */
  readonly maxMetrics?: number;
}

export type ToWorker =
  /** One attempt at one address: the worker connects, reads, parses and answers 'done'. */
  | { readonly type: 'fetch'; readonly id: number; readonly source: string; readonly settings: SourceSettings; readonly request: FetchRequest }
  /** stop() or the poll's deadline: the worker ends the attempt and answers 'done' (aborted). */
  | { readonly type: 'abort'; readonly id: number; readonly reason: string; readonly stopped: boolean }
  /** The source was removed (SIGHUP): drop its interner. */
  | { readonly type: 'forget'; readonly source: string };

export type FromWorker =
  /** The attempt's TCP connection is up (the poller's status goes from connecting to reading). */
  | { readonly type: 'connected'; readonly id: number }
  /**
   * The attempt is over. An 'ok' result's image buffers are transferred with the message.
   * `documentBytes`: bytes given to the parser (after gunzip), to decide whether a failed
   * attempt left the worker large enough to replace.
   */
  | {
      readonly type: 'done';
      readonly id: number;
      readonly result: AttemptResult<SourceImage>;
      readonly documentBytes: number;
      readonly metricsReceived: number;
    };
