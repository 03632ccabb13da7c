/**
 * Counters shown by /status (the C gmetad's field names). One instance per daemon, passed
 * to whoever counts; never a module-level singleton.
 */

import { type Clock, systemClock } from './clock';

export interface TimedCounter {
  num: number;
  totalMillis: number;
  /** Epoch ms of the last event, 0 if none. */
  lastTime: number;
}

export function newTimedCounter(): TimedCounter {
  return { num: 0, totalMillis: 0, lastTime: 0 };
}

export function countTimed(counter: TimedCounter, millis: number, now: number): void {
  counter.num += 1;
  counter.totalMillis += millis;
  counter.lastTime = now;
}

/** One plugin's delivery counters, kept by the plugin chain and shown in /status. */
export interface PluginCounters {
  notified: number;
  dropped: number;
  errors: number;
  /** Events waiting now. */
  queued: number;
  /** The queue's size (`queue_size` in the plugin's section). */
  capacity: number;
  /** The plugin's own counters (GmetadPlugin.status), read at each /status request. */
  status?: () => Readonly<Record<string, number | string>>;
}

export class DaemonStats {
  /** Epoch ms at start-up (the injected clock's). */
  readonly bootTime: number;
  /** Metrics received from data sources (every METRIC element parsed). */
  metricsReceived = 0;
  /** Metric values handed to each writer/exporter, keyed by its name (rrdtool, rrdcached, graphite, ...). */
  readonly metricsSent = new Map<string, TimedCounter>();
  readonly summarize = { cluster: 0, root: 0, totalMillis: 0, lastTime: 0 };
  readonly requests = {
    all: newTimedCounter(),
    interactive: newTimedCounter(),
    xml: newTimedCounter(),
  };
  readonly polls = {
    ok: newTimedCounter(),
    failed: newTimedCounter(),
    /** Polls that started later than their due time by more than one step. */
    misses: 0,
  };
  /** Plugin counters (drops, errors), keyed by plugin name; filled by the plugin chain. */
  readonly plugins = new Map<string, PluginCounters>();

  constructor(clock: Clock = systemClock) {
    this.bootTime = clock();
  }

  sent(writer: string): TimedCounter {
    let c = this.metricsSent.get(writer);
    if (!c) {
      c = newTimedCounter();
      this.metricsSent.set(writer, c);
    }
    return c;
  }
}
