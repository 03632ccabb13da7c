/**
 * The in-memory Ganglia tree. Every object here is immutable once built: a poll builds a
 * whole new SourceSnapshot and the store swaps it in, so a reader holding a reference (a
 * dump in progress, a plugin) never sees half a poll.
 *
 * Strings are kept exactly as decoded from the wire (ISO-8859-1, one char per byte);
 * escaping happens only when rendering.
 */

/** One `<EXTRA_ELEMENT NAME= VAL=/>`. */
export interface ExtraElement {
  readonly name: string;
  readonly val: string;
}

/** The EXTRA_DATA block of a METRIC or METRICS; shared between metrics when identical. */
export type ExtraData = readonly ExtraElement[];

/** Numeric metric types that are summarised and written to RRDs. */
export const NUMERIC_TYPES: ReadonlySet<string> = new Set([
  'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'float', 'double',
]);

/** Integer types: summaries of these print with no decimals. */
export const INTEGER_TYPES: ReadonlySet<string> = new Set([
  'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32',
]);

export interface Metric {
  readonly name: string;
  /** VAL verbatim as received. */
  readonly val: string;
  /** TYPE as received: string|int8|uint8|int16|uint16|int32|uint32|float|double|timestamp. */
  readonly type: string;
  readonly units: string;
  /**
   * Epoch seconds at which TN was 0: pollTime - TN(received). TN printed at request
   * time is max(0, now - t0), as the C gmetad does.
   */
  readonly t0: number;
  readonly tmax: number;
  readonly dmax: number;
  /** SLOPE as received: zero|positive|negative|both|unspecified|derivative. */
  readonly slope: string;
  /** SOURCE attribute; "gmond" (the DTD default) unless the input said otherwise. */
  readonly source: string;
  readonly extra: ExtraData;
}

export interface Host {
  readonly name: string;
  readonly ip: string;
  readonly reported: number;
  /** Epoch seconds at which the host's TN was 0 (see Metric.t0). */
  readonly t0: number;
  readonly tmax: number;
  readonly dmax: number;
  readonly location: string;
  readonly gmondStarted: number;
  readonly tags: string;
  /** Up iff TN < 4*TMAX at poll time (see store/summary). */
  readonly up: boolean;
  /** In arrival order; keyed by metric NAME. */
  readonly metrics: ReadonlyMap<string, Metric>;
}

/** One `<METRICS>` summary line: the sum of a numeric metric over up hosts. */
export interface MetricSummary {
  readonly name: string;
  readonly sum: number;
  readonly num: number;
  /**
   * Decimal places used to print SUM: 0 for integer types, otherwise the number of
   * digits after the last '.' in the VAL that created the entry (the C gmetad's rule).
   */
  readonly precision: number;
  readonly units: string;
  readonly slope: string;
  readonly source: string;
  readonly extra: ExtraData;
}

export interface Summary {
  readonly hostsUp: number;
  readonly hostsDown: number;
  /** Keyed by metric NAME. */
  readonly metrics: ReadonlyMap<string, MetricSummary>;
}

export interface Cluster {
  readonly kind: 'cluster';
  readonly name: string;
  readonly localtime: number;
  readonly owner: string;
  readonly latlong: string;
  readonly url: string;
  /** Keyed by host NAME as received (lookups are case-sensitive, as in the C gmetad). */
  readonly hosts: ReadonlyMap<string, Host>;
  readonly summary: Summary;
}

export interface Grid {
  readonly kind: 'grid';
  readonly name: string;
  readonly authority: string;
  readonly localtime: number;
  /**
   * HOSTS and METRICS over everything below this grid, nested grids included. A remote grid
   * is always kept in this summary form: with `scalable off` its clusters are flattened to
   * the top level instead (as the C gmetad does), so no grid holds clusters or grids.
   */
  readonly summary: Summary;
}

export type TreeNode = Cluster | Grid;

/** What one successful poll of one data_source produced. */
export interface SourceSnapshot {
  /** The data_source name from gmetad.conf (not a path element). */
  readonly source: string;
  /**
   * Epoch seconds (whole) when the poll started: the C gmetad's time(0) at connect, the
   * reference from which every TN of this poll was turned into a t0.
   */
  readonly polledAt: number;
  /** Top-level CLUSTERs and GRIDs of the document, keyed by their XML NAME. */
  readonly nodes: readonly TreeNode[];
  /**
   * Served only, never given to plugins: top-level nodes earlier polls listed and this one
   * does not, kept as the C gmetad keeps them (store/lifetime). Absent in a polled snapshot.
   */
  readonly absentNodes?: readonly TreeNode[];
}
