/**
 * The built-in InfluxDB exporter: line protocol to InfluxDB 1.x (`/write?db=`) or to the v2
 * API (`/api/v2/write?org=&bucket=`, InfluxDB 2/3 and servers that speak it, such as
 * VictoriaMetrics). On with an `influxdb { }` section, or with no section when INFLUXDB_URL
 * is set (see ./influx-settings).
 *
 * One measurement (`ganglia`) with a field per metric, tags grid, cluster, host, one line
 * per host per poll; summaries in `ganglia_summary` (fields `<metric>_sum`, `<metric>_num`,
 * `hosts_up`, `hosts_down`; tags grid and cluster). Why not a measurement per metric: a
 * series is a measurement plus its tags, so that would make one series per host and metric
 * (100k for 1000 hosts × 100 metrics) where this makes one per host (1000) — the size that
 * InfluxDB's index and memory grow with — and it writes the tags once per host instead of
 * once per value (about a third of the bytes). It is also how Telegraf lays out its own
 * inputs (`cpu` with usage_user, usage_system...), so dashboards read it the usual way:
 * `SELECT load_one FROM ganglia WHERE host = 'node-1'`.
 *
 * Requests are gzipped (level 1: most of the gain for little CPU) off the event loop;
 * batching, retries (honouring Retry-After), the bounded queue and drops: ../push/push-queue.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginStatus } from '../api';
import { exportedValueChunks } from '../push/exported-values';
import { ForwardTimestamps } from '../push/forward-timestamps';
import { forEachSliced } from '../push/sliced';
import { postBatch } from '../push/http-post';
import { newPushCounters, type PushCounters, PushQueue } from '../push/push-queue';
import { RetiringQueues, sameDelivery } from '../push/retiring';
import { describeUrl } from '../push/push-settings';
import { type Environment, type InfluxSettings, readInfluxSettings } from './influx-settings';
import { type InfluxLine, LineBuilder } from './line-protocol';

export const INFLUXDB_PLUGIN_NAME = 'influxdb';

const gzip = promisify(zlib.gzip);
/** Hosts turned into lines between two looks at the clock (about 2500 values). */
const HOSTS_PER_CHUNK = 25;

/** /status under plugins.influxdb: the queue's counters (values = fields), and values that were not numbers. */
export type InfluxdbStatus = PushCounters & { readonly invalid: number; readonly version: number };

export function createInfluxdbPlugin(context: PluginContext, env: Environment = process.env): GmetadPlugin {
  let settings = readInfluxSettings(context.settings, env);
  const logger = context.logger;
  const counters = newPushCounters();
  const retiring = new RetiringQueues();
  let lines = new LineBuilder({ measurement: settings.measurement });
  const newQueue = (target: InfluxSettings): PushQueue<InfluxLine> => {
    const { push } = target;
    const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'User-Agent': 'gmetad-ts', ...push.headers };
    if (target.gzip) headers['Content-Encoding'] = 'gzip';
    logger.info({ url: describeUrl(push.url), version: target.version, target: target.target, measurement: target.measurement },
      'influxdb: writing line protocol');
    return new PushQueue<InfluxLine>({
      name: INFLUXDB_PLUGIN_NAME,
      capacity: push.maxQueuedValues,
      batchSize: push.batchSize,
      weight: (line) => line.values,
      logger,
      counters,
      deliver: async (batch) => {
        const text = Buffer.from(`${batch.map((line) => line.text).join('\n')}\n`, 'utf8');
        const body = target.gzip ? await gzip(text, { level: 1 }) : text;
        return postBatch({ url: push.url, headers, body, timeoutMs: push.timeoutMs });
      },
    });
  };
  let queue = newQueue(settings);
  let invalid = 0;
  const timestamps = new ForwardTimestamps();
  const sent = context.stats.sent(INFLUXDB_PLUGIN_NAME);

  return {
    name: INFLUXDB_PLUGIN_NAME,
    events: ['source', 'root'],
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source' && event.kind !== 'root') return;
      const started = performance.now();
      let timestampMs: number | null = null;
      let count = 0;
      await forEachSliced(exportedValueChunks(event, HOSTS_PER_CHUNK), (values) => {
        timestampMs ??= timestamps.next(values.source, values.time);
        invalid += values.invalid;
        const out = lines.lines(values, timestampMs);
        queue.enqueue(out);
        for (const line of out) count += line.values;
      });
      sent.num += count;
      sent.totalMillis += performance.now() - started;
      sent.lastTime = context.clock();
    },
    /** SIGHUP: a new target or delivery gets a new queue; the old one empties into the old target. */
    reload(next: PluginContext): void {
      const nextSettings = readInfluxSettings(next.settings, env);
      if (nextSettings.measurement !== settings.measurement) lines = new LineBuilder({ measurement: nextSettings.measurement });
      if (!sameDelivery(settings.push, nextSettings.push) || nextSettings.gzip !== settings.gzip) {
        retiring.retire(queue, settings.push.flushTimeoutMs);
        queue = newQueue(nextSettings);
      }
      settings = nextSettings;
    },
    // flush() at SIGTERM delivers what is queued; stop() closes.
    flush: async () => {
      await queue.flush(settings.push.flushTimeoutMs);
      await retiring.settled();
    },
    stop: async () => {
      await queue.close(settings.push.flushTimeoutMs);
      await retiring.settled();
    },
    status: (): PluginStatus => ({ version: settings.version, ...counters, invalid } satisfies InfluxdbStatus),
  };
}
