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
import { forEachSliced } from '../push/sliced';
import { postBatch } from '../push/http-post';
import { type PushCounters, PushQueue } from '../push/push-queue';
import { describeUrl } from '../push/push-settings';
import { type Environment, readInfluxSettings } from './influx-settings';
import { type InfluxLine, LineBuilder } from './line-protocol';

export const INFLUXDB_PLUGIN_NAME = 'influxdb';

const gzip = promisify(zlib.gzip);
/** Hosts turned into lines between two looks at the clock (about 2500 values). */
const HOSTS_PER_CHUNK = 25;

/** /status under plugins.influxdb: the queue's counters (values = fields), and values that were not numbers. */
export type InfluxdbStatus = PushCounters & { readonly invalid: number; readonly version: number };

export function createInfluxdbPlugin(context: PluginContext, env: Environment = process.env): GmetadPlugin {
  const settings = readInfluxSettings(context.settings, env);
  const { push } = settings;
  const logger = context.logger;
  const lines = new LineBuilder({ measurement: settings.measurement });
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'User-Agent': 'gmetad-ts', ...push.headers };
  if (settings.gzip) headers['Content-Encoding'] = 'gzip';
  const queue = new PushQueue<InfluxLine>({
    name: INFLUXDB_PLUGIN_NAME,
    capacity: push.maxQueuedValues,
    batchSize: push.batchSize,
    weight: (line) => line.values,
    logger,
    deliver: async (batch) => {
      const text = Buffer.from(`${batch.map((line) => line.text).join('\n')}\n`, 'utf8');
      const body = settings.gzip ? await gzip(text, { level: 1 }) : text;
      return postBatch({ url: push.url, headers, body, timeoutMs: push.timeoutMs });
    },
  });
  let invalid = 0;
  const sent = context.stats.sent(INFLUXDB_PLUGIN_NAME);
  logger.info({ url: describeUrl(push.url), version: settings.version, target: settings.target, measurement: settings.measurement },
    'influxdb: writing line protocol');

  return {
    name: INFLUXDB_PLUGIN_NAME,
    events: ['source', 'root'],
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source' && event.kind !== 'root') return;
      const started = performance.now();
      let count = 0;
      await forEachSliced(exportedValueChunks(event, HOSTS_PER_CHUNK), (values) => {
        invalid += values.invalid;
        const out = lines.lines(values, values.time);
        queue.enqueue(out);
        for (const line of out) count += line.values;
      });
      sent.num += count;
      sent.totalMillis += performance.now() - started;
      sent.lastTime = context.clock();
    },
    // flush() at SIGTERM; stop() also when SIGHUP replaces this instance: both deliver what is queued.
    flush: () => queue.flush(push.flushTimeoutMs),
    stop: () => queue.close(push.flushTimeoutMs),
    status: (): PluginStatus => ({ version: settings.version, ...queue.counters, invalid } satisfies InfluxdbStatus),
  };
}
