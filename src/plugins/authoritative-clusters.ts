import type { Cluster, TreeNode } from '../store/model';

/**
 * The clusters of a snapshot whose hosts this gmetad is the authority for: the top-level
 * ones (a remote grid is kept in summary form only; with `scalable off` its clusters are
 * flattened to the top level, as the C gmetad ignores GRID tags then).
 */
export function* authoritativeClusters(nodes: Iterable<TreeNode>): Generator<Cluster> {
  for (const node of nodes) if (node.kind === 'cluster') yield node;
}
