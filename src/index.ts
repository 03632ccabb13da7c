/**
 * gmetad-ts as a library: the plugin API for plugin authors, and the tree types their
 * notify() and currentView() receive. Everything a plugin needs is exported from here;
 * test/typing/ compiles a plugin against this surface only.
 */
export type {
  GmetadPlugin, PluginContext, PluginEvent, PluginEventKind, PluginFactory, PluginModule, PluginSettings, PluginStatus,
  RootEvent, SourceDownEvent, SourceEvent, SourceUpEvent,
} from './plugins/api';
export { DEFAULT_PLUGIN_EVENTS, setting } from './plugins/api';
export type { NumberOptions, StringOptions, ValueOptions } from './plugins/settings';
export { parseDuration } from './plugins/settings';
export { ConfigError } from './config/errors';
export type { ConfigErrorCode } from './config/errors';
export type {
  Cluster, ExtraData, ExtraElement, Grid, Host, Metric, MetricSummary, SourceSnapshot, Summary, TreeNode,
} from './store/model';
export { INTEGER_TYPES, NUMERIC_TYPES } from './store/model';
export { formatSum } from './store/summary';
export type { TreeView, SourceState } from './store/store';
export type { GmetadConfig, DataSourceConfig, PluginSection, SourceAddress } from './config/types';
export type { DaemonStats, PluginCounters, TimedCounter } from './util/stats';
export type { LogMethod, StructuredLogger, StructuredLogger as Logger } from './util/logging';
export type { Clock } from './util/clock';
