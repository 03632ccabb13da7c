/** The plugins that ship with gmetad-ts, and when the configuration turns each on. */
import type { GmetadConfig } from '../config/types';
import { createGraphitePlugin, GRAPHITE_PLUGIN_NAME } from './graphite/plugin';
import { createInfluxdbPlugin, INFLUXDB_PLUGIN_NAME } from './influxdb/plugin';
import { influxdbWanted } from './influxdb/influx-settings';
import type { BuiltinPlugin } from './loader';
import { createMemcachedPlugin, MEMCACHED_PLUGIN_NAME } from './memcached/plugin';
import { createPrometheusPlugin, PROMETHEUS_PLUGIN_NAME } from './prometheus/plugin';
import { createPrometheusTextfilePlugin, PROMETHEUS_TEXTFILE_PLUGIN_NAME } from './prometheus/textfile';
import { createRemoteWritePlugin, REMOTE_WRITE_PLUGIN_NAME } from './remote-write/plugin';
import { createRiemannPlugin, RIEMANN_PLUGIN_NAME } from './riemann/plugin';
import { createRrdPlugin, RRD_PLUGIN_NAME } from './rrd/plugin';

/** Exporters the C gmetad does not have are on when gmetad.conf has their `name { }` section. */
function hasSection(config: GmetadConfig, name: string): boolean {
  return config.pluginSections.some((s) => s.name.toLowerCase() === name);
}

export const BUILTIN_PLUGINS: readonly BuiltinPlugin[] = [
  { name: RRD_PLUGIN_NAME, enabled: (config) => config.writeRrds, createPlugin: createRrdPlugin },
  { name: GRAPHITE_PLUGIN_NAME, enabled: (config) => config.carbon.server !== null, createPlugin: createGraphitePlugin },
  { name: REMOTE_WRITE_PLUGIN_NAME, enabled: (config) => hasSection(config, REMOTE_WRITE_PLUGIN_NAME), createPlugin: createRemoteWritePlugin },
  { name: MEMCACHED_PLUGIN_NAME, enabled: (config) => config.memcached.parameters !== null, createPlugin: createMemcachedPlugin },
  { name: PROMETHEUS_PLUGIN_NAME, enabled: (config) => hasSection(config, PROMETHEUS_PLUGIN_NAME), createPlugin: createPrometheusPlugin },
  {
    name: PROMETHEUS_TEXTFILE_PLUGIN_NAME,
    enabled: (config) => hasSection(config, PROMETHEUS_TEXTFILE_PLUGIN_NAME),
    createPlugin: createPrometheusTextfilePlugin,
  },
  // Also on with no section when INFLUXDB_URL is in the daemon's environment (v2 export).
  {
    name: INFLUXDB_PLUGIN_NAME,
    enabled: (config) => influxdbWanted(hasSection(config, INFLUXDB_PLUGIN_NAME), process.env),
    createPlugin: (context) => createInfluxdbPlugin(context, process.env),
  },
  { name: RIEMANN_PLUGIN_NAME, enabled: (config) => config.riemann.server !== null, createPlugin: createRiemannPlugin },
];
