/**
 * Read-only views of a SourceImage that implement the model's interfaces (Cluster, Host,
 * Metric), so the servers and the plugins read an image exactly as they read objects. A view
 * is made on access and holds only a reference to the image and an index: reading every
 * metric of a poll allocates short-lived objects, and holding a snapshot holds the image's
 * few buffers, not a million objects.
 */
import type { Cluster, ExtraData, Grid, Host, Metric, SourceSnapshot, Summary, TreeNode } from '../model';
import {
  type ClusterRecord, HOST_FIELDS, HostField, METRIC_FIELDS, MetricField, type ShapeRecord, type SourceImage,
  type StringTable,
} from './format';

/** Decodes strings and numbers of one image. */
export class ImageReader {
  readonly hosts: Uint32Array;
  readonly metrics: Uint32Array;
  readonly shapes: readonly ShapeRecord[];
  readonly polledAt: number;
  private readonly text: Buffer;

  constructor(readonly image: SourceImage) {
    this.hosts = image.hosts;
    this.metrics = image.metrics;
    this.shapes = image.shapes;
    this.polledAt = image.polledAt;
    const b = image.strings.bytes;
    this.text = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  private fragments: Uint8Array[] | null = null;

  /** The pre-rendered METRIC fragments (format.FRAGMENTS_PER_SHAPE per shape), as views made once. */
  get fragmentViews(): readonly Uint8Array[] {
    if (this.fragments === null) {
      const { bytes, offsets } = this.image.fragments;
      this.fragments = [];
      for (let i = 0; i + 1 < offsets.length; i++) this.fragments.push(bytes.subarray(offsets[i], offsets[i + 1]));
    }
    return this.fragments;
  }

  /** The original text of string `i`. */
  string(i: number): string {
    const raw = this.image.strings.raw.get(i);
    if (raw !== undefined) return raw;
    const offsets = this.image.strings.offsets;
    return this.text.toString('latin1', offsets[i], offsets[i + 1]);
  }
}

/**
 * A ReadonlyMap over rows [first, first + count) of an image, keyed by a name column.
 * Subclasses say how to read a row's key and value and how to find a key.
 */
abstract class RowMap<V> implements ReadonlyMap<string, V> {
  constructor(protected readonly reader: ImageReader, protected readonly first: number, readonly size: number) {}

  protected abstract keyAt(row: number): string;
  protected abstract valueAt(row: number): V;
  /** Row of `key`, or -1. */
  protected abstract rowOf(key: string): number;

  get(key: string): V | undefined {
    const row = this.rowOf(key);
    return row < 0 ? undefined : this.valueAt(row);
  }

  has(key: string): boolean {
    return this.rowOf(key) >= 0;
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (let r = this.first; r < this.first + this.size; r++) callback.call(thisArg, this.valueAt(r), this.keyAt(r), this);
  }

  *entries(): IterableIterator<[string, V]> {
    for (let r = this.first; r < this.first + this.size; r++) yield [this.keyAt(r), this.valueAt(r)];
  }

  *keys(): IterableIterator<string> {
    for (let r = this.first; r < this.first + this.size; r++) yield this.keyAt(r);
  }

  *values(): IterableIterator<V> {
    for (let r = this.first; r < this.first + this.size; r++) yield this.valueAt(r);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}

class ImageMetric implements Metric {
  constructor(private readonly reader: ImageReader, private readonly row: number) {}
  private get shape(): ShapeRecord {
    return this.reader.shapes[this.reader.metrics[this.row * METRIC_FIELDS + MetricField.Shape]];
  }
  get name(): string { return this.shape.name; }
  get val(): string { return this.reader.string(this.reader.metrics[this.row * METRIC_FIELDS + MetricField.Val]); }
  get type(): string { return this.shape.type; }
  get units(): string { return this.shape.units; }
  get t0(): number { return this.reader.polledAt - this.reader.metrics[this.row * METRIC_FIELDS + MetricField.Tn]; }
  get tmax(): number { return this.shape.tmax; }
  get dmax(): number { return this.shape.dmax; }
  get slope(): string { return this.shape.slope; }
  get source(): string { return this.shape.source; }
  get extra(): ExtraData { return this.shape.extra; }
}

class MetricMap extends RowMap<Metric> {
  /** Where the next lookup starts: lookups in the hosts' own order cost one comparison. */
  private hint = 0;

  protected keyAt(row: number): string {
    return this.reader.shapes[this.reader.metrics[row * METRIC_FIELDS + MetricField.Shape]].name;
  }
  protected valueAt(row: number): Metric {
    return new ImageMetric(this.reader, row);
  }
  protected rowOf(key: string): number {
    // A host has ~100 metrics: a scan over shared shape names beats building an index.
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const offset = (this.hint + i) % n;
      if (this.keyAt(this.first + offset) === key) {
        this.hint = offset + 1;
        return this.first + offset;
      }
    }
    return -1;
  }
}

class ImageHost implements Host {
  private metricMap: MetricMap | null = null;
  constructor(readonly reader: ImageReader, readonly row: number) {}

  /** The host's metric names, in order (shared with other hosts of the image). */
  get metricNames(): readonly string[] {
    return this.reader.image.layouts[this.field(HostField.Layout)];
  }

  private field(f: HostField): number {
    return this.reader.hosts[this.row * HOST_FIELDS + f];
  }
  get name(): string { return this.reader.string(this.field(HostField.Name)); }
  get ip(): string { return this.reader.string(this.field(HostField.Ip)); }
  get reported(): number { return this.field(HostField.Reported); }
  get t0(): number { return this.reader.polledAt - this.field(HostField.Tn); }
  get tmax(): number { return this.field(HostField.Tmax); }
  get dmax(): number { return this.field(HostField.Dmax); }
  get location(): string { return this.reader.string(this.field(HostField.Location)); }
  get gmondStarted(): number { return this.field(HostField.GmondStarted); }
  get tags(): string { return this.reader.string(this.field(HostField.Tags)); }
  get up(): boolean { return this.field(HostField.Up) === 1; }
  get metrics(): ReadonlyMap<string, Metric> {
    this.metricMap ??= new MetricMap(this.reader, this.field(HostField.FirstMetric), this.field(HostField.MetricCount));
    return this.metricMap;
  }
}

class HostMap extends RowMap<Host> {
  private index: Map<string, number> | null = null;
  protected keyAt(row: number): string {
    return this.reader.string(this.reader.hosts[row * HOST_FIELDS + HostField.Name]);
  }
  protected valueAt(row: number): Host {
    return new ImageHost(this.reader, row);
  }
  protected rowOf(key: string): number {
    if (this.index === null) {
      // Built on the first lookup (path queries): one entry per host of the cluster.
      this.index = new Map();
      for (let r = this.first; r < this.first + this.size; r++) this.index.set(this.keyAt(r), r);
    }
    return this.index.get(key) ?? -1;
  }
}

/** Per pair of name lists, whether every name of the first is in the second. */
const coverage = new WeakMap<readonly string[], WeakMap<readonly string[], boolean>>();

/**
 * Whether `fresh` lists every metric name `before` lists, answered from the images' shared
 * name lists when both hosts are image views (one comparison per pair of lists, not per
 * metric); undefined for hosts built as objects.
 */
export function listsEveryMetricOf(fresh: Host, before: Host): boolean | undefined {
  if (!(fresh instanceof ImageHost) || !(before instanceof ImageHost)) return undefined;
  return covers(fresh.metricNames, before.metricNames);
}

/** Whether every name of `before` is in `after`; cached per pair of shared lists. */
function covers(after: readonly string[], before: readonly string[]): boolean {
  if (after === before) return true;
  let byAfter = coverage.get(before);
  if (byAfter === undefined) coverage.set(before, (byAfter = new WeakMap()));
  let covered = byAfter.get(after);
  if (covered === undefined) {
    const names = new Set(after);
    covered = before.every((name) => names.has(name));
    byAfter.set(after, covered);
  }
  return covered;
}

/**
 * Whether `fresh` lists every host and every metric `old` lists, answered without making a
 * view per host when both are image clusters with the same hosts in the same order (the
 * steady state of a source): a byte comparison per host name and a shared-list comparison
 * per host. Undefined when that cannot be told cheaply (then the caller compares names).
 */
export function listsEverythingOf(fresh: Cluster, old: Cluster): boolean | undefined {
  const f = rowsOfCluster.get(fresh);
  const o = rowsOfCluster.get(old);
  if (f === undefined || o === undefined || f.hostCount !== o.hostCount) return undefined;
  const fh = f.reader.hosts;
  const oh = o.reader.hosts;
  const fs = f.reader.image.strings;
  const os = o.reader.image.strings;
  for (let i = 0; i < f.hostCount; i++) {
    const fi = fh[(f.firstHost + i) * HOST_FIELDS + HostField.Name];
    const oi = oh[(o.firstHost + i) * HOST_FIELDS + HostField.Name];
    if (!sameBytes(fs, fi, os, oi)) return undefined;
  }
  const fl = f.reader.image.layouts;
  const ol = o.reader.image.layouts;
  for (let i = 0; i < f.hostCount; i++) {
    const before = ol[oh[(o.firstHost + i) * HOST_FIELDS + HostField.Layout]];
    const after = fl[fh[(f.firstHost + i) * HOST_FIELDS + HostField.Layout]];
    if (!covers(after, before)) return false;
  }
  return true;
}

function sameBytes(a: StringTable, i: number, b: StringTable, j: number): boolean {
  const aStart = a.offsets[i];
  const length = a.offsets[i + 1] - aStart;
  const bStart = b.offsets[j];
  if (b.offsets[j + 1] - bStart !== length || a.raw.has(i) !== b.raw.has(j)) return false;
  for (let k = 0; k < length; k++) if (a.bytes[aStart + k] !== b.bytes[bStart + k]) return false;
  return true;
}

/** Where a cluster's hosts are in its image, for renderers that copy bytes. */
export interface ClusterRows {
  readonly reader: ImageReader;
  readonly firstHost: number;
  readonly hostCount: number;
}

const rowsOfCluster = new WeakMap<Cluster, ClusterRows>();

/** The image rows behind `cluster`, or undefined for a cluster built as objects. */
export function clusterRows(cluster: Cluster): ClusterRows | undefined {
  return rowsOfCluster.get(cluster);
}

function clusterView(reader: ImageReader, record: ClusterRecord): Cluster {
  const cluster: Cluster = Object.freeze({
    kind: 'cluster',
    name: record.name,
    localtime: record.localtime,
    owner: record.owner,
    latlong: record.latlong,
    url: record.url,
    hosts: new HostMap(reader, record.firstHost, record.hostCount),
    summary: record.summary as Summary,
  });
  rowsOfCluster.set(cluster, { reader, firstHost: record.firstHost, hostCount: record.hostCount });
  return cluster;
}

/** The snapshot the store and the plugins see, reading `image` in place. */
export function snapshotOfImage(image: SourceImage): SourceSnapshot {
  const reader = new ImageReader(image);
  const nodes: TreeNode[] = image.nodes.map((n) => (n.kind === 'cluster' ? clusterView(reader, n) : (n as Grid)));
  return Object.freeze({ source: image.source, polledAt: image.polledAt, nodes: Object.freeze(nodes) });
}
