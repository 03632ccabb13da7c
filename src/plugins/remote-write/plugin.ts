/**
 * The built-in Prometheus remote-write exporter, on when gmetad.conf has a `remote_write`
 * section. It pushes every value the RRD plugin would write (host metrics, cluster and grid
 * summaries, the root summary) to any remote-write receiver: Prometheus with
 * `--web.enable-remote-write-receiver`, VictoriaMetrics, Thanos Receive, Mimir, Cortex.
 *
 *   remote_write {
 *     url "http://prometheus:9090/api/v1/write"   # required
 *     label "datacenter" "ams1"                   # a constant label on every series (repeatable)
 *     prefix "ganglia_"                           # as prometheus { prefix }
 *     # and the push settings of ../push/push-settings: auth, header, timeout, batch_size
 *     # (default 5000 samples), max_queued_values (default 500000), flush_timeout
 *   }
 *
 * Names, units and labels: those of the /metrics endpoint (./family-names, ./series). Queueing, batching, retries and
 * drops: ../push/push-queue.
 */
import type { GmetadPlugin, PluginContext, PluginEvent, PluginSettings, PluginStatus } from '../api';
import { exportedValueChunks } from '../push/exported-values';
import { forEachSliced } from '../push/sliced';
import { postBatch } from '../push/http-post';
import { type PushCounters, PushQueue } from '../push/push-queue';
import { describeUrl, occurrences, parseHttpUrl, readPushSettings } from '../push/push-settings';
import { FamilyNames } from './family-names';
import { SeriesBuilder, SeriesTimestamps } from './series';
import { type Label, type RemoteSample, REMOTE_WRITE_HEADERS, writeRequestBody, writeRequestMessage } from './write-request';

export const REMOTE_WRITE_PLUGIN_NAME = 'remote_write';

const DEFAULT_BATCH_SIZE = 5000;
/** Five polls of a 1000-host × 100-metric cluster; ~60 bytes each while queued. */
const DEFAULT_MAX_QUEUED = 500_000;
/** Hosts turned into samples between two looks at the clock (about 2500 values). */
const HOSTS_PER_CHUNK = 25;
const RESERVED_LABELS = new Set(['grid', 'cluster', 'host', 'metric', 'state']);

/** /status under plugins.remote_write: the queue's counters, and values that were not numbers. */
export type RemoteWriteStatus = PushCounters & { readonly invalid: number };

function constantLabels(settings: PluginSettings): Label[] {
  const labels: Label[] = [];
  for (const values of occurrences(settings, 'label')) {
    if (values.length !== 2) throw settings.error('label', 'expected a label name and a value: label "datacenter" "ams1"');
    const [name, value] = values;
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith('__')) {
      throw settings.error('label', `"${name}" is not a label name of its own ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)`);
    }
    if (RESERVED_LABELS.has(name)) throw settings.error('label', `"${name}" is set by the exporter`);
    labels.push({ name, value });
  }
  return labels;
}

export function createRemoteWritePlugin(context: PluginContext): GmetadPlugin {
  const url = parseHttpUrl(context.settings, 'url', context.settings.string('url'), 'http://prometheus:9090/api/v1/write');
  const settings = readPushSettings(context.settings, url, {
    batchSize: DEFAULT_BATCH_SIZE, maxQueuedValues: DEFAULT_MAX_QUEUED,
  });
  const logger = context.logger;
  const prefix = context.settings.string('prefix', { default: 'ganglia_' });
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) throw context.settings.error('prefix', `not the start of a metric name: "${prefix}"`);
  const names = new FamilyNames(prefix, (ganglia, from, to) => {
    logger.warn({ metric: ganglia, from, to }, 'remote_write: a cleaner Ganglia metric took this family name; renamed');
  });
  const series = new SeriesBuilder(names, prefix, constantLabels(context.settings));
  const timestamps = new SeriesTimestamps();
  const message = writeRequestMessage();
  const headers = { ...REMOTE_WRITE_HEADERS, ...settings.headers };
  const queue = new PushQueue<RemoteSample>({
    name: REMOTE_WRITE_PLUGIN_NAME,
    capacity: settings.maxQueuedValues,
    batchSize: settings.batchSize,
    weight: () => 1,
    logger,
    deliver: (batch) => postBatch({ url: settings.url, headers, body: writeRequestBody(batch, message), timeoutMs: settings.timeoutMs }),
  });
  let invalid = 0;
  const sent = context.stats.sent(REMOTE_WRITE_PLUGIN_NAME);
  logger.info({ url: describeUrl(settings.url), batch_size: settings.batchSize, max_queued_values: settings.maxQueuedValues },
    'remote_write: pushing samples');

  return {
    name: REMOTE_WRITE_PLUGIN_NAME,
    events: ['source', 'root'],
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source' && event.kind !== 'root') return;
      const started = performance.now();
      let timestamp: number | null = null;
      let count = 0;
      await forEachSliced(exportedValueChunks(event, HOSTS_PER_CHUNK), (values) => {
        timestamp ??= timestamps.next(values.source, values.time);
        invalid += values.invalid;
        const samples = series.samples(values, timestamp);
        queue.enqueue(samples);
        count += samples.length;
      });
      sent.num += count;
      sent.totalMillis += performance.now() - started;
      sent.lastTime = context.clock();
    },
    // flush() at SIGTERM; stop() also when SIGHUP replaces this instance: both deliver what is queued.
    flush: () => queue.flush(settings.flushTimeoutMs),
    stop: () => queue.close(settings.flushTimeoutMs),
    status: (): PluginStatus => ({ ...queue.counters, invalid } satisfies RemoteWriteStatus),
  };
}
