/**
 * The plugin chain: a synchronous hook on the hot path (enqueue and return), and per-plugin
 * bounded queues drained one event at a time with a deadline. A plugin that throws, hangs
 * or falls behind only loses its own events (dropped and counted), never anyone else's.
 * Each plugin has its own queue size and deadline; SIGHUP may swap a plugin in place
 * (same position, same counters) or add and remove plugins.
 */
import type { StructuredLogger } from '../util/logging';
import type { DaemonStats, PluginCounters } from '../util/stats';
import { withDeadline } from '../util/deadline';
import { DEFAULT_PLUGIN_EVENTS, type GmetadPlugin, type PluginEvent, type PluginEventKind } from './api';

export type { PluginCounters } from '../util/stats';

/** How events reach one plugin. */
export interface PluginDelivery {
  /** Events a plugin may have waiting before new ones are dropped. */
  readonly queueSize: number;
  /** How long one notify() may take before it is abandoned (and counted as an error). */
  readonly deadlineMs: number;
}

export const DEFAULT_DELIVERY: PluginDelivery = { queueSize: 64, deadlineMs: 60_000 };

export interface ChainOptions {
  /** Default queue size of plugins added without their own. */
  readonly queueCapacity?: number;
  /** Default notify() deadline of plugins added without their own. */
  readonly notifyTimeoutMs?: number;
  /** How long start()/flush()/stop() may take. */
  readonly lifecycleTimeoutMs?: number;
}

class PluginRunner {
  private readonly queue: PluginEvent[] = [];
  private draining: Promise<void> | null = null;
  private readonly wants: ReadonlySet<PluginEventKind>;
  /** Events queue up but are not delivered until the plugin has started. */
  private started = false;

  constructor(
    readonly plugin: GmetadPlugin,
    private readonly logger: StructuredLogger,
    public delivery: PluginDelivery,
    readonly counters: PluginCounters,
  ) {
    this.wants = new Set(plugin.events ?? DEFAULT_PLUGIN_EVENTS);
    counters.capacity = delivery.queueSize;
    counters.status = plugin.status ? () => plugin.status!() : undefined;
  }

  offer(event: PluginEvent): void {
    if (!this.wants.has(event.kind)) return;
    if (this.queue.length >= this.delivery.queueSize) {
      this.counters.dropped += 1;
      if (this.counters.dropped === 1 || this.counters.dropped % 100 === 0) {
        this.logger.warn({ plugin: this.plugin.name, dropped: this.counters.dropped }, 'plugin is falling behind; dropping events');
      }
      return;
    }
    this.queue.push(event);
    this.counters.queued = this.queue.length;
    this.kick();
  }

  /** The plugin has started: deliver what waits. */
  release(): void {
    this.started = true;
    this.kick();
  }

  private kick(): void {
    if (this.started && !this.draining && this.queue.length > 0) {
      this.draining = this.drain().finally(() => { this.draining = null; });
    }
  }

  /** Resolves when everything queued so far has been handled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    let event: PluginEvent | undefined;
    while ((event = this.queue.shift()) !== undefined) {
      this.counters.queued = this.queue.length;
      const current = event;
      try {
        await withDeadline(() => this.plugin.notify(current), this.delivery.deadlineMs, `${this.plugin.name}.notify`);
        this.counters.notified += 1;
      } catch (err) {
        this.counters.errors += 1;
        this.logger.error({ plugin: this.plugin.name, err }, `plugin notify failed: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }
}

export class PluginChain {
  private runners: PluginRunner[] = [];
  private accepting = false;
  private readonly defaults: PluginDelivery;
  private readonly lifecycleTimeoutMs: number;

  constructor(
    plugins: readonly GmetadPlugin[],
    private readonly logger: StructuredLogger,
    private readonly stats: DaemonStats,
    options: ChainOptions = {},
  ) {
    this.defaults = {
      queueSize: options.queueCapacity ?? DEFAULT_DELIVERY.queueSize,
      deadlineMs: options.notifyTimeoutMs ?? DEFAULT_DELIVERY.deadlineMs,
    };
    this.lifecycleTimeoutMs = options.lifecycleTimeoutMs ?? 30_000;
    for (const plugin of plugins) this.add(plugin);
  }

  get names(): readonly string[] {
    return this.runners.map((r) => r.plugin.name);
  }

  plugin(name: string): GmetadPlugin | undefined {
    return this.runners.find((r) => r.plugin.name === name)?.plugin;
  }

  /** Appends a plugin (not started: call start() or startPlugin()). */
  add(plugin: GmetadPlugin, delivery: Partial<PluginDelivery> = {}): void {
    if (this.runners.some((r) => r.plugin.name === plugin.name)) throw new Error(`plugin ${plugin.name}: loaded twice`);
    this.runners.push(new PluginRunner(plugin, this.logger, { ...this.defaults, ...delivery }, this.countersFor(plugin.name)));
  }

  /** Changes a plugin's queue size and deadline (SIGHUP); queued events are kept. */
  setDelivery(name: string, delivery: Partial<PluginDelivery>): void {
    const runner = this.runners.find((r) => r.plugin.name === name);
    if (!runner) return;
    runner.delivery = { ...this.defaults, ...delivery };
    runner.counters.capacity = runner.delivery.queueSize;
  }

  /** Starts every plugin in chain order; a plugin whose start fails is left out. */
  async start(): Promise<void> {
    for (const runner of [...this.runners]) await this.startRunner(runner);
    this.accepting = true;
  }

  /** Starts one plugin added after start(); false (and removed) if its start failed. */
  async startPlugin(name: string): Promise<boolean> {
    const runner = this.runners.find((r) => r.plugin.name === name);
    return runner ? this.startRunner(runner) : false;
  }

  private async startRunner(runner: PluginRunner): Promise<boolean> {
    try {
      await withDeadline(() => runner.plugin.start?.(), this.lifecycleTimeoutMs, `${runner.plugin.name}.start`);
      runner.release();
      return true;
    } catch (err) {
      this.logger.error({ plugin: runner.plugin.name, err }, 'plugin failed to start; disabled');
      this.runners = this.runners.filter((r) => r !== runner);
      this.stats.plugins.delete(runner.plugin.name);
      return false;
    }
  }

  /** The hot-path hook: never blocks, never throws. */
  notify(event: PluginEvent): void {
    if (!this.accepting) return;
    for (const runner of this.runners) runner.offer(event);
  }

  /** Waits for every queued event to be handled and every plugin to flush. */
  async forceFlush(): Promise<void> {
    await Promise.all(this.runners.map((runner) => this.flushRunner(runner)));
  }

  /**
   * Swaps in a new instance of a plugin at the same place (SIGHUP restart): the old one
   * gets what was queued for it, flushes and stops; then the new one starts. Counters carry on.
   */
  async replace(plugin: GmetadPlugin, delivery: Partial<PluginDelivery> = {}): Promise<boolean> {
    const index = this.runners.findIndex((r) => r.plugin.name === plugin.name);
    if (index < 0) {
      this.add(plugin, delivery);
      return this.startPlugin(plugin.name);
    }
    const old = this.runners[index];
    const next = new PluginRunner(plugin, this.logger, { ...this.defaults, ...delivery }, old.counters);
    // New events go to the new instance's queue while the old one finishes.
    this.runners = this.runners.map((r) => (r === old ? next : r));
    await this.retire(old);
    return this.startRunner(next);
  }

  /** Takes a plugin out of the chain: it gets what was queued, flushes and stops. */
  async remove(name: string): Promise<void> {
    const runner = this.runners.find((r) => r.plugin.name === name);
    if (!runner) return;
    this.runners = this.runners.filter((r) => r !== runner);
    await this.retire(runner);
    this.stats.plugins.delete(name);
  }

  /** Stops accepting events, lets the queues drain and flush, then stops each plugin. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    await this.forceFlush();
    for (const runner of this.runners) await this.stopRunner(runner);
  }

  private countersFor(name: string): PluginCounters {
    let counters = this.stats.plugins.get(name);
    if (!counters) {
      counters = { notified: 0, dropped: 0, errors: 0, queued: 0, capacity: 0 };
      this.stats.plugins.set(name, counters);
    }
    return counters;
  }

  private async retire(runner: PluginRunner): Promise<void> {
    await this.flushRunner(runner);
    await this.stopRunner(runner);
  }

  private async flushRunner(runner: PluginRunner): Promise<void> {
    await runner.idle();
    try {
      await withDeadline(() => runner.plugin.flush?.(), this.lifecycleTimeoutMs, `${runner.plugin.name}.flush`);
    } catch (err) {
      this.logger.error({ plugin: runner.plugin.name, err }, 'plugin flush failed');
    }
  }

  private async stopRunner(runner: PluginRunner): Promise<void> {
    try {
      await withDeadline(() => runner.plugin.stop?.(), this.lifecycleTimeoutMs, `${runner.plugin.name}.stop`);
    } catch (err) {
      this.logger.error({ plugin: runner.plugin.name, err }, 'plugin stop failed');
    }
  }
}
