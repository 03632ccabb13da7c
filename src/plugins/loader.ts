/**
 * Finds and instantiates plugins: the built-in plugins the configuration turns on, then
 * every JavaScript module in `plugins_dir` (.js, .cjs, .mjs; file-name order), each given
 * its own `name { ... }` section of gmetad.conf as typed settings.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/errors';
import type { GmetadConfig, PluginSection } from '../config/types';
import { type StructuredLogger, withFields } from '../util/logging';
import { Store, type TreeView } from '../store/store';
import { type Clock, systemClock } from '../util/clock';
import { withDeadline } from '../util/deadline';
import type { DaemonStats } from '../util/stats';
import type { GmetadPlugin, PluginContext, PluginFactory, PluginModule } from './api';
import { DEFAULT_DELIVERY, type PluginDelivery } from './chain';
import { SectionSettings, type PluginSettings } from './settings';

export interface BuiltinPlugin {
  readonly name: string;
  enabled(config: GmetadConfig): boolean;
  readonly createPlugin: PluginFactory;
  /** This plugin's defaults for `queue_size` and `deadline` (the chain's otherwise). */
  readonly delivery?: Partial<PluginDelivery>;
}

/** A plugin the daemon may run: a built-in or a module from plugins_dir. */
export interface PluginDefinition {
  readonly name: string;
  readonly createPlugin: PluginFactory;
  /** "built-in" or the module's path. */
  readonly from: string;
  enabled(config: GmetadConfig): boolean;
  readonly delivery?: Partial<PluginDelivery>;
}

export class PluginLoadError extends Error {
  readonly code = 'GMETAD_PLUGIN_LOAD';
}

/** The settings of one plugin: its section(s) of the configuration. */
export function settingsOf(sections: readonly PluginSection[], name: string, configFile = '<config>'): PluginSettings {
  return new SectionSettings(sections, name, configFile);
}

/** The queue size and deadline a section sets (`queue_size N`, `deadline 30s`), over the defaults. */
export function deliveryOf(settings: PluginSettings, defaults: Partial<PluginDelivery> = {}): PluginDelivery {
  const base = { ...DEFAULT_DELIVERY, ...defaults };
  return {
    queueSize: settings.integer('queue_size', { min: 1, max: 1_000_000, default: base.queueSize }),
    deadlineMs: settings.duration('deadline', { min: 1, max: 86_400_000, default: base.deadlineMs }),
  };
}

function isPluginModule(value: unknown): value is PluginModule {
  return typeof value === 'object' && value !== null && typeof (value as PluginModule).createPlugin === 'function';
}

// TypeScript compiles import() to require() for CommonJS output; this keeps a real import(),
// which is what loads ES modules (.mjs, or .js under "type": "module").
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

async function requireOrImport(file: string): Promise<unknown> {
  if (file.endsWith('.mjs')) return importModule(pathToFileURL(file).href);
  try {
    return require(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw err;
    return importModule(pathToFileURL(file).href);
  }
}

/** Loads one module file: CommonJS exports, ES module exports, or either's `default`. */
export async function loadPluginModule(file: string): Promise<PluginModule & { name: string }> {
  let exported: unknown;
  try {
    exported = await requireOrImport(path.resolve(file));
  } catch (err) {
    throw new PluginLoadError(`plugin ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const candidate = isPluginModule(exported) ? exported : (exported as { default?: unknown })?.default;
  if (!isPluginModule(candidate)) {
    throw new PluginLoadError(`plugin ${file}: does not export createPlugin(context)`);
  }
  return { name: candidate.name ?? path.basename(file).replace(/\.(c?js|mjs)$/, ''), createPlugin: candidate.createPlugin };
}

export function pluginFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    throw new PluginLoadError(`plugins_dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return entries.filter((f) => /\.(c?js|mjs)$/.test(f)).sort().map((f) => path.join(dir, f));
}

/** Every plugin the configuration names: built-ins (enabled or not) first, then plugins_dir. */
export async function pluginDefinitions(config: GmetadConfig, builtins: readonly BuiltinPlugin[]): Promise<PluginDefinition[]> {
  const definitions: PluginDefinition[] = builtins.map((b) => ({ ...b, from: 'built-in' }));
  if (config.pluginsDir) {
    for (const file of pluginFiles(config.pluginsDir)) {
      const { name, createPlugin } = await loadPluginModule(file);
      definitions.push({ name, createPlugin, from: file, enabled: () => true });
    }
  }
  return definitions;
}

export interface ContextOptions {
  readonly config: GmetadConfig;
  readonly logger: StructuredLogger;
  readonly stats: DaemonStats;
  readonly currentView: () => TreeView;
  /** The daemon's wall clock, handed to every plugin (default the system's). */
  readonly clock?: Clock;
}

export function contextFor(name: string, options: ContextOptions): PluginContext {
  const { config, logger, stats, currentView } = options;
  return {
    name,
    settings: settingsOf(config.pluginSections, name, config.file),
    config,
    logger: withFields(logger, { plugin: name }),
    stats,
    clock: options.clock ?? systemClock,
    currentView,
  };
}

/**
 * Runs a factory with a deadline. A ConfigError (bad settings) passes through as it is, so
 * the operator reads one located line; anything else is prefixed with the plugin's name.
 */
export async function instantiate(definition: PluginDefinition, context: PluginContext, timeoutMs = 10_000): Promise<GmetadPlugin> {
  try {
    return await withDeadline(() => definition.createPlugin(context), timeoutMs, 'loading');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new PluginLoadError(`plugin ${definition.name}: ${(err as Error).message}`);
  }
}

export interface LoadPluginsOptions {
  readonly config: GmetadConfig;
  readonly logger: StructuredLogger;
  readonly stats: DaemonStats;
  readonly builtins: readonly BuiltinPlugin[];
  /** The tree for context.currentView(); an empty tree if not given. */
  readonly currentView?: () => TreeView;
  /** The daemon's wall clock, handed to every plugin (default the system's). */
  readonly clock?: Clock;
  /** How long a factory may take (a plugin that hangs while loading is refused). */
  readonly loadTimeoutMs?: number;
}

/** Instantiates every enabled plugin (without starting it). */
export async function loadPlugins(options: LoadPluginsOptions): Promise<GmetadPlugin[]> {
  const { config } = options;
  const currentView = options.currentView ?? emptyView(config);
  const plugins: GmetadPlugin[] = [];
  for (const definition of await pluginDefinitions(config, options.builtins)) {
    if (!definition.enabled(config)) continue;
    const context = contextFor(definition.name, { ...options, currentView });
    plugins.push(await instantiate(definition, context, options.loadTimeoutMs));
  }
  return plugins;
}

function emptyView(config: GmetadConfig): () => TreeView {
  const view = new Store({ gridname: config.gridname, authority: '' }).view();
  return () => view;
}
