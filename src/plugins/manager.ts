/**
 * The plugins' life: loads them with their settings, runs them on the chain, and applies a
 * new configuration on SIGHUP — plugins with reload() get their new context, the others are
 * created anew when their section or the global settings changed, plugins turned on or off
 * by the new file are started or stopped. A plugin that refuses its new settings keeps
 * running with the old ones (the error is logged with file:line).
 */
import type { GmetadConfig } from '../config/types';
import type { StructuredLogger } from '../util/logging';
import type { TreeView } from '../store/store';
import type { Clock } from '../util/clock';
import { withDeadline } from '../util/deadline';
import type { DaemonStats } from '../util/stats';
import type { GmetadPlugin, PluginContext, PluginEvent } from './api';
import { PluginChain, type ChainOptions, type PluginDelivery } from './chain';
import {
  contextFor, deliveryOf, instantiate, pluginDefinitions, type BuiltinPlugin, type PluginDefinition,
} from './loader';

export interface PluginManagerOptions {
  readonly logger: StructuredLogger;
  readonly stats: DaemonStats;
  readonly builtins: readonly BuiltinPlugin[];
  readonly currentView: () => TreeView;
  /** The daemon's wall clock, handed to every plugin (default the system's). */
  readonly clock?: Clock;
  /** How long a factory or reload() may take. */
  readonly loadTimeoutMs?: number;
  readonly chain?: ChainOptions;
}

interface Running {
  readonly definition: PluginDefinition;
  /** The name the plugin gave itself (its key in the chain and in /status). */
  pluginName: string;
  /** What the plugin's behaviour may depend on, to tell whether a SIGHUP changed it. */
  fingerprint: string;
}

/** The configuration a plugin sees, without what plugins are told about by events. */
function fingerprintOf(config: GmetadConfig, name: string): string {
  const { file: _file, dataSources: _sources, pluginSections, ...globals } = config;
  const own = pluginSections.filter((s) => s.name.toLowerCase() === name.toLowerCase())
    .map((s) => s.directives.map((d) => [d.key.toLowerCase(), d.values]));
  return JSON.stringify([globals, own]);
}

export class PluginManager {
  readonly chain: PluginChain;
  private definitions: PluginDefinition[] = [];
  private readonly running = new Map<string, Running>();
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: PluginManagerOptions) {
    this.chain = new PluginChain([], options.logger, options.stats, options.chain);
  }

  get names(): readonly string[] {
    return this.chain.names;
  }

  private context(name: string, config: GmetadConfig): PluginContext {
    const { logger, stats, currentView, clock } = this.options;
    return contextFor(name, { config, logger, stats, currentView, ...(clock ? { clock } : {}) });
  }

  /** Instantiates every enabled plugin; the first that fails rejects with one line. */
  async load(config: GmetadConfig): Promise<void> {
    this.definitions = await pluginDefinitions(config, this.options.builtins);
    for (const definition of this.definitions) {
      if (!definition.enabled(config)) continue;
      const { plugin, delivery } = await this.create(definition, config);
      this.chain.add(plugin, delivery);
      this.running.set(definition.name, { definition, pluginName: plugin.name, fingerprint: fingerprintOf(config, definition.name) });
    }
  }

  private async create(definition: PluginDefinition, config: GmetadConfig): Promise<{ plugin: GmetadPlugin; delivery: PluginDelivery }> {
    const context = this.context(definition.name, config);
    const delivery = deliveryOf(context.settings, definition.delivery);
    const plugin = await instantiate(definition, context, this.options.loadTimeoutMs);
    return { plugin, delivery };
  }

  start(): Promise<void> {
    return this.chain.start();
  }

  notify(event: PluginEvent): void {
    this.chain.notify(event);
  }

  /** SIGHUP; reloads run one after another. Never rejects: each plugin's failure is logged. */
  reload(config: GmetadConfig): Promise<void> {
    this.reloading = this.reloading.then(() => this.apply(config));
    return this.reloading;
  }

  private async apply(config: GmetadConfig): Promise<void> {
    const { logger } = this.options;
    for (const definition of this.definitions) {
      const running = this.running.get(definition.name);
      const wanted = definition.enabled(config);
      try {
        if (!wanted) {
          if (running) {
            await this.chain.remove(running.pluginName);
            this.running.delete(definition.name);
            logger.info({ plugin: definition.name }, 'plugin turned off by the new configuration');
          }
          continue;
        }
        const fingerprint = fingerprintOf(config, definition.name);
        if (!running) {
          const { plugin, delivery } = await this.create(definition, config);
          this.chain.add(plugin, delivery);
          if (await this.chain.startPlugin(plugin.name)) {
            this.running.set(definition.name, { definition, pluginName: plugin.name, fingerprint });
            logger.info({ plugin: definition.name }, 'plugin turned on by the new configuration');
          }
          continue;
        }
        const current = this.chain.plugin(running.pluginName);
        if (current?.reload) {
          const context = this.context(definition.name, config);
          const delivery = deliveryOf(context.settings, definition.delivery);
          await withDeadline(() => current.reload!(context), this.options.loadTimeoutMs ?? 10_000, `${definition.name}.reload`);
          this.chain.setDelivery(running.pluginName, delivery);
          running.fingerprint = fingerprint;
        } else if (running.fingerprint !== fingerprint) {
          // Created before the old one stops, so that bad settings leave the old one running.
          const { plugin, delivery } = await this.create(definition, config);
          running.fingerprint = fingerprint;
          if (plugin.name !== running.pluginName) await this.chain.remove(running.pluginName);
          running.pluginName = plugin.name;
          if (await this.chain.replace(plugin, delivery)) {
            logger.info({ plugin: definition.name }, 'plugin restarted with its new settings');
          } else {
            this.running.delete(definition.name);
          }
        }
      } catch (err) {
        logger.error({ plugin: definition.name, err: (err as Error).message }, 'plugin kept its previous settings');
      }
    }
  }

  forceFlush(): Promise<void> {
    return this.chain.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.reloading;
    await this.chain.shutdown();
  }
}
