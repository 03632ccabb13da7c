/**
 * The SourceImage: one polled data source in a compact form that crosses threads without
 * copying. A parse worker encodes it (encode.ts) and transfers its ArrayBuffers to the main
 * thread, which reads it in place through lazy views (views.ts) and renders dumps from it by
 * copying bytes (server/image-render.ts). See docs/architecture.md.
 *
 * A million metrics are three Uint32Arrays' worth of numbers plus their VAL bytes, instead
 * of a million JS objects: the main thread's heap stays small and its collections short.
 */
import type { ExtraData, Grid, Summary } from '../model';

/** Columns of SourceImage.hosts, one row of HOST_FIELDS u32 per host. */
export const enum HostField {
  Name = 0,
  Ip,
  Reported,
  /** TN at poll time: t0 = polledAt - TN (see model.Host.t0). */
  Tn,
  Tmax,
  Dmax,
  Location,
  GmondStarted,
  Tags,
  /** 1 or 0. */
  Up,
  FirstMetric,
  MetricCount,
  /** Index in SourceImage.layouts of the host's metric names, in order. */
  Layout,
}
export const HOST_FIELDS = 13;

/** Columns of SourceImage.metrics, one row of METRIC_FIELDS u32 per metric. */
export const enum MetricField {
  Shape = 0,
  Val,
  Tn,
}
export const METRIC_FIELDS = 3;

/**
 * Strings as bytes: string i is bytes[offsets[i] .. offsets[i+1]). In `strings` the bytes are
 * the value already escaped for an XML attribute (latin1; what a dump writes); `raw` holds
 * the original text of the few strings whose escaped form differs.
 */
export interface StringTable {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
  readonly raw: ReadonlyMap<number, string>;
}

/** What a metric shares with the same metric on other hosts (model.Metric minus val, t0). */
export interface ShapeRecord {
  readonly name: string;
  readonly type: string;
  readonly units: string;
  readonly tmax: number;
  readonly dmax: number;
  readonly slope: string;
  readonly source: string;
  readonly extra: ExtraData;
}

/** Pre-rendered pieces of a METRIC element per shape: A VAL B TN C (see encode.ts). */
export const FRAGMENTS_PER_SHAPE = 3;

export interface ClusterRecord {
  readonly kind: 'cluster';
  readonly name: string;
  readonly localtime: number;
  readonly owner: string;
  readonly latlong: string;
  readonly url: string;
  readonly summary: Summary;
  readonly firstHost: number;
  readonly hostCount: number;
}

export type NodeRecord = ClusterRecord | Grid;

export interface SourceImage {
  readonly source: string;
  /** Poll start, whole epoch seconds (model.SourceSnapshot.polledAt). */
  readonly polledAt: number;
  readonly strings: StringTable;
  readonly shapes: readonly ShapeRecord[];
  /** FRAGMENTS_PER_SHAPE byte strings per shape; `raw` is empty. */
  readonly fragments: StringTable;
  readonly hosts: Uint32Array;
  readonly metrics: Uint32Array;
  /**
   * The distinct lists of metric names hosts have, in order (hosts of a cluster mostly share
   * one): lets the main thread compare two hosts' metric sets without reading every metric.
   */
  readonly layouts: readonly (readonly string[])[];
  /** Top-level clusters and grids, in document order. Small: structured-cloned. */
  readonly nodes: readonly NodeRecord[];
}

/** The buffers to transfer (not copy) with postMessage. Each is owned by the image alone. */
export function transferList(image: SourceImage): ArrayBuffer[] {
  return [
    image.strings.bytes.buffer, image.strings.offsets.buffer,
    image.fragments.bytes.buffer, image.fragments.offsets.buffer,
    image.hosts.buffer, image.metrics.buffer,
  ] as ArrayBuffer[];
}
