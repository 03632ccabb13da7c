/** The plugins that ship with gmetad-ts, and when the configuration turns each on. */
import { createGraphitePlugin, GRAPHITE_PLUGIN_NAME } from './graphite/plugin';
import type { BuiltinPlugin } from './loader';
import { createRrdPlugin, RRD_PLUGIN_NAME } from './rrd/plugin';

export const BUILTIN_PLUGINS: readonly BuiltinPlugin[] = [
  { name: RRD_PLUGIN_NAME, enabled: (config) => config.writeRrds, createPlugin: createRrdPlugin },
  { name: GRAPHITE_PLUGIN_NAME, enabled: (config) => config.carbon.server !== null, createPlugin: createGraphitePlugin },
];
