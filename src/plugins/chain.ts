/**
 * The plugin chain: a synchronous hook on the hot path (enqueue and return), and per-plugin
 * bounded queues drained one event at a time with a deadline. A plugin that throws, hangs
 * or falls behind only loses its own events (dropped and counted), never anyone else's.
 */
import type { Logger } from '../daemon/logger';
import type { DaemonStats } from '../util/stats';
import { withDeadline } from '../util/deadline';
import type { GmetadPlugin, PluginEvent } from './api';

export interface ChainOptions {
  /** Events a plugin may have waiting before new ones are dropped. */
  readonly queueCapacity?: number;
  /** How long one notify() may take before it is abandoned (and counted as an error). */
  readonly notifyTimeoutMs?: number;
  /** How long start()/flush()/stop() may take. */
  readonly lifecycleTimeoutMs?: number;
}

export interface PluginCounters {
  notified: number;
  dropped: number;
  errors: number;
  queued: number;
}

class PluginRunner {
  private readonly queue: PluginEvent[] = [];
  private draining: Promise<void> | null = null;
  readonly counters: PluginCounters;

  constructor(
    readonly plugin: GmetadPlugin,
    private readonly logger: Logger,
    private readonly capacity: number,
    private readonly timeoutMs: number,
    counters: PluginCounters,
  ) {
    this.counters = counters;
  }

  offer(event: PluginEvent): void {
    if (this.queue.length >= this.capacity) {
      this.counters.dropped += 1;
      if (this.counters.dropped === 1 || this.counters.dropped % 100 === 0) {
        this.logger.warn({ plugin: this.plugin.name, dropped: this.counters.dropped }, 'plugin is falling behind; dropping events');
      }
      return;
    }
    this.queue.push(event);
    this.counters.queued = this.queue.length;
    if (!this.draining) this.draining = this.drain().finally(() => { this.draining = null; });
  }

  /** Resolves when everything queued so far has been handled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    let event: PluginEvent | undefined;
    while ((event = this.queue.shift()) !== undefined) {
      this.counters.queued = this.queue.length;
      try {
        await withDeadline(() => this.plugin.notify(event!), this.timeoutMs, `${this.plugin.name}.notify`);
        this.counters.notified += 1;
      } catch (err) {
        this.counters.errors += 1;
        this.logger.error({ plugin: this.plugin.name, err: (err as Error).message ?? String(err) }, 'plugin notify failed');
      }
    }
  }
}

export class PluginChain {
  private readonly runners: PluginRunner[] = [];
  private accepting = false;
  private readonly capacity: number;
  private readonly notifyTimeoutMs: number;
  private readonly lifecycleTimeoutMs: number;

  constructor(
    plugins: readonly GmetadPlugin[],
    private readonly logger: Logger,
    stats: DaemonStats,
    options: ChainOptions = {},
  ) {
    this.capacity = options.queueCapacity ?? 64;
    this.notifyTimeoutMs = options.notifyTimeoutMs ?? 60_000;
    this.lifecycleTimeoutMs = options.lifecycleTimeoutMs ?? 30_000;
    for (const plugin of plugins) {
      const counters: PluginCounters = { notified: 0, dropped: 0, errors: 0, queued: 0 };
      stats.plugins.set(plugin.name, counters);
      this.runners.push(new PluginRunner(plugin, logger, this.capacity, this.notifyTimeoutMs, counters));
    }
  }

  get names(): readonly string[] {
    return this.runners.map((r) => r.plugin.name);
  }

  /** Starts every plugin in chain order; a plugin whose start fails is left out. */
  async start(): Promise<void> {
    for (const runner of [...this.runners]) {
      try {
        await withDeadline(() => runner.plugin.start?.(), this.lifecycleTimeoutMs, `${runner.plugin.name}.start`);
      } catch (err) {
        this.logger.error({ plugin: runner.plugin.name, err: (err as Error).message }, 'plugin failed to start; disabled');
        this.runners.splice(this.runners.indexOf(runner), 1);
      }
    }
    this.accepting = true;
  }

  /** The hot-path hook: never blocks, never throws. */
  notify(event: PluginEvent): void {
    if (!this.accepting) return;
    for (const runner of this.runners) runner.offer(event);
  }

  /** Waits for every queued event to be handled and every plugin to flush. */
  async forceFlush(): Promise<void> {
    for (const runner of this.runners) await runner.idle();
    await Promise.all(this.runners.map(async (runner) => {
      try {
        await withDeadline(() => runner.plugin.flush?.(), this.lifecycleTimeoutMs, `${runner.plugin.name}.flush`);
      } catch (err) {
        this.logger.error({ plugin: runner.plugin.name, err: (err as Error).message }, 'plugin flush failed');
      }
    }));
  }

  /** Stops accepting events, lets the queues drain and flush, then stops each plugin. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    await this.forceFlush();
    for (const runner of this.runners) {
      try {
        await withDeadline(() => runner.plugin.stop?.(), this.lifecycleTimeoutMs, `${runner.plugin.name}.stop`);
      } catch (err) {
        this.logger.error({ plugin: runner.plugin.name, err: (err as Error).message }, 'plugin stop failed');
      }
    }
  }
}
