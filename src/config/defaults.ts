/**
 * Compiled-in defaults of the C gmetad 3.7.2 (set_defaults() in gmetad/conf.c.in, with
 * Debian's @varstatedir@ = /var/lib), used for every directive the file does not set.
 */
import { deepFreeze } from './freeze';
import type { GmetadConfig } from './types';

/** The data_source poll interval when none is given (C: dslist->step = 15). */
export const DEFAULT_STEP = 15;
/** The data_source port when an address has none (gmond's default port; C: 8649). */
export const DEFAULT_SOURCE_PORT = 8649;
/** Pseudo file name of a config built from defaults only. */
export const DEFAULTS_FILE = '<defaults>';

export function defaultConfig(file: string = DEFAULTS_FILE): GmetadConfig {
  return deepFreeze<GmetadConfig>({
    file,
    dataSources: [], // C: no default data source
    gridname: 'unspecified', // C default
    authority: null, // C default: "http://<gethostname()>/ganglia/", computed at startup
    trustedHosts: [], // C default: none (127.0.0.1 is always trusted by the server)
    allTrusted: false, // C default 0
    debugLevel: 0, // C default 0 (daemonize)
    xmlPort: 8651, // C default
    interactivePort: 8652, // C default
    serverThreads: 4, // C default
    // C default 0, but the C gmetad calls umask() only when it daemonizes; null = not
    // configured, the daemon applies 0 when detaching as the C one does.
    umask: null,
    rrdRootdir: '/var/lib/ganglia/rrds', // C default "@varstatedir@/ganglia/rrds"
    rrdcachedAddress: null, // C default: write RRDs with librrd directly
    setuid: true, // C default 1
    setuidUsername: 'nobody', // C default
    scalable: true, // C default 1
    writeRrds: true, // C default 1
    rras: ['RRA:AVERAGE:0.5:1:5856', 'RRA:AVERAGE:0.5:4:20160', 'RRA:AVERAGE:0.5:40:52704'], // C default
    caseSensitiveHostnames: true, // C default 1 (the sample gmetad.conf sets 0)
    carbon: {
      server: null, // C default: no Graphite export
      port: 2003, // C default
      protocol: 'tcp', // C default
      timeoutMs: 500, // C default
      graphitePrefix: null, // C default
      graphitePath: null, // C default (then prefix.%s.%h.%m)
    },
    memcached: {
      parameters: null, // C default: no memcached export
      includeClusterInKey: false, // C memcached_include_cluster_in_key default 0
    },
    riemann: {
      server: null, // C default: no Riemann export
      port: 5555, // C default
      protocol: 'udp', // C default
      attributes: null, // C default
    },
    unsummarizedMetrics: [], // C default
    unsummarizedSflowVmMetrics: false, // C default 0
    summarizedMetrics: [], // C default: summarise everything numeric
    pluginsDir: null, // gmetad-python only; no plugins unless configured
    pluginSections: [],
    portThreadNice: -10, // gmetad-ts only (util/thread-priority.ts)
  });
}

/** The defaults as one frozen object, for comparisons and documentation. */
export const DEFAULTS: GmetadConfig = defaultConfig();
