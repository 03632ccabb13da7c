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
 *     # (default 2000 samples), max_queued_values (default 500000), flush_timeout
 *   }
 *
 * Names, units and labels: those of the /metrics endpoint (./family-names, ./series). Queueing, batching, retries and
 * drops: ../push/push-queue.
 */
import type { GmetadPlugin, PluginContext, PluginEvent, PluginSettings, PluginStatus } from '../api';
import { exportedValueChunks } from '../push/exported-values';
import { ForwardTimestamps } from '../push/forward-timestamps';
import { forEachSliced } from '../push/sliced';
import { postBatch } from '../push/http-post';
import { newPushCounters, type PushCounters, PushQueue } from '../push/push-queue';
import { RetiringQueues, sameDelivery } from '../push/retiring';
import { describeUrl, occurrences, parseHttpUrl, type PushSettings, readPushSettings } from '../push/push-settings';
import { FamilyNames } from './family-names';
import { SeriesBuilder } from './series';
import { type Label, type SampleGroup, REMOTE_WRITE_HEADERS, writeRequestBody, writeRequestMessage } from './write-request';

export const REMOTE_WRITE_PLUGIN_NAME = 'remote_write';

/** Samples per request, as Prometheus's own remote-write client sends them (max_samples_per_send): one batch encodes in a few ms. */
const DEFAULT_BATCH_SIZE = 2000;
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

interface RemoteWriteSetup {
  readonly push: PushSettings;
  readonly prefix: string;
  readonly labels: readonly Label[];
}

/** The section, checked (a bad value throws, naming file and line). */
function readSetup(context: PluginContext): RemoteWriteSetup {
  const { settings } = context;
  const url = parseHttpUrl(settings, 'url', settings.string('url'), 'http://prometheus:9090/api/v1/write');
  const push = readPushSettings(settings, url, { batchSize: DEFAULT_BATCH_SIZE, maxQueuedValues: DEFAULT_MAX_QUEUED });
  const prefix = settings.string('prefix', { default: 'ganglia_' });
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) throw settings.error('prefix', `not the start of a metric name: "${prefix}"`);
  return { push, prefix, labels: constantLabels(settings) };
}

export function createRemoteWritePlugin(context: PluginContext): GmetadPlugin {
  let setup = readSetup(context);
  const logger = context.logger;
  const message = writeRequestMessage();
  const counters = newPushCounters();
  const retiring = new RetiringQueues();
  const timestamps = new ForwardTimestamps();
  const onRename = (ganglia: string, from: string, to: string) => {
    logger.warn({ metric: ganglia, from, to }, 'remote_write: a cleaner Ganglia metric took this family name; renamed');
  };
  let series = new SeriesBuilder(new FamilyNames(setup.prefix, onRename), setup.prefix, setup.labels);
  const newQueue = (push: PushSettings): PushQueue<SampleGroup> => {
    const headers = { ...REMOTE_WRITE_HEADERS, ...push.headers };
    logger.info({ url: describeUrl(push.url), batch_size: push.batchSize, max_queued_values: push.maxQueuedValues },
      'remote_write: pushing samples');
    return new PushQueue<SampleGroup>({
      name: REMOTE_WRITE_PLUGIN_NAME,
      capacity: push.maxQueuedValues,
      batchSize: push.batchSize,
      weight: (group) => group.values.length,
      logger,
      counters,
      deliver: (batch) => postBatch({ url: push.url, headers, body: writeRequestBody(batch, message), timeoutMs: push.timeoutMs }),
    });
  };
  let queue = newQueue(setup.push);
  let invalid = 0;
  const sent = context.stats.sent(REMOTE_WRITE_PLUGIN_NAME);

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
        const groups = series.groups(values, timestamp);
        queue.enqueue(groups);
        for (const group of groups) count += group.values.length;
      });
      sent.num += count;
      sent.totalMillis += performance.now() - started;
      sent.lastTime = context.clock();
    },
    /** SIGHUP: names and timestamps carry on; a new target gets a new queue, the old one empties into the old target. */
    reload(next: PluginContext): void {
      const nextSetup = readSetup(next);
      if (nextSetup.prefix !== setup.prefix || JSON.stringify(nextSetup.labels) !== JSON.stringify(setup.labels)) {
        series = new SeriesBuilder(new FamilyNames(nextSetup.prefix, onRename), nextSetup.prefix, nextSetup.labels);
      }
      if (!sameDelivery(setup.push, nextSetup.push)) {
        retiring.retire(queue, setup.push.flushTimeoutMs);
        queue = newQueue(nextSetup.push);
      }
      setup = nextSetup;
    },
    // flush() at SIGTERM delivers what is queued; stop() closes.
    flush: async () => {
      await queue.flush(setup.push.flushTimeoutMs);
      await retiring.settled();
    },
    stop: async () => {
      await queue.close(setup.push.flushTimeoutMs);
      await retiring.settled();
    },
    status: (): PluginStatus => ({ ...counters, invalid } satisfies RemoteWriteStatus),
  };
}
