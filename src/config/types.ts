/**
 * The validated, frozen configuration. Built once from gmetad.conf (and the command line)
 * by config/load; nothing else in the daemon reads the file or re-validates values.
 */

export interface SourceAddress {
  /** Host name, IPv4 or IPv6 address (without brackets). */
  readonly host: string;
  readonly port: number;
}

export interface DataSourceConfig {
  readonly name: string;
  /** Poll interval in seconds (default 15). */
  readonly step: number;
  /** In the order listed; failover tries the last good one first, then these in order. */
  readonly addresses: readonly SourceAddress[];
  /** Where it was declared, for messages: "file:line". */
  readonly origin: string;
  /** Effective limits (the `limits { }` section over the defaults). */
  readonly limits: SourceLimits;
}

/** What one poll of a source may cost before it is aborted (see config/limits). */
export interface SourceLimits {
  /** Bytes of the document after gunzip. */
  readonly maxDocumentBytes: number;
  /** HOST elements kept from one document; also the most hosts a cluster keeps while absent. */
  readonly maxHosts: number;
  /** METRIC elements of hosts in one document; also the most metrics a source keeps in all. */
  readonly maxMetrics: number;
  /** The whole poll: connect, failover, read and parse. */
  readonly maxPollSeconds: number;
}

/** A gmetad-python style `name { directive value ... }` section, kept for plugins. */
export interface PluginSection {
  readonly name: string;
  /** Each directive with its values, in file order; a directive may repeat. */
  readonly directives: readonly { readonly key: string; readonly values: readonly string[]; readonly origin: string }[];
  readonly origin: string;
}

export interface GmetadConfig {
  /** Absolute path of the file this came from (or "<defaults>"). */
  readonly file: string;
  readonly dataSources: readonly DataSourceConfig[];
  readonly gridname: string;
  /** Explicitly configured authority URL, or null: then http://<hostname>/ganglia/. */
  readonly authority: string | null;
  readonly trustedHosts: readonly string[];
  readonly allTrusted: boolean;
  readonly debugLevel: number;
  readonly xmlPort: number;
  readonly interactivePort: number;
  readonly serverThreads: number;
  /** Numeric umask (parsed as octal, as the C gmetad does), or null to leave the process umask. */
  readonly umask: number | null;
  readonly rrdRootdir: string;
  readonly rrdcachedAddress: string | null;
  readonly setuid: boolean;
  readonly setuidUsername: string;
  readonly scalable: boolean;
  readonly writeRrds: boolean;
  readonly rras: readonly string[];
  readonly caseSensitiveHostnames: boolean;
  readonly carbon: {
    readonly server: string | null;
    readonly port: number;
    readonly protocol: 'tcp' | 'udp';
    readonly timeoutMs: number;
    readonly graphitePrefix: string | null;
    readonly graphitePath: string | null;
  };
  readonly memcached: {
    readonly parameters: string | null;
    /** `memcached_include_cluster_in_key`: keys are CLUSTER/HOST/METRIC instead of HOST/METRIC. */
    readonly includeClusterInKey: boolean;
  };
  readonly riemann: {
    readonly server: string | null;
    readonly port: number;
    readonly protocol: 'tcp' | 'udp';
    readonly attributes: string | null;
  };
  readonly unsummarizedMetrics: readonly string[];
  readonly unsummarizedSflowVmMetrics: boolean;
  /** Empty means "summarise everything numeric". */
  readonly summarizedMetrics: readonly string[];
  readonly pluginsDir: string | null;
  /**
   * gmetad-ts: the nice value the port thread asks for when it may (root, or RLIMIT_NICE),
   * ahead of the parse workers and other processes; 0 leaves it as started.
   */
  readonly portThreadNice: number;
  readonly pluginSections: readonly PluginSection[];
}
