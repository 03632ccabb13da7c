/**
 * Host and metric lifetime as in the C gmetad 3.7.2 (process_xml.c, cleanup.c): a host or
 * metric that a source stops listing is not dropped at the next poll. The C gmetad keeps
 * its last record, so its TN keeps growing (t0 stays), until now - t0 > DMAX; with DMAX 0
 * it is kept for ever. It takes no part in the summaries (HOSTS UP/DOWN and METRICS count
 * what the latest document listed, as in C), and nothing is written for it (RRDs,
 * exporters): plugins are given the snapshot as polled, this merge is only for the tree
 * that is served. A parent gmetad or gweb reading it sees the growing TN and counts the host
 * down, as they do with the C gmetad.
 *
 * A whole CLUSTER (or GRID) the source stops listing is kept too, as C keeps it ("we never
 * delete a source", cleanup.c): served with its last attributes and summary, its hosts ageing
 * and going one by one at their DMAX; once all are gone it stays, empty. Its summary still
 * counts in the root grid while its source answers (C's root summary adds every source whose
 * data_source is alive). A cluster listed again, by this or another source, replaces it.
 *
 * Unlike C, what is kept is bounded: a cluster keeps at most max_hosts hosts (the absent
 * ones silent the longest go first) and a source at most max_metrics metrics (absent ones
 * beyond that are dropped); absent clusters are kept while the source's hosts in all stay
 * within max_hosts (an empty cluster counting as one; the ones absent the longest go first),
 * so a source spoofing new host, metric or cluster names every poll cannot grow the daemon's
 * memory without bound. An absent cluster is copied out of its poll's image, so it does not
 * hold that whole image alive.
 *
 * The expiry rule itself is one for the whole daemon (the builder at poll time, the dumps and
 * queries at request time, the RRD writer, this merge): isExpired below.
 */
import { listsEveryMetricOf, listsEverythingOf } from './image/views';
import type { Cluster, Host, Metric, SourceSnapshot, TreeNode } from './model';
import { clusterRows } from './image/views';

/** TN at `now` of an item whose TN was 0 at `t0`: whole seconds, never negative. */
export function tnAt(t0: number, now: number): number {
  const tn = Math.floor(now - t0);
  return tn > 0 ? tn : 0;
}

/** Whether an item with this TN and DMAX is past its lifetime (DMAX 0: never). */
export function isExpiredAt(tn: number, dmax: number): boolean {
  return dmax > 0 && tn > dmax;
}

/** Whether a host or metric is past its DMAX at `now` (epoch seconds): gone, as in C. */
export function isExpired(item: { readonly t0: number; readonly dmax: number }, now: number): boolean {
  return isExpiredAt(tnAt(item.t0, now), item.dmax);
}

/**
 * `polled` with the hosts and metrics of `previous` (the same source's last merged
 * snapshot) that it no longer lists and that have not expired. Returns `polled` itself
 * when nothing is kept, so the common case costs one pass and no allocation.
 */
export function keepAbsent(
  previous: SourceSnapshot | null,
  polled: SourceSnapshot,
  maxHosts: number,
  maxMetrics = Infinity,
): SourceSnapshot {
  if (previous === null) return polled;
  const before = new Map<string, Cluster>();
  for (const node of previous.nodes) if (node.kind === 'cluster') before.set(node.name, node);
  const previousAbsent = previous.absentNodes ?? [];
  // A kept cluster listed again takes its absent hosts along, as in C (one host table per name).
  for (const node of previousAbsent) if (node.kind === 'cluster' && !before.has(node.name)) before.set(node.name, node);
  if (before.size === 0 && previousAbsent.length === 0) return polled;
  const budget = metricBudget(maxMetrics, polled);
  let changed = false;
  const nodes: TreeNode[] = polled.nodes.map((node) => {
    const old = node.kind === 'cluster' ? before.get(node.name) : undefined;
    if (node.kind !== 'cluster' || old === undefined) return node;
    const merged = mergeCluster(old, node, polled.polledAt, maxHosts, budget);
    if (merged !== node) changed = true;
    return merged;
  });
  const absentNodes = keepAbsentNodes(previous.nodes, previousAbsent, polled, nodes, maxHosts, budget);
  if (absentNodes.length > 0) return { ...polled, nodes: changed ? nodes : polled.nodes, absentNodes };
  return changed ? { ...polled, nodes } : polled;
}

/**
 * The clusters and grids `previous` listed (or kept) that `polled` does not list, most
 * recently listed first, each cluster with its unexpired hosts only, within the source's
 * host budget (max_hosts less the hosts served in listed clusters) and the metric budget.
 */
function keepAbsentNodes(
  previouslyListed: readonly TreeNode[],
  previouslyAbsent: readonly TreeNode[],
  polled: SourceSnapshot,
  served: readonly TreeNode[],
  maxHosts: number,
  budget: Budget,
): TreeNode[] {
  const listed = new Set<string>();
  for (const node of polled.nodes) listed.add(node.name);
  let hostRoom = maxHosts;
  for (const node of served) if (node.kind === 'cluster') hostRoom -= node.hosts.size;
  const kept: TreeNode[] = [];
  const seen = new Set<string>();
  for (const node of [...previouslyListed, ...previouslyAbsent]) {
    if (listed.has(node.name) || seen.has(node.name)) continue;
    seen.add(node.name);
    if (hostRoom <= 0) break;
    if (node.kind === 'grid') {
      hostRoom -= 1;
      kept.push(node);
      continue;
    }
    const absent = absentCluster(node, polled.polledAt, hostRoom, budget);
    hostRoom -= Math.max(1, absent.hosts.size);
    kept.push(absent);
  }
  return kept;
}

/**
 * `cluster` as kept while absent: its hosts that have not expired, marked down, at most
 * `hostRoom` of them and within the metric budget; copied into plain objects when it is a
 * view of a poll's image. Returns `cluster` itself when nothing changes.
 */
function absentCluster(cluster: Cluster, now: number, hostRoom: number, budget: Budget): Cluster {
  const fromImage = clusterRows(cluster) !== undefined;
  let hosts: Map<string, Host> | null = fromImage ? new Map() : null;
  let count = 0;
  for (const [name, host] of cluster.hosts) {
    const size = host.metrics.size;
    const keep = !isExpired(host, now) && count < hostRoom && size <= budget.metrics;
    if (keep) {
      count += 1;
      budget.metrics -= size;
    }
    if (keep && !fromImage && !host.up && hosts === null) continue;
    if (hosts === null) {
      // The first change: the hosts before it are kept as they are.
      hosts = new Map();
      for (const [n, h] of cluster.hosts) {
        if (n === name) break;
        hosts.set(n, h);
      }
    }
    if (!keep) continue;
    const metrics = fromImage ? copyMetrics(host.metrics) : host.metrics;
    hosts.set(name, host.up || fromImage ? hostWith(host, { up: false, metrics }) : host);
  }
  if (hosts === null) return cluster;
  return {
    kind: 'cluster', name: cluster.name, localtime: cluster.localtime, owner: cluster.owner,
    latlong: cluster.latlong, url: cluster.url, hosts, summary: cluster.summary,
  };
}

/** Plain copies of `metrics` (read out of an image view, so the image can be freed). */
function copyMetrics(metrics: ReadonlyMap<string, Metric>): Map<string, Metric> {
  const copy = new Map<string, Metric>();
  for (const [name, m] of metrics) {
    copy.set(name, {
      name: m.name, val: m.val, type: m.type, units: m.units, t0: m.t0, tmax: m.tmax, dmax: m.dmax,
      slope: m.slope, source: m.source, extra: m.extra,
    });
  }
  return copy;
}

/** How many more metrics may be kept while absent (max_metrics minus those polled). */
interface Budget {
  metrics: number;
}

/**
 * The budget, counted on first use: counting reads every polled host (a view per host of an
 * image), which the steady state — nothing absent to keep — never needs. At 100k hosts that
 * count held the event loop for tens of milliseconds on every poll.
 */
function metricBudget(maxMetrics: number, polled: SourceSnapshot): Budget {
  let left: number | undefined;
  return {
    get metrics(): number {
      if (left === undefined) {
        left = maxMetrics;
        for (const node of polled.nodes) {
          if (node.kind === 'cluster') for (const h of node.hosts.values()) left -= h.metrics.size;
        }
      }
      return left;
    },
    set metrics(value: number) {
      left = value;
    },
  };
}

function mergeCluster(old: Cluster, fresh: Cluster, now: number, maxHosts: number, budget: Budget): Cluster {
  // The steady state, told from the images without a view per host (store/image/views).
  if (listsEverythingOf(fresh, old) === true) return fresh;
  let hosts: Map<string, Host> | null = null;
  const copy = (): Map<string, Host> => (hosts ??= new Map(fresh.hosts));
  for (const [name, host] of fresh.hosts) {
    const before = old.hosts.get(name);
    if (before === undefined) continue;
    const merged = mergeMetrics(before, host, now, budget);
    if (merged !== host) copy().set(name, merged);
  }
  const absent: Host[] = [];
  for (const [name, host] of old.hosts) {
    if (!fresh.hosts.has(name) && !isExpired(host, now)) absent.push(host);
  }
  if (absent.length > 0) {
    const room = Math.max(0, maxHosts - fresh.hosts.size);
    // Over the bound: the ones silent the longest go first.
    if (absent.length > room) absent.sort((a, b) => b.t0 - a.t0).length = room;
    const map = copy();
    for (const host of absent) {
      // Past max_metrics (counting what was polled), absent hosts are dropped, not kept.
      if (host.metrics.size > budget.metrics) continue;
      budget.metrics -= host.metrics.size;
      map.set(host.name, host.up ? hostWith(host, { up: false }) : host);
    }
  }
  return hosts === null ? fresh : { ...fresh, hosts };
}

/** `fresh` with the unexpired metrics `before` had and `fresh` does not list. */
function mergeMetrics(before: Host, fresh: Host, now: number, budget: Budget): Host {
  // The common case, answered without reading the metrics when both are image views.
  if (listsEveryMetricOf(fresh, before) === true) return fresh;
  let metrics: Map<string, Metric> | null = null;
  // By name first: with image views (store/image) a metric object is made only when kept.
  for (const name of before.metrics.keys()) {
    if (fresh.metrics.has(name)) continue;
    const metric = before.metrics.get(name)!;
    if (isExpired(metric, now) || budget.metrics <= 0) continue;
    budget.metrics -= 1;
    (metrics ??= new Map(fresh.metrics)).set(name, metric);
  }
  return metrics === null ? fresh : hostWith(fresh, { metrics });
}

/**
 * A plain copy of `host` with some fields replaced. Not `{ ...host }`: a Host may keep its
 * fields in getters (the image views of store/image), which a spread does not copy.
 */
function hostWith(host: Host, patch: Partial<Host>): Host {
  return {
    name: host.name, ip: host.ip, reported: host.reported, t0: host.t0, tmax: host.tmax, dmax: host.dmax,
    location: host.location, gmondStarted: host.gmondStarted, tags: host.tags, up: host.up, metrics: host.metrics,
    ...patch,
  };
}
