/**
 * The built-in Graphite plugin: on when `carbon_server` is set, as in the C gmetad. Sends
 * the lines of carbon-lines.ts over one persistent TCP connection (`carbon_protocol tcp`,
 * the default) or in UDP datagrams of whole lines up to 1,400 bytes (`udp`: under the
 * 1,500-byte Ethernet MTU, so no IP fragmentation), to `carbon_server`:`carbon_port`.
 * `carbon_timeout` (ms) bounds each connect, as it bounds the C gmetad's.
 *
 * Its `graphite { ... }` section may set:
 *   queue_bytes N   bound of the send queue (default 67108864 = 64 MiB, ten 1000x100 polls);
 *                   when full the oldest lines are dropped and counted
 * and, like every plugin, queue_size and deadline.
 *
 * SIGHUP: new names (graphite_prefix, graphite_path, case_sensitive_hostnames) apply from
 * the next poll; a new receiver, protocol, timeout or queue bound gets a new sender, and
 * the old one delivers what it holds in the background before closing.
 *
 * /status: metrics.sent.graphite counts lines the kernel accepted (totalMillis: time spent
 * building them); plugins.graphite adds the queue and connection counters.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { GmetadConfig } from '../../config/types';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginStatus } from '../api';
import { BatchBuilder } from '../transport/batch-queue';
import { DatagramSender } from '../transport/datagram-sender';
import { StreamSender } from '../transport/stream-sender';
import { authoritativeClusters } from '../authoritative-clusters';
import { carbonLinesForHost, lineTime, type LineCounts } from './carbon-lines';
import { CarbonNamer } from './carbon-names';

export const GRAPHITE_PLUGIN_NAME = 'graphite';

/** Socket writes of this size keep syscalls few without holding much memory. */
const TCP_BATCH_BYTES = 64 * 1024;
const UDP_DATAGRAM_BYTES = 1400;
const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
/** Lines built between yields to the event loop, so a 100k-metric poll never holds it long. */
const LINES_PER_SLICE = 20_000;

type Sender = StreamSender | DatagramSender;

interface SenderSettings {
  readonly server: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  readonly timeoutMs: number;
  readonly maxQueueBytes: number;
}

function senderSettings(config: GmetadConfig, context: PluginContext): SenderSettings {
  const { carbon } = config;
  if (carbon.server === null) throw context.settings.error(null, 'carbon_server is not set');
  return {
    server: carbon.server,
    port: carbon.port,
    protocol: carbon.protocol,
    timeoutMs: carbon.timeoutMs,
    maxQueueBytes: context.settings.integer('queue_bytes', { min: 1, default: DEFAULT_QUEUE_BYTES }),
  };
}

function namerFor(config: GmetadConfig): CarbonNamer {
  return new CarbonNamer({
    prefix: config.carbon.graphitePrefix, path: config.carbon.graphitePath, caseSensitiveHostnames: config.caseSensitiveHostnames,
  });
}

export function createGraphitePlugin(context: PluginContext): GmetadPlugin {
  const sent = context.stats.sent(GRAPHITE_PLUGIN_NAME);
  const logger = context.logger;
  let clock = context.clock;
  const onSent = (items: number) => {
    sent.num += items;
    sent.lastTime = clock();
  };
  const makeSender = (s: SenderSettings): Sender => {
    logger.info({ carbon: `${s.server}:${s.port}`, protocol: s.protocol }, 'sending host metrics to Graphite');
    return s.protocol === 'udp'
      ? new DatagramSender({ host: s.server, port: s.port, maxQueueBytes: s.maxQueueBytes, logger, onSent })
      : new StreamSender({ host: s.server, port: s.port, connectTimeoutMs: s.timeoutMs, maxQueueBytes: s.maxQueueBytes, logger, onSent });
  };

  let settings = senderSettings(context.config, context);
  let namer = namerFor(context.config);
  let sender = makeSender(settings);
  /** Senders replaced by a reload, still delivering what they held. */
  const retiring = new Set<Promise<void>>();
  const counts: LineCounts = { lines: 0, invalid: 0 };

  return {
    name: GRAPHITE_PLUGIN_NAME,
    events: ['source'], // C sends no summaries
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source') return;
      const target = sender;
      const batchBytes = settings.protocol === 'udp' ? UDP_DATAGRAM_BYTES : TCP_BATCH_BYTES;
      const builder = new BatchBuilder(batchBytes, (batch) => target.send(batch));
      let sliceStart = counts.lines;
      let started = performance.now();
      for (const cluster of authoritativeClusters(event.snapshot.nodes)) {
        const time = lineTime(cluster, event.snapshot.polledAt);
        for (const host of cluster.hosts.values()) {
          carbonLinesForHost(cluster, host, time, namer, builder, counts);
          if (counts.lines - sliceStart >= LINES_PER_SLICE) {
            builder.finish();
            sent.totalMillis += performance.now() - started;
            await yieldToLoop();
            sliceStart = counts.lines;
            started = performance.now();
          }
        }
      }
      builder.finish();
      sent.totalMillis += performance.now() - started;
    },
    reload(next: PluginContext): void {
      const nextSettings = senderSettings(next.config, next);
      namer = namerFor(next.config);
      clock = next.clock;
      if (JSON.stringify(nextSettings) === JSON.stringify(settings)) return;
      const old = sender;
      settings = nextSettings;
      sender = makeSender(settings);
      const done = old.close().catch(() => undefined).finally(() => retiring.delete(done));
      retiring.add(done);
    },
    status(): PluginStatus {
      const c = sender.counters;
      return {
        receiver: `${settings.protocol}:${sender.address}`,
        lines: counts.lines,
        invalid: counts.invalid,
        sent: c.sent,
        dropped: c.dropped,
        queuedLines: c.queuedItems,
        queuedBytes: c.queuedBytes,
        ...('connects' in c ? { connected: c.connected ? 1 : 0, connects: c.connects, connectFailures: c.connectFailures, disconnects: c.disconnects } : {}),
        ...('sendErrors' in c ? { sendErrors: c.sendErrors } : {}),
      };
    },
    async flush(): Promise<void> {
      await Promise.all([sender.flush(), ...retiring]);
    },
    async stop(): Promise<void> {
      await Promise.all([sender.close(), ...retiring]);
    },
  };
}
