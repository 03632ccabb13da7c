/** Messages between the parse pool (main thread) and its workers. */
import type { SourceImage } from '../store/image/format';
import type { SummaryPolicyOptions } from '../store/summary';

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
  | { readonly type: 'begin'; readonly id: number; readonly source: string; readonly pollTime: number; readonly settings: SourceSettings }
  /** `bytes` is transferred: the worker owns it. */
  | { readonly type: 'chunk'; readonly id: number; readonly bytes: Uint8Array }
  | { readonly type: 'end'; readonly id: number }
  | { readonly type: 'abort'; readonly id: number }
  /** The source was removed (SIGHUP): drop its interner. */
  | { readonly type: 'forget'; readonly source: string };

/**
 * The worker acknowledges parsed bytes once this many have gathered (one message per 16
 * socket reads instead of one each). Below the pool's low-water mark, so a paused reader
 * is always resumed.
 */
export const ACK_EVERY_BYTES = 1024 * 1024;

export type FromWorker =
  /** Chunks were parsed: `bytes` fewer in flight. */
  | { readonly type: 'ack'; readonly id: number; readonly bytes: number }
  /** `limit`: the name of the source limit the document crossed (LimitExceeded). */
  | { readonly type: 'error'; readonly id: number; readonly message: string; readonly atEnd: boolean; readonly limit?: string }
  /** The image's buffers are transferred with the message. */
  | { readonly type: 'done'; readonly id: number; readonly image: SourceImage; readonly metricsReceived: number };
