/** Options shared by the XML and interactive ports. */
import type { RecordableHistogram } from 'node:perf_hooks';
import type { TreeView } from '../store/store';
import type { Clock } from '../util/clock';
import type { DaemonStats } from '../util/stats';
import type { AccessPolicy } from './access';
import type { SharedDumpCache } from './shared-dump-cache';
import type { StructuredLogger } from '../util/logging';

export interface PortLimits {
  /** How long a client may take to send its request line (interactive port). */
  readonly requestLineMs: number;
  /** How long a reply may stay blocked on a client that does not read. */
  readonly idleWriteMs: number;
}

export const DEFAULT_LIMITS: PortLimits = { requestLineMs: 10_000, idleWriteMs: 60_000 };

export interface PortOptions {
  /** 0 picks a free port (see the returned `port`). */
  readonly port: number;
  /** Bind address; default all interfaces ('::', or '0.0.0.0' without IPv6). */
  readonly host?: string;
  /** The current tree; called once per request, the reply then uses that view only. */
  readonly getView: () => TreeView;
  readonly access: AccessPolicy;
  readonly stats: DaemonStats;
  readonly logger: StructuredLogger;
  /** Event-loop delay histogram shown by /status (interactive port). */
  readonly eventLoop?: RecordableHistogram;
  /** Called as each connection is accepted: work arrives (the event-loop sampler wakes, util/loop-delay). */
  readonly onConnection?: () => void;
  /** `authority` set in gmetad.conf: /status then reports "host":"" like 3.7.2. */
  readonly authorityConfigured?: boolean;
  readonly limits?: Partial<PortLimits>;
  /** The wall clock replies are rendered at (TN, LOCALTIME, DMAX expiry, /status); default the system's. */
  readonly clock?: Clock;
  /** Pass the same cache to both ports to share full dumps between them. */
  readonly dumpCache?: SharedDumpCache;
}

export interface RunningPort {
  readonly port: number;
  /** Stops listening and destroys open connections. */
  close(): Promise<void>;
}

export function limitsOf(options: PortOptions): PortLimits {
  return { ...DEFAULT_LIMITS, ...options.limits };
}
