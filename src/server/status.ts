/**
 * The `/status` reply: an HTTP/1.0 header (always, as in 3.7.2) and a JSON document with
 * the C gmetad's keys in its order and nesting. In 3.7.2 the "metrics" object is never
 * closed after "sent", so summarize, requests, polls and the local host metrics all live
 * inside "metrics"; we keep that layout so existing readers still find them. Our own
 * additions come after it, at the top level: "sources", "plugins", "eventLoop".
 */
import * as os from 'node:os';
import type { RecordableHistogram } from 'node:perf_hooks';
import type { TreeView } from '../store/store';
import { type Clock, systemClock } from '../util/clock';
import type { DaemonStats, PluginCounters, TimedCounter } from '../util/stats';
import { LocalMetricsSampler, type MetricGroup, type RawJson } from './local-metrics';

export const STATUS_HTTP_HEADER = 'HTTP/1.0 200 OK\r\nServer: gmetad/3.7.2-1\r\n'
  + 'Content-Type: application/json\r\nConnection: close\r\n\r\n';

/** The version /status reports; the C gmetad's, so that tools keyed on it keep working. */
export const STATUS_VERSION = '3.7.2-1';

/** Writers the C gmetad always lists, in its order. */
const C_WRITERS = ['rrdtool', 'rrdcached', 'graphite', 'memcached', 'riemann'] as const;

export interface StatusOptions {
  readonly stats: DaemonStats;
  /** Default time of a reply (stattime, uptime); the system clock if absent. */
  readonly clock?: Clock;
  /** When `authority` is configured, 3.7.2 reports "host":"" (its hostname is never read). */
  readonly authorityConfigured?: boolean;
  /** How late the loop's ticks ran beyond their schedule, ns (util/loop-delay). */
  readonly eventLoop?: RecordableHistogram;
  readonly hostname?: () => string;
  readonly sampler?: LocalMetricsSampler;
}

type Members = readonly (readonly [string, RawJson])[];

function obj(members: Members): RawJson {
  return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

const n = (x: number): RawJson => String(Number.isFinite(x) ? Math.round(x) : 0);
const ms = (x: number): RawJson => (Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : '0');

function timed(c: TimedCounter | undefined, withLast: boolean): RawJson {
  const members: [string, RawJson][] = [['num', n(c?.num ?? 0)], ['totalMillis', n(c?.totalMillis ?? 0)]];
  if (withLast) members.push(['lastTime', n(c?.lastTime ?? 0)]);
  return obj(members);
}

export class StatusReporter {
  private readonly sampler: LocalMetricsSampler;

  constructor(private readonly options: StatusOptions) {
    this.sampler = options.sampler ?? new LocalMetricsSampler();
  }

  /** The JSON document (JSONP-wrapped with a callback), ending in \r\n like 3.7.2. */
  body(view: TreeView, callback: string | null, nowMs = (this.options.clock ?? systemClock)()): string {
    const { stats } = this.options;
    const uptimeMs = nowMs - stats.bootTime;
    const host = this.options.authorityConfigured ? '' : (this.options.hostname ?? os.hostname)();

    const sentAll = { num: 0, totalMillis: 0 };
    for (const c of stats.metricsSent.values()) {
      sentAll.num += c.num;
      sentAll.totalMillis += c.totalMillis;
    }
    const writers = [...C_WRITERS, ...[...stats.metricsSent.keys()].filter((k) => !(C_WRITERS as readonly string[]).includes(k))];
    const sent: [string, RawJson][] = [['all', obj([['num', n(sentAll.num)], ['totalMillis', n(sentAll.totalMillis)]])]];
    for (const w of writers) sent.push([w, timed(stats.metricsSent.get(w), true)]);

    const local = this.sampler.sample(nowMs);
    const group = (g: MetricGroup): RawJson => obj(g);

    const metrics = obj([
      ['received', obj([['all', n(stats.metricsReceived)]])],
      ['sent', obj(sent)],
      ['summarize', obj([
        ['cluster', n(stats.summarize.cluster)],
        ['root', n(stats.summarize.root)],
        ['totalMillis', n(stats.summarize.totalMillis)],
        ['lastTime', n(stats.summarize.lastTime)],
      ])],
      ['requests', obj([
        ['all', timed(stats.requests.all, false)],
        ['interactive', timed(stats.requests.interactive, false)],
        ['xml', timed(stats.requests.xml, false)],
      ])],
      ['polls', obj([
        ['ok', timed(stats.polls.ok, true)],
        ['failed', timed(stats.polls.failed, true)],
        ['misses', n(stats.polls.misses)],
      ])],
      ['cpu', group(local.cpu)],
      ['disk', group(local.disk)],
      ['load', group(local.load)],
      ['memory', group(local.memory)],
      ['network', group(local.network)],
      ['process', group(local.process)],
      ['system', group(local.system)],
    ]);

    const sources = `[${view.sources.map((s) => obj([
      ['name', JSON.stringify(s.config.name)],
      ['dead', String(s.dead)],
      ['lastSuccess', n(s.lastSuccess)],
      ['lastError', s.lastError === null ? 'null' : JSON.stringify(s.lastError)],
      ['consecutiveFailures', n(s.consecutiveFailures)],
    ])).join(',')}]`;

    const plugins = obj([...stats.plugins].map(([name, p]) => [name, obj([
      ['notified', n(p.notified)], ['dropped', n(p.dropped)], ['errors', n(p.errors)], ['queued', n(p.queued)],
      ['queueSize', n(p.capacity)],
      ...pluginOwnStatus(p.status),
    ])] as const));

    const doc = obj([
      ['host', JSON.stringify(host)],
      ['gridname', JSON.stringify(view.gridname)],
      ['version', JSON.stringify(STATUS_VERSION)],
      ['stattime', n(nowMs)],
      ['boottime', n(stats.bootTime)],
      ['uptime', n(Math.floor(uptimeMs / 1000))],
      ['uptimeMillis', n(uptimeMs)],
      ['metrics', metrics],
      ['sources', sources],
      ['plugins', plugins],
      ['eventLoop', this.eventLoopJson()],
      ['memory', memoryJson()],
    ]);
    return callback !== null ? `${callback}(${doc})\r\n` : `${doc}\r\n`;
  }

  /** Header and body, as written to the socket (UTF-8). */
  reply(view: TreeView, callback: string | null, nowMs = (this.options.clock ?? systemClock)()): Buffer {
    return Buffer.from(STATUS_HTTP_HEADER + this.body(view, callback, nowMs), 'utf8');
  }

  private eventLoopJson(): RawJson {
    const h = this.options.eventLoop;
    if (h === undefined || h.count === 0) return obj([['maxMs', '0'], ['p99Ms', '0'], ['meanMs', '0']]);
    const late = (ns: number) => ms(ns / 1e6);
    return obj([
      ['maxMs', late(h.max)],
      ['p99Ms', late(h.percentile(99))],
      ['meanMs', late(h.mean)],
    ]);
  }
}

const CHAIN_KEYS = new Set(['notified', 'dropped', 'errors', 'queued', 'queueSize']);

/** A plugin's own counters (GmetadPlugin.status); a plugin that throws shows statusError. */
function pluginOwnStatus(status: PluginCounters['status']): Members {
  if (!status) return [];
  let own: Readonly<Record<string, number | string>>;
  try {
    own = status();
  } catch (err) {
    return [['statusError', JSON.stringify((err as Error).message ?? String(err))]];
  }
  return Object.entries(own ?? {}).filter(([k]) => !CHAIN_KEYS.has(k))
    .map(([k, v]) => [k, typeof v === 'number' ? (Number.isFinite(v) ? String(v) : 'null') : JSON.stringify(String(v))] as const);
}

/** This process's memory, in bytes (an extension: gmond reports the host's, not ours). */
function memoryJson(): RawJson {
  const m = process.memoryUsage();
  return obj([
    ['rss', String(m.rss)],
    ['heapUsed', String(m.heapUsed)],
    ['heapTotal', String(m.heapTotal)],
    ['external', String(m.external)],
    ['arrayBuffers', String(m.arrayBuffers)],
  ]);
}
