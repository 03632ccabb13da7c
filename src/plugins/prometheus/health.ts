/**
 * The daemon's own health as Prometheus families (`gmetad_*`): polls, failures and their
 * durations, each data source's state, metrics received and handed to writers, requests
 * served, each plugin's deliveries and drops, and each plugin's own numeric status counters
 * (the RRD writer's values, creates, errors, drops; rrdcached's...). With `process` on, the
 * usual process_* figures too (off in the textfile, where node_exporter has its own).
 */
import type { TreeView } from '../../store/store';
import type { DaemonStats, TimedCounter } from '../../util/stats';
import { family, labels, sample, type Family } from './families';

export interface HealthOptions {
  readonly process: boolean;
  /** Epoch ms of the daemon's start. */
  readonly bootTimeMs: number;
}

function timedPair(prefix: string, help: string, label: string, counters: readonly (readonly [string, TimedCounter])[]): Family[] {
  const num = family(`${prefix}_total`, `${help}, count.`, 'counter');
  const seconds = family(`${prefix}_duration_seconds_total`, `${help}, total time spent.`, 'counter');
  for (const [value, c] of counters) {
    const l = labels([[label, value]]);
    sample(num, l, c.num);
    sample(seconds, l, c.totalMillis / 1000);
  }
  return [num, seconds];
}

export function healthFamilies(view: TreeView, stats: DaemonStats, options: HealthOptions): Family[] {
  const out: Family[] = [];
  out.push(...timedPair('gmetad_polls', 'Polls of data sources by result', 'result',
    [['ok', stats.polls.ok], ['failed', stats.polls.failed]]));
  const misses = family('gmetad_poll_misses_total', 'Polls that started more than one step late.', 'counter');
  sample(misses, '', stats.polls.misses);
  out.push(misses);

  const up = family('gmetad_source_up', 'Whether the last poll of the data source succeeded (1) or failed (0).');
  const lastSuccess = family('gmetad_source_last_success_timestamp_seconds', 'When the data source last answered (0: never).');
  const failures = family('gmetad_source_consecutive_failures', 'Failed polls of the data source since it last answered.');
  for (const s of view.sources) {
    const l = labels([['source', s.config.name]]);
    sample(up, l, s.dead ? 0 : 1);
    sample(lastSuccess, l, s.lastSuccess);
    sample(failures, l, s.consecutiveFailures);
  }
  out.push(up, lastSuccess, failures);

  const received = family('gmetad_metrics_received_total', 'Metric values parsed from data sources.', 'counter');
  sample(received, '', stats.metricsReceived);
  out.push(received);
  out.push(...timedPair('gmetad_metrics_sent', 'Metric values handed to each writer', 'writer', [...stats.metricsSent]));
  out.push(...timedPair('gmetad_requests', 'Requests served on each port', 'port',
    [['xml', stats.requests.xml], ['interactive', stats.requests.interactive]]));

  const notified = family('gmetad_plugin_events_total', 'Events delivered to each plugin.', 'counter');
  const dropped = family('gmetad_plugin_dropped_events_total', 'Events a plugin lost because its queue was full.', 'counter');
  const errors = family('gmetad_plugin_errors_total', 'Events whose delivery failed or ran past the deadline.', 'counter');
  const queued = family('gmetad_plugin_queued_events', 'Events waiting in the plugin\'s queue.');
  const capacity = family('gmetad_plugin_queue_size', 'Size of the plugin\'s queue (queue_size).');
  const own = family('gmetad_plugin_status', 'Numeric counters a plugin reports about itself (as in /status), by name.');
  for (const [name, p] of stats.plugins) {
    const l = labels([['plugin', name]]);
    sample(notified, l, p.notified);
    sample(dropped, l, p.dropped);
    sample(errors, l, p.errors);
    sample(queued, l, p.queued);
    sample(capacity, l, p.capacity);
    let status: Readonly<Record<string, number | string>> = {};
    try {
      status = p.status?.() ?? {};
    } catch {
      // A failing status() shows in /status; here the plugin just has no counters.
    }
    for (const [key, value] of Object.entries(status)) {
      if (typeof value === 'number') sample(own, labels([['plugin', name], ['name', key]]), value);
    }
  }
  out.push(notified, dropped, errors, queued, capacity, own);

  if (options.process) {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const cpuSeconds = family('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter');
    sample(cpuSeconds, '', (cpu.user + cpu.system) / 1e6);
    const rss = family('process_resident_memory_bytes', 'Resident memory size in bytes.');
    sample(rss, '', mem.rss);
    const heap = family('nodejs_heap_size_used_bytes', 'V8 heap in use, bytes.');
    sample(heap, '', mem.heapUsed);
    const start = family('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
    sample(start, '', Math.floor(options.bootTimeMs / 1000));
    out.push(cpuSeconds, rss, heap, start);
  }
  return out;
}
