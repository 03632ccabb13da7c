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
 *
 * /status: metrics.sent.graphite counts lines the kernel accepted (totalMillis: time spent
 * building them); plugins.graphite adds the queue and connection counters.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { GmetadPlugin, PluginContext, PluginEvent } from '../api';
import { setting } from '../api';
import { BatchBuilder } from '../transport/batch-queue';
import { DatagramSender } from '../transport/datagram-sender';
import { StreamSender } from '../transport/stream-sender';
import { authoritativeClusters, carbonLinesForHost, lineTime, type LineCounts } from './carbon-lines';
import { CarbonNamer } from './carbon-names';

export const GRAPHITE_PLUGIN_NAME = 'graphite';

/** Socket writes of this size keep syscalls few without holding much memory. */
const TCP_BATCH_BYTES = 64 * 1024;
const UDP_DATAGRAM_BYTES = 1400;
const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
/** Lines built between yields to the event loop, so a 100k-metric poll never holds it long. */
const LINES_PER_SLICE = 20_000;

export interface GraphiteCounters {
  /** Values not sent because VAL was empty or held whitespace. */
  invalid: number;
}

export function positiveIntegerSetting(context: PluginContext, key: string): number | undefined {
  const text = setting(context.settings, key);
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text)) throw new Error(`${context.name} { ${key} }: expected a positive whole number, got "${text}"`);
  return Number(text);
}

export function createGraphitePlugin(context: PluginContext): GmetadPlugin & { status(): object } {
  const { carbon, caseSensitiveHostnames } = context.config;
  if (carbon.server === null) throw new Error('carbon_server is not set');
  const namer = new CarbonNamer({ prefix: carbon.graphitePrefix, path: carbon.graphitePath, caseSensitiveHostnames });
  const maxQueueBytes = positiveIntegerSetting(context, 'queue_bytes') ?? DEFAULT_QUEUE_BYTES;
  const sent = context.stats.sent(GRAPHITE_PLUGIN_NAME);
  const onSent = (items: number) => {
    sent.num += items;
    sent.lastTime = context.clock();
  };
  const logger = context.logger;
  const sender = carbon.protocol === 'udp'
    ? new DatagramSender({ host: carbon.server, port: carbon.port, maxQueueBytes, logger, onSent })
    : new StreamSender({
      host: carbon.server, port: carbon.port, connectTimeoutMs: carbon.timeoutMs, maxQueueBytes, logger, onSent,
    });
  const batchBytes = carbon.protocol === 'udp' ? UDP_DATAGRAM_BYTES : TCP_BATCH_BYTES;
  const counts: LineCounts = { lines: 0, invalid: 0 };
  logger.info({ carbon: `${carbon.server}:${carbon.port}`, protocol: carbon.protocol }, 'sending host metrics to Graphite');

  return {
    name: GRAPHITE_PLUGIN_NAME,
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source') return; // C sends no summaries
      const builder = new BatchBuilder(batchBytes, (batch) => sender.send(batch));
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
    flush: () => sender.flush(),
    stop: () => sender.close(),
    status: () => ({ ...sender.counters, invalid: counts.invalid }),
  };
}
