/** The plugins that ship with gmetad-ts, and when the configuration turns each on. */
import type { GmetadConfig } from '../config/types';
import type { PluginFactory } from './api';
import { influxdbWanted } from './influxdb/influx-settings';
import type { BuiltinPlugin } from './loader';

/**
 * A plugin's module is loaded when a configuration turns it on, not at start-up: most
 * configurations run none or one of these, and loading them all (protobufjs, snappyjs, the
 * exposition and line-protocol encoders) costs every daemon ~4 MiB of code and heap.
 */
function loadedWhenEnabled<M>(load: () => M, factory: (module: M) => PluginFactory): PluginFactory {
  return (context) => factory(load())(context);
}

/** Exporters the C gmetad does not have are on when gmetad.conf has their `name { }` section. */
function hasSection(config: GmetadConfig, name: string): boolean {
  return config.pluginSections.some((s) => s.name.toLowerCase() === name);
}

/** How long the RRD plugin's notify may take by default (`rrd { deadline }` sets another). */
export const RRD_NOTIFY_DEADLINE_MS = 15 * 60_000;

export const BUILTIN_PLUGINS: readonly BuiltinPlugin[] = [
  {
    name: 'rrd', enabled: (config) => config.writeRrds,
    // One notify creates every new file of a poll, in bounded slices: a first poll of 100k
    // hosts (400k files) took 57-76 s on a 2-core AMD machine, past the 60 s meant to catch a
    // hung plugin; a writer that is behind shows it in /status (rrd.lagSeconds, queued).
    delivery: { deadlineMs: RRD_NOTIFY_DEADLINE_MS },
    createPlugin: loadedWhenEnabled(() => require('./rrd/plugin') as typeof import('./rrd/plugin'), (m) => m.createRrdPlugin),
  },
  {
    name: 'graphite', enabled: (config) => config.carbon.server !== null,
    createPlugin: loadedWhenEnabled(() => require('./graphite/plugin') as typeof import('./graphite/plugin'), (m) => m.createGraphitePlugin),
  },
  {
    name: 'remote_write', enabled: (config) => hasSection(config, 'remote_write'),
    createPlugin: loadedWhenEnabled(() => require('./remote-write/plugin') as typeof import('./remote-write/plugin'), (m) => m.createRemoteWritePlugin),
  },
  {
    name: 'memcached', enabled: (config) => config.memcached.parameters !== null,
    createPlugin: loadedWhenEnabled(() => require('./memcached/plugin') as typeof import('./memcached/plugin'), (m) => m.createMemcachedPlugin),
  },
  {
    name: 'prometheus', enabled: (config) => hasSection(config, 'prometheus'),
    createPlugin: loadedWhenEnabled(() => require('./prometheus/plugin') as typeof import('./prometheus/plugin'), (m) => m.createPrometheusPlugin),
  },
  {
    name: 'prometheus_textfile',
    enabled: (config) => hasSection(config, 'prometheus_textfile'),
    createPlugin: loadedWhenEnabled(() => require('./prometheus/textfile') as typeof import('./prometheus/textfile'), (m) => m.createPrometheusTextfilePlugin),
  },
  // Also on with no section when INFLUXDB_URL is in the daemon's environment (v2 export).
  {
    name: 'influxdb',
    enabled: (config) => influxdbWanted(hasSection(config, 'influxdb'), process.env),
    createPlugin: loadedWhenEnabled(() => require('./influxdb/plugin') as typeof import('./influxdb/plugin'), (m) => (context) => m.createInfluxdbPlugin(context, process.env)),
  },
  {
    name: 'riemann', enabled: (config) => config.riemann.server !== null,
    createPlugin: loadedWhenEnabled(() => require('./riemann/plugin') as typeof import('./riemann/plugin'), (m) => m.createRiemannPlugin),
  },
];
