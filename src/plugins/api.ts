/**
 * The plugin API, in the manner of gmetad-python: a module exports a factory; the daemon
 * calls it with the plugin's `name { ... }` section of gmetad.conf, then `start()`, then
 * `notify()` for every freshly polled data source, and `stop()` at shutdown.
 *
 * notify() receives read-only snapshots. It may return a promise; the chain runs each
 * plugin's notifications one at a time, in order, from a bounded queue, so a slow plugin
 * falls behind (and drops, counted) instead of stalling the readers or other plugins.
 */
import type { GmetadConfig } from '../config/types';
import type { Logger } from '../daemon/logger';
import type { SourceSnapshot, Summary } from '../store/model';
import type { TreeView } from '../store/store';
import type { Clock } from '../util/clock';
import type { DaemonStats } from '../util/stats';

/** A data source was polled: its snapshot as now held by the store. */
export interface SourceEvent {
  readonly kind: 'source';
  readonly snapshot: SourceSnapshot;
  /** The data_source's polling interval, seconds (the RRD step). */
  readonly step: number;
  readonly view: TreeView;
}

/** The root grid summary was recomputed (periodically, like the C gmetad's root thread). */
export interface RootEvent {
  readonly kind: 'root';
  readonly summary: Summary;
  /** Epoch seconds. */
  readonly time: number;
  readonly step: number;
  readonly view: TreeView;
}

export type PluginEvent = SourceEvent | RootEvent;

/** A plugin's own `name { directive value ... }` section, as directive → values. */
export type PluginSettings = ReadonlyMap<string, readonly (readonly string[])[]>;

export interface PluginContext {
  /** The plugin's name (its section name in gmetad.conf). */
  readonly name: string;
  readonly settings: PluginSettings;
  /** The whole validated configuration. */
  readonly config: GmetadConfig;
  readonly logger: Logger;
  readonly stats: DaemonStats;
  /** The daemon's wall clock (epoch ms); use it instead of Date.now() so tests can pin time. */
  readonly clock: Clock;
}

export interface GmetadPlugin {
  readonly name: string;
  start?(): void | Promise<void>;
  /** Called in chain order for each event; keep it quick or return a promise. */
  notify(event: PluginEvent): void | Promise<void>;
  /** Write out whatever is buffered (called at shutdown before stop). */
  flush?(): Promise<void>;
  stop?(): void | Promise<void>;
}

export type PluginFactory = (context: PluginContext) => GmetadPlugin | Promise<GmetadPlugin>;

/** What a plugin module exports (`module.exports = { name, createPlugin }` or ESM default). */
export interface PluginModule {
  /** Section name it is configured by; defaults to the file name. */
  readonly name?: string;
  readonly createPlugin: PluginFactory;
}

/** Helper for plugin authors: the first value of a directive in the plugin's section. */
export function setting(settings: PluginSettings, key: string): string | undefined {
  return settings.get(key.toLowerCase())?.[0]?.[0];
}
