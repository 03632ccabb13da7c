/**
 * gmetad-ts as a library: the plugin API for plugin authors, and the tree types their
 * notify() receives.
 */
export type {
  GmetadPlugin, PluginContext, PluginEvent, PluginFactory, PluginModule, PluginSettings, RootEvent, SourceEvent,
} from './plugins/api';
export { setting } from './plugins/api';
export type {
  Cluster, ExtraData, ExtraElement, Grid, Host, Metric, MetricSummary, SourceSnapshot, Summary, TreeNode,
} from './store/model';
export { INTEGER_TYPES, NUMERIC_TYPES } from './store/model';
export { formatSum } from './store/summary';
export type { TreeView, SourceState } from './store/store';
export type { GmetadConfig, DataSourceConfig, PluginSection } from './config/types';
