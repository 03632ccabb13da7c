/**
 * Factories for hand-built Ganglia trees in tests. Every field has a plausible default;
 * pass only what the test cares about. Summaries are computed with the real
 * SummaryAccumulator, so cluster/grid HOSTS and METRICS agree with the hosts given.
 */
import * as sax from 'sax';
import type {
  Cluster, ExtraData, Grid, Host, Metric, MetricSummary, SourceSnapshot, Summary, TreeNode,
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

/** A remote grid, always in summary form (pass `summary`; empty by default). */
export function grid(name: string, over: Partial<Grid> = {}): Grid {
  return {
    kind: 'grid',
    name,
    authority: `http://${name.toLowerCase()}.example/ganglia/`,
    localtime: T_NOW - 5,
    summary: mergeSummaries([]),
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

/**
 * Rebuilds a tree from a gmetad XML dump (e.g. the anchor fixtures), as it was at `now`
 * (the dump's root LOCALTIME): t0 = now - TN, so rendering at `now` gives back the same TN.
 * Summaries (root, clusters, grids) come from `summaryXml` (a `/?filter=summary` dump of
 * the same moment) when given, else are computed. Order is document order.
 */
export function treeFromGmetadXml(xml: string, summaryXml?: string): { view: TreeView; now: number } {
  const full = parseGmetadXml(xml);
  const sums = summaryXml === undefined ? null : parseGmetadXml(summaryXml);
  const nodes = full.nodes.map((n) => withSummaries(n, sums?.summaries));
  return {
    now: full.now,
    view: view(nodes, {
      gridname: full.gridname,
      authority: full.authority,
      rootSummary: sums?.summaries.get('') ?? mergeSummaries(nodes.map((n) => n.summary)),
    }),
  };
}

function withSummaries(node: TreeNode, sums: Map<string, Summary> | undefined): TreeNode {
  const s = sums?.get(node.name);
  return s ? { ...node, summary: s } : node;
}

interface ParsedDump {
  now: number;
  gridname: string;
  authority: string;
  nodes: TreeNode[];
  /** HOSTS/METRICS per node NAME; '' is the root grid. */
  summaries: Map<string, Summary>;
}

function parseGmetadXml(xml: string): ParsedDump {
  const parser = sax.parser(true, {});
  const out: ParsedDump = { now: 0, gridname: '', authority: '', nodes: [], summaries: new Map() };
  type Frame = { name: string; kind: string; attrs: Record<string, string>; children: unknown[]; extra: { name: string; val: string }[]; hostsUp?: number; hostsDown?: number; metrics?: Map<string, MetricSummary> };
  const stack: Frame[] = [];
  let depthGrid = 0;
  parser.onopentag = (tag) => {
    const attrs = tag.attributes as Record<string, string>;
    const frame: Frame = { name: attrs.NAME ?? '', kind: tag.name, attrs, children: [], extra: [] };
    if (tag.name === 'GRID' && depthGrid++ === 0) {
      out.now = Number(attrs.LOCALTIME);
      out.gridname = attrs.NAME;
      out.authority = attrs.AUTHORITY;
      frame.name = '';
    }
    if (tag.name === 'EXTRA_ELEMENT') stack[stack.length - 2].extra.push({ name: attrs.NAME, val: attrs.VAL });
    if (tag.name === 'HOSTS') {
      const parent = stack[stack.length - 1];
      parent.hostsUp = Number(attrs.UP);
      parent.hostsDown = Number(attrs.DOWN);
    }
    stack.push(frame);
  };
  parser.onclosetag = (name) => {
    const f = stack.pop()!;
    const parent = stack[stack.length - 1];
    const a = f.attrs;
    const now = out.now;
    const summary = (): Summary | null => (f.hostsUp === undefined ? null
      : { hostsUp: f.hostsUp, hostsDown: f.hostsDown ?? 0, metrics: f.metrics ?? new Map() });
    switch (name) {
      case 'METRIC':
        parent.children.push(metric(a.NAME, {
          val: a.VAL, type: a.TYPE, units: a.UNITS, t0: now - Number(a.TN), tmax: Number(a.TMAX),
          dmax: Number(a.DMAX), slope: a.SLOPE, source: a.SOURCE, extra: f.extra,
        }));
        break;
      case 'METRICS': {
        parent.metrics ??= new Map();
        const dot = a.SUM.indexOf('.');
        parent.metrics.set(a.NAME, {
          name: a.NAME, sum: Number(a.SUM), num: Number(a.NUM), precision: dot < 0 ? 0 : a.SUM.length - dot - 1,
          units: a.UNITS, slope: a.SLOPE, source: a.SOURCE, extra: f.extra,
        });
        break;
      }
      case 'HOST': {
        const tn = Number(a.TN);
        parent.children.push(host(a.NAME, f.children as Metric[], {
          ip: a.IP, reported: Number(a.REPORTED), t0: now - tn, tmax: Number(a.TMAX), dmax: Number(a.DMAX),
          location: a.LOCATION, gmondStarted: Number(a.GMOND_STARTED), tags: a.TAGS, up: tn < 4 * Number(a.TMAX),
        }));
        break;
      }
      case 'CLUSTER': {
        const s = summary();
        const c = cluster(a.NAME, f.children as Host[], {
          localtime: Number(a.LOCALTIME), owner: a.OWNER, latlong: a.LATLONG, url: a.URL,
        });
        if (s) out.summaries.set(a.NAME, s);
        parent.children.push(c);
        break;
      }
      case 'GRID': {
        const s = summary();
        if (f.name === '') {
          out.nodes = f.children as TreeNode[];
          if (s) out.summaries.set('', s);
        } else {
          // A child grid is printed in summary form only: what is inside it is not kept.
          const g = grid(a.NAME, { authority: a.AUTHORITY, localtime: Number(a.LOCALTIME), ...(s ? { summary: s } : {}) });
          if (s) out.summaries.set(a.NAME, s);
          parent.children.push(g);
        }
        break;
      }
      default:
        break;
    }
  };
  parser.write(xml).close();
  return out;
}
