/**
 * The one tree walker: the full dump (XML port, and the interactive port's `/`) and the path
 * queries of the interactive port print the tree through it. Queries follow the C gmetad
 * 3.7.2's process_path():
 * - `/<cluster-or-grid>[/<host>[/<metric>]]`; every level prints its start tag, then the
 *   target's subtree, then the end tags;
 * - a node without children (a metric, a grid in summary form) ignores the rest of the path;
 * - not found: plain mode prints the whole subtree of the deepest match, HTTP mode prints
 *   it as an empty element; `*` matches every child, in HTTP mode only;
 * - the summary filter prints HOSTS+METRICS for the root, clusters and grids and never
 *   descends into hosts; grids always print their summary.
 * Hosts and metrics past their DMAX are treated as absent (store/lifetime).
 *
 * Pieces are strings (one char per byte) or, for the hosts of a cluster read from a
 * SourceImage, byte slices rendered by copying (image-render.ts); shared-dump-cache.ts packs both.
 */
import { clusterRows } from '../store/image/views';
import { isExpired } from '../store/lifetime';
import type { Cluster, Host, Metric, Summary, TreeNode } from '../store/model';
import type { Piece } from './shared-dump-cache';
import { imageHostPieces } from './image-render';
import {
  DOCUMENT_END, DTD_HEADER, GANGLIA_XML_START, HOST_END, hostStart, hostXml, metricXml,
  nodeEnd, nodeStart, rootGridStart, summaryXml,
} from './xml-render';


/** What the walker prints from (a store WalkRoot fits). */
export interface WalkRoot {
  readonly gridname: string;
  readonly authority: string;
  readonly nodes: ReadonlyMap<string, TreeNode>;
  readonly rootSummary: Summary;
}

export type Filter = 'summary' | null;

export interface PathQuery {
  readonly http: boolean;
  readonly path: readonly string[];
  readonly filter: Filter;
}

/** The exact bytes 3.7.2 sends before XML in HTTP mode (note the bare \n after ACAO). */
export const HTTP_XML_HEADER = 'HTTP/1.0 200 OK\r\nServer: gmetad/3.7.2-1\r\n'
  + 'Access-Control-Allow-Origin: *\nContent-Type: application/xml\r\nConnection: close\r\n\r\n';

type QueryNode =
  | { readonly level: 'root'; readonly view: WalkRoot }
  | { readonly level: 'node'; readonly node: TreeNode }
  | { readonly level: 'host'; readonly host: Host }
  | { readonly level: 'metric'; readonly metric: Metric };

/** True when the answer is exactly the XML port's full dump (after any HTTP header). */
export function isFullDump(view: WalkRoot, q: PathQuery): boolean {
  if (q.filter !== null) return false;
  if (q.path.length === 0) return true;
  return !q.http && !view.nodes.has(q.path[0]);
}

const FULL_DUMP: PathQuery = { http: false, path: [], filter: null };

/** What the XML port sends: the whole document, DTD included. */
export function fullDumpPieces(view: WalkRoot, now: number): Generator<Piece> {
  return queryPieces(view, FULL_DUMP, now);
}

/** The whole reply to a path query, in pieces (about one host each). */
export function* queryPieces(view: WalkRoot, q: PathQuery, now: number): Generator<Piece> {
  yield (q.http ? HTTP_XML_HEADER : '') + DTD_HEADER + GANGLIA_XML_START
    + rootGridStart(view.gridname, view.authority, now);
  yield* processPath({ level: 'root', view }, q, 0, now);
  yield DOCUMENT_END;
}

function* processPath(n: QueryNode, q: PathQuery, depth: number, now: number): Generator<Piece> {
  yield startTag(n, now);
  const children = childrenOf(n, now);
  if (children === null || depth >= q.path.length) {
    yield* body(n, q.filter, now);
  } else {
    const element = q.path[depth];
    const found = children.get(element);
    if (found !== undefined) {
      yield* processPath(found, q, depth + 1, now);
    } else if (!q.http) {
      yield* body(n, q.filter, now);
    } else if (element === '*') {
      for (const child of children.values()) yield* processPath(child, q, depth + 1, now);
    }
  }
  yield endTag(n);
}

/** A node's content without its own tags: its summary if the filter applies, then its children. */
function* body(n: QueryNode, filter: Filter, now: number): Generator<Piece> {
  switch (n.level) {
    case 'root':
      if (filter === 'summary') yield summaryXml(n.view.rootSummary);
      for (const node of n.view.nodes.values()) yield* subtree(node, filter, now);
      return;
    case 'node':
      yield* nodeBody(n.node, filter, now);
      return;
    case 'host':
      // The summary filter does not apply to metrics: a host prints as an empty element.
      if (filter === null) {
        for (const m of n.host.metrics.values()) if (!isExpired(m, now)) yield metricXml(m, now);
      }
      return;
    case 'metric':
      return;
  }
}

function* subtree(node: TreeNode, filter: Filter, now: number): Generator<Piece> {
  yield nodeStart(node);
  yield* nodeBody(node, filter, now);
  yield nodeEnd(node);
}

function* nodeBody(node: TreeNode, filter: Filter, now: number): Generator<Piece> {
  if (node.kind === 'grid') {
    yield summaryXml(node.summary);
    return;
  }
  if (filter === 'summary') {
    yield summaryXml(node.summary);
    return;
  }
  yield* clusterHosts(node, now);
}

function* clusterHosts(cluster: Cluster, now: number): Generator<Piece> {
  const rows = clusterRows(cluster);
  if (rows !== undefined) {
    yield* imageHostPieces(rows, now);
    return;
  }
  for (const h of cluster.hosts.values()) if (!isExpired(h, now)) yield hostXml(h, now);
}

function startTag(n: QueryNode, now: number): string {
  switch (n.level) {
    case 'root': return '';
    case 'node': return nodeStart(n.node);
    case 'host': return hostStart(n.host, now);
    case 'metric': return metricXml(n.metric, now);
  }
}

function endTag(n: QueryNode): string {
  switch (n.level) {
    case 'node': return nodeEnd(n.node);
    case 'host': return HOST_END;
    default: return '';
  }
}

/** Lookup table of a node's children, or null for nodes that have none (path ends there). */
interface Children {
  get(name: string): QueryNode | undefined;
  values(): Iterable<QueryNode>;
}

function childrenOf(n: QueryNode, now: number): Children | null {
  switch (n.level) {
    case 'root': return wrap(n.view.nodes, (node) => ({ level: 'node', node }), () => true);
    case 'node':
      if (n.node.kind === 'cluster') {
        return wrap(n.node.hosts, (host) => ({ level: 'host', host }), (h) => !isExpired(h, now));
      }
      return null; // a grid is in summary form: the path ends there
    case 'host':
      return wrap(n.host.metrics, (metric) => ({ level: 'metric', metric }), (m) => !isExpired(m, now));
    case 'metric':
      return null;
  }
}

function wrap<T>(map: ReadonlyMap<string, T>, toNode: (item: T) => QueryNode, visible: (item: T) => boolean): Children {
  return {
    get(name) {
      const item = map.get(name);
      return item !== undefined && visible(item) ? toNode(item) : undefined;
    },
    *values() {
      for (const item of map.values()) if (visible(item)) yield toNode(item);
    },
  };
}
