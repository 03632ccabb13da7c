/**
 * What goes to memcached, as in the C gmetad 3.7.2 (write_data_to_memcached, called from
 * startElement_METRIC in gmetad/process_xml.c):
 *
 * - every metric, strings included, of every host that is up, in the clusters this gmetad
 *   polls itself (not the hosts of child grids, not summaries); a metric whose DMAX has
 *   expired is skipped;
 * - key `HOST/METRIC`, or `CLUSTER/HOST/METRIC` with `memcached_include_cluster_in_key 1`
 *   (names as received: no case folding, no character replaced), after the namespace
 *   (`--NAMESPACE=`) if memcached_parameters sets one;
 * - value: VAL as received; flags 0; expiry: the metric's DMAX (0: never).
 * - The C length rule: a key is skipped when the names plus 3 exceed 250 bytes.
 *
 * Sent as `set KEY 0 DMAX BYTES noreply`: the C gmetad waits for each STORED (libmemcached's
 * default); pipelining without replies sends a 100,000-metric poll in a few writes. memcached
 * still answers a malformed command with an error line, which is counted.
 * Unlike the C gmetad, a key holding whitespace or control characters (which the text
 * protocol cannot carry: libmemcached sends it anyway and memcached rejects the command
 * and misreads the value as the next one) is skipped and counted.
 */
import type { Cluster, Host } from '../../store/model';
import { serverIndexFor } from '../../config/memcached-parameters';

/** memcached's limit, and the C gmetad's MEMCACHED_MAX_KEY_LENGTH. */
export const MEMCACHED_MAX_KEY_LENGTH = 250;
const UNSAFE_KEY = /[\x00-\x20\x7f]/;

export interface SetSink {
  /** One `set` command for the server at `server` (index in the configured list). */
  add(server: number, command: string): void;
}

export interface SetCounts {
  sets: number;
  /** Keys skipped: longer than the C limit, or holding characters the protocol cannot carry. */
  badKeys: number;
}

export interface MemcachedKeyOptions {
  readonly includeCluster: boolean;
  readonly namespace: string;
  readonly serverCount: number;
}

export function memcachedSetsForHost(cluster: Cluster, host: Host, options: MemcachedKeyOptions, sink: SetSink, counts: SetCounts): void {
  if (!host.up) return;
  const base = options.includeCluster ? `${cluster.name}/${host.name}/` : `${host.name}/`;
  // The C check counts 3 separators whether or not the cluster is in the key.
  const baseLength = options.includeCluster ? cluster.name.length + host.name.length + 3 : host.name.length + 3;
  for (const metric of host.metrics.values()) {
    const key = base + metric.name;
    if (baseLength + metric.name.length > MEMCACHED_MAX_KEY_LENGTH
      || options.namespace.length + key.length > MEMCACHED_MAX_KEY_LENGTH || UNSAFE_KEY.test(key)) {
      counts.badKeys += 1;
      continue;
    }
    const server = options.serverCount > 1 ? serverIndexFor(Buffer.from(key, 'latin1'), options.serverCount) : 0;
    sink.add(server, `set ${options.namespace}${key} 0 ${metric.dmax} ${metric.val.length} noreply\r\n${metric.val}\r\n`);
    counts.sets += 1;
  }
}
