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
 * Unlike C, what is kept is bounded: a cluster keeps at most max_hosts hosts (the absent
 * ones silent the longest go first) and a source at most max_metrics metrics (absent ones
 * beyond that are dropped), so a source spoofing new host or metric names every poll
 * cannot grow the daemon's memory without bound.
 *
 * The expiry rule itself is one for the whole daemon (the builder at poll time, the dumps and
 * queries at request time, the RRD writer, this merge): isExpired below.
 */
import { listsEveryMetricOf, listsEverythingOf } from './image/views';
import type { Cluster, Host, Metric, SourceSnapshot, TreeNode } from './model';

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
  if (before.size === 0) return polled;
  const budget = { metrics: maxMetrics };
  for (const node of polled.nodes) {
    if (node.kind === 'cluster') for (const h of node.hosts.values()) budget.metrics -= h.metrics.size;
  }
  let changed = false;
  const nodes: TreeNode[] = polled.nodes.map((node) => {
    const old = node.kind === 'cluster' ? before.get(node.name) : undefined;
    if (node.kind !== 'cluster' || old === undefined) return node;
    const merged = mergeCluster(old, node, polled.polledAt, maxHosts, budget);
    if (merged !== node) changed = true;
    return merged;
  });
  return changed ? { ...polled, nodes } : polled;
}

/** How many more metrics may be kept while absent (max_metrics minus those polled). */
interface Budget {
  metrics: number;
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
