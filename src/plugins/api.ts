/**
 * The plugin API, in the manner of gmetad-python: a module exports a factory; the daemon
 * calls it with the plugin's `name { ... }` section of gmetad.conf, then `start()`, then
 * `notify()` for every event the plugin wants, and `flush()`/`stop()` at shutdown.
 *
 * Two ways to get data, as in OpenTelemetry's push exporters and pull readers:
 *  - push: notify() receives each freshly polled data source as a read-only snapshot (and,
 *    if the plugin asks for them, the root summary and sources going down or coming back);
 *  - pull: context.currentView() returns the tree as the ports serve it right now (what a
 *    Prometheus /metrics handler needs on each scrape).
 *
 * notify() may return a promise; the chain runs each plugin's notifications one at a time,
 * in order, from its own bounded queue with a deadline, so a slow plugin falls behind (and
 * drops, counted) instead of stalling the readers or the other plugins.
 *
 * Everything handed to a plugin is read-only and typed by interfaces: the tree may become
 * lazily built, so keep to the interface members.
 */
import type { GmetadConfig } from '../config/types';
import type { SourceSnapshot, Summary } from '../store/model';
import type { TreeView } from '../store/store';
import type { Clock } from '../util/clock';
import type { StructuredLogger } from '../util/logging';
import type { DaemonStats } from '../util/stats';
import type { PluginSettings } from './settings';

export type { PluginSettings } from './settings';

/** A data source was polled. */
export interface SourceEvent {
  readonly kind: 'source';
  /**
   * What the poll delivered: only the hosts and metrics the source listed, so nothing is
   * written for those it stopped listing (the C gmetad writes per element received). The
   * store keeps serving those until their DMAX: they are in `view`.
   */
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

/**
 * A data source that was answering (or had never been polled) failed a poll. Its last good
 * data is kept and still served; further failed polls send nothing until it comes back.
 */
export interface SourceDownEvent {
  readonly kind: 'source-down';
  /** The data_source name. */
  readonly source: string;
  /** Why the poll failed, as shown in /status. */
  readonly error: string;
  /** Epoch seconds. */
  readonly time: number;
}

/** A data source that was down answered again (its 'source' event follows). */
export interface SourceUpEvent {
  readonly kind: 'source-up';
  readonly source: string;
  /** Epoch seconds. */
  readonly time: number;
}

export type PluginEvent = SourceEvent | RootEvent | SourceDownEvent | SourceUpEvent;
export type PluginEventKind = PluginEvent['kind'];

/** What a plugin gets unless it lists `events` (what plugins written before source-down/up expect). */
export const DEFAULT_PLUGIN_EVENTS: readonly PluginEventKind[] = ['source', 'root'];

/** Counters a plugin shows in /status under plugins.<name> (next to notified, dropped, ...). */
export type PluginStatus = Readonly<Record<string, number | string>>;

export interface PluginContext {
  /** The plugin's name (its section name in gmetad.conf). */
  readonly name: string;
  /** Its section, typed readers with file:line errors (also a ReadonlyMap of directive → values). */
  readonly settings: PluginSettings;
  /** The whole validated configuration. */
  readonly config: GmetadConfig;
  /** Lines carry `plugin: <name>`; call info/warn/error/debug with a message, fields, or both. */
  readonly logger: StructuredLogger;
  /** The daemon's counters (polls, requests, plugins...), as /status shows them. */
  readonly stats: DaemonStats;
  /** The daemon's wall clock (epoch ms); use it instead of Date.now() so tests can pin time. */
  readonly clock: Clock;
  /** The tree as the ports serve it at this moment; cheap to call (cached until the next poll). */
  readonly currentView: () => TreeView;
}

export interface GmetadPlugin {
  readonly name: string;
  /** The event kinds this plugin receives; default DEFAULT_PLUGIN_EVENTS. */
  readonly events?: readonly PluginEventKind[];
  /**
   * Acquire resources here (files, connections, processes), not in the factory: on SIGHUP a
   * plugin without reload() is created anew before the old one stops. (A listening port is
   * the exception: bind it in the factory, before privileges are dropped, as the daemon's
   * ports are, and implement reload(); see the prometheus plugin.)
   */
  start?(): void | Promise<void>;
  /** Called in chain order for each event; keep it quick or return a promise. */
  notify(event: PluginEvent): void | Promise<void>;
  /**
   * SIGHUP: the new configuration and section. Throw (a ConfigError from
   * `context.settings.error()`) to refuse it and keep running as before. Without reload(),
   * a plugin whose section or global settings changed is stopped and created anew.
   */
  reload?(context: PluginContext): void | Promise<void>;
  /** Counters shown in /status under plugins.<name>; called on each /status request. */
  status?(): PluginStatus;
  /** Write out whatever is buffered (called at shutdown before stop). */
  flush?(): Promise<void>;
  stop?(): void | Promise<void>;
}

export type PluginFactory = (context: PluginContext) => GmetadPlugin | Promise<GmetadPlugin>;

/** What a plugin module exports (`module.exports = { name, createPlugin }`, ESM exports or default). */
export interface PluginModule {
  /** Section name it is configured by; defaults to the file name. */
  readonly name?: string;
  readonly createPlugin: PluginFactory;
}

/** Helper for plugin authors: the first value of a directive in the plugin's section. */
export function setting(settings: ReadonlyMap<string, readonly (readonly string[])[]>, key: string): string | undefined {
  return settings.get(key.toLowerCase())?.[0]?.[0];
}
