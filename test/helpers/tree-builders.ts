/**
 * Factories for hand-built Ganglia trees in tests. Every field has a plausible default;
 * pass only what the test cares about. Summaries are computed with the real
 * SummaryAccumulator, so cluster/grid HOSTS and METRICS agree with the hosts given.
 */
import type {
  Cluster, ExtraData, Grid, Host, Metric, SourceSnapshot, Summary, TreeNode,
} from '../../src/store/model';
import type { SourceState, TreeView } from '../../src/store/store';
import { mergeSummaries, SummaryAccumulator } from '../../src/store/summary';

/** A fixed "now" for tests that do not care about the clock (epoch seconds). */
export const T_NOW = 1_795_255_525;

export const DEFAULT_EXTRA: ExtraData = Object.freeze([
  { name: 'GROUP', val: 'load' },
  { name: 'DESC', val: 'One minute load average' },
  { name: 'TITLE', val: 'One Minute Load Average' },
]);

export function metric(name: string, over: Partial<Metric> = {}): Metric {
  return {
    name,
    val: '0.14',
    type: 'float',
    units: ' ',
    t0: T_NOW - 10,
    tmax: 70,
    dmax: 0,
    slope: 'both',
    source: 'gmond',
    extra: DEFAULT_EXTRA,
    ...over,
  };
}

export function host(name: string, metrics: readonly Metric[] = [], over: Partial<Host> = {}): Host {
  return {
    name,
    ip: '127.0.0.1',
    reported: T_NOW - 10,
    t0: T_NOW - 10,
    tmax: 20,
    dmax: 86400,
    location: 'unspecified',
    gmondStarted: T_NOW - 3600,
    tags: '',
    up: true,
    metrics: new Map(metrics.map((m) => [m.name, m])),
    ...over,
  };
}

export function clusterSummary(hosts: readonly Host[]): Summary {
  const acc = new SummaryAccumulator();
  for (const h of hosts) acc.addHost(h);
  return acc.finish();
}

export function cluster(name: string, hosts: readonly Host[] = [], over: Partial<Cluster> = {}): Cluster {
  return {
    kind: 'cluster',
    name,
    localtime: T_NOW - 8,
    owner: 'unspecified',
    latlong: 'unspecified',
    url: 'unspecified',
    hosts: new Map(hosts.map((h) => [h.name, h])),
    summary: clusterSummary(hosts),
    ...over,
  };
}

/**
 * A remote grid. With no children it is in summary form (pass `summary`); with children
 * (scalable off) its summary defaults to the merge of theirs.
 */
export function grid(name: string, children: readonly TreeNode[] = [], over: Partial<Grid> = {}): Grid {
  return {
    kind: 'grid',
    name,
    authority: `http://${name.toLowerCase()}.example/ganglia/`,
    localtime: T_NOW - 5,
    children: new Map(children.map((c) => [c.name, c])),
    summary: mergeSummaries(children.map((c) => c.summary)),
    ...over,
  };
}

export function snapshot(source: string, nodes: readonly TreeNode[], polledAt = T_NOW - 8): SourceSnapshot {
  return { source, polledAt, nodes };
}

export interface ViewOptions {
  readonly gridname?: string;
  readonly authority?: string;
  readonly sources?: readonly SourceState[];
  /** Defaults to the merge of the top-level nodes' summaries. */
  readonly rootSummary?: Summary;
}

/** A TreeView as the store would publish it, from top-level nodes. */
export function view(nodes: readonly TreeNode[], opts: ViewOptions = {}): TreeView {
  return {
    version: 1,
    gridname: opts.gridname ?? 'TestGrid',
    authority: opts.authority ?? 'http://test.example/ganglia/',
    nodes: new Map(nodes.map((n) => [n.name, n])),
    rootSummary: opts.rootSummary ?? mergeSummaries(nodes.map((n) => n.summary)),
    sources: opts.sources ?? [],
  };
}

/**
 * A big synthetic tree like the benchmark's: `clusters` clusters of `hostsPerCluster` hosts
 * with `metricsPerHost` float metrics each (EXTRA_DATA shared per metric name).
 */
export function bigView(clusters: number, hostsPerCluster: number, metricsPerHost: number, now = T_NOW): TreeView {
  const extras: ExtraData[] = [];
  for (let i = 0; i < metricsPerHost; i++) {
    extras.push(Object.freeze([
      { name: 'GROUP', val: `group${i % 7}` },
      { name: 'DESC', val: `Synthetic metric number ${i} for load tests` },
      { name: 'TITLE', val: `Synthetic Metric ${i}` },
    ]));
  }
  const nodes: Cluster[] = [];
  for (let c = 0; c < clusters; c++) {
    const hosts: Host[] = [];
    for (let h = 0; h < hostsPerCluster; h++) {
      const ms: Metric[] = [];
      for (let i = 0; i < metricsPerHost; i++) {
        ms.push(metric(`metric_${i}`, {
          val: ((h * 31 + i * 7) % 1000 / 10).toFixed(2), units: 'units', t0: now - (i % 30), extra: extras[i],
        }));
      }
      hosts.push(host(`host-${c}-${h}.example.org`, ms, { ip: `10.${c}.${h >> 8}.${h & 255}`, t0: now - 5 }));
    }
    nodes.push(cluster(`Cluster${c}`, hosts));
  }
  return view(nodes);
}
