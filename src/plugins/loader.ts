/**
 * Builds the plugin chain: the built-in plugins the configuration turns on, then every
 * JavaScript module in `plugins_dir` (alphabetical order), each given its own
 * `name { ... }` section of gmetad.conf.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GmetadConfig, PluginSection } from '../config/types';
import type { Logger } from '../daemon/logger';
import { withDeadline } from '../util/deadline';
import { type Clock, systemClock } from '../util/clock';
import type { DaemonStats } from '../util/stats';
import type { GmetadPlugin, PluginContext, PluginFactory, PluginModule, PluginSettings } from './api';

export interface BuiltinPlugin {
  readonly name: string;
  enabled(config: GmetadConfig): boolean;
  readonly createPlugin: PluginFactory;
}

export class PluginLoadError extends Error {
  readonly code = 'GMETAD_PLUGIN_LOAD';
}

export function settingsOf(sections: readonly PluginSection[], name: string): PluginSettings {
  const settings = new Map<string, string[][]>();
  for (const section of sections) {
    if (section.name.toLowerCase() !== name.toLowerCase()) continue;
    for (const { key, values } of section.directives) {
      const k = key.toLowerCase();
      if (!settings.has(k)) settings.set(k, []);
      settings.get(k)!.push([...values]);
    }
  }
  return settings;
}

function isPluginModule(value: unknown): value is PluginModule {
  return typeof value === 'object' && value !== null && typeof (value as PluginModule).createPlugin === 'function';
}

/** Loads one module file; accepts CommonJS exports or an ES-module-style `default`. */
export function loadPluginModule(file: string): PluginModule & { name: string } {
  let exported: unknown;
  try {
    exported = require(path.resolve(file));
  } catch (err) {
    throw new PluginLoadError(`plugin ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const candidate = isPluginModule(exported) ? exported : (exported as { default?: unknown })?.default;
  if (!isPluginModule(candidate)) {
    throw new PluginLoadError(`plugin ${file}: does not export createPlugin(context)`);
  }
  return { name: candidate.name ?? path.basename(file).replace(/\.(c?js)$/, ''), createPlugin: candidate.createPlugin };
}

export function pluginFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    throw new PluginLoadError(`plugins_dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return entries.filter((f) => /\.c?js$/.test(f)).sort().map((f) => path.join(dir, f));
}

export interface LoadPluginsOptions {
  readonly config: GmetadConfig;
  readonly logger: Logger;
  readonly stats: DaemonStats;
  readonly builtins: readonly BuiltinPlugin[];
  /** The daemon's wall clock, handed to every plugin (default the system's). */
  readonly clock?: Clock;
  /** How long a factory may take (a plugin that hangs while loading is refused). */
  readonly loadTimeoutMs?: number;
}

export async function loadPlugins(options: LoadPluginsOptions): Promise<GmetadPlugin[]> {
  const { config, logger, stats } = options;
  const factories: { name: string; createPlugin: PluginFactory }[] = options.builtins.filter((b) => b.enabled(config));
  if (config.pluginsDir) {
    for (const file of pluginFiles(config.pluginsDir)) factories.push(loadPluginModule(file));
  }
  const plugins: GmetadPlugin[] = [];
  for (const { name, createPlugin } of factories) {
    const context: PluginContext = {
      name, settings: settingsOf(config.pluginSections, name), config, logger: logger.child({ plugin: name }), stats,
      clock: options.clock ?? systemClock,
    };
    try {
      plugins.push(await withDeadline(() => createPlugin(context), options.loadTimeoutMs ?? 10_000, 'loading'));
    } catch (err) {
      throw new PluginLoadError(`plugin ${name}: ${(err as Error).message}`);
    }
  }
  return plugins;
}
