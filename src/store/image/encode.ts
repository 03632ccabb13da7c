/**
 * Writes a SourceImage as the SnapshotBuilder parses: the ImageWriter is the builder's
 * TreeWriter in the parse workers, so a metric goes straight into the image's columns (no
 * object per metric, no second pass over a tree). Every string is stored escaped for an XML
 * attribute, so that dumps are byte copies; each metric shape gets its METRIC element
 * pre-rendered around VAL and TN.
 */
import type { Grid } from '../model';
import type { ClusterFields, HostFields, TreeWriter } from '../../readers/tree-writer';
import { detach } from '../../readers/intern';
import { escapeAttr, extraDataXml } from '../../server/xml-render';
import {
  FRAGMENTS_PER_SHAPE, HOST_FIELDS, HostField, METRIC_FIELDS, MetricField, type NodeRecord,
  type ShapeRecord, type SourceImage, type StringTable,
} from './format';

/**
 * The sizes of a source's last image: the next image of the same source starts with buffers
 * that size (the steady state: same hosts and metrics), so it is written without growing
 * them and sent without a final copy. Growing or copying leaves the old buffers as garbage
 * outside the JS heap, which only a major collection frees (~5 MB per S2 document).
 */
export interface ImageSizes {
  readonly hosts: number;
  readonly metrics: number;
  readonly stringBytes: number;
  readonly strings: number;
}

/**
 * The filled part of a buffer, to be transferred: the buffer itself (as a view of its first
 * `length` items) when at most 1/16 of it is unused, else a copy of exactly that part.
 */
function filled<T extends Uint8Array | Uint32Array>(array: T, length: number): T {
  return (array.length - length <= array.length >> 4 ? array.subarray(0, length) : array.slice(0, length)) as T;
}

/** Appends strings to one growing byte buffer; see format.StringTable. */
export class StringTableBuilder {
  private bytes: Uint8Array;
  private length = 0;
  private offsets: Uint32Array;
  private count = 0;
  private readonly raw = new Map<number, string>();
  private readonly interned = new Map<string, number>();

  /** `bytes`, `strings`: the expected size (the last image's), else defaults for a growing table. */
  constructor(bytes = 64 * 1024, strings = 1023) {
    this.bytes = new Uint8Array(bytes);
    this.offsets = new Uint32Array(strings + 1);
  }

  /** Index of `s`, shared with an equal string added through intern() before. */
  intern(s: string): number {
    let index = this.interned.get(s);
    if (index === undefined) {
      index = this.add(s);
      // A copy as the key: a parser's slice would keep its whole input chunk alive.
      this.interned.set(detach(s), index);
    }
    return index;
  }

  /** Adds `s` escaped for an attribute; returns its index. */
  add(s: string): number {
    const index = this.count;
    const n = s.length;
    this.reserve(n);
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // escapeAttr's set: markup characters, C0 controls, anything above U+00FF.
      if (c < 0x20 || c > 0xff || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x22 || c === 0x27) {
        return this.addEscaped(s);
      }
      bytes[at++] = c;
    }
    return this.close(at, index);
  }

  /** Adds bytes that need no escaping (already rendered markup, latin1). */
  addMarkup(s: string): number {
    this.reserve(s.length);
    let at = this.length;
    for (let i = 0; i < s.length; i++) this.bytes[at++] = s.charCodeAt(i);
    return this.close(at, this.count);
  }

  finish(): StringTable {
    this.offsets = ensureU32(this.offsets, this.count + 1);
    this.offsets[this.count] = this.length;
    return {
      bytes: filled(this.bytes, this.length),
      offsets: filled(this.offsets, this.count + 1),
      raw: this.raw,
    };
  }

  private addEscaped(s: string): number {
    const index = this.count;
    const escaped = escapeAttr(s);
    this.raw.set(index, s);
    this.reserve(escaped.length);
    let at = this.length;
    for (let i = 0; i < escaped.length; i++) this.bytes[at++] = escaped.charCodeAt(i);
    return this.close(at, index);
  }

  private close(end: number, index: number): number {
    this.offsets = ensureU32(this.offsets, this.count + 2);
    this.offsets[this.count] = this.length;
    this.length = end;
    this.count += 1;
    return index;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }
}

function ensureU32(array: Uint32Array, size: number): Uint32Array {
  if (size <= array.length) return array;
  const next = new Uint32Array(Math.max(array.length * 2, size));
  next.set(array);
  return next;
}

class U32Builder {
  data: Uint32Array;
  length = 0;
  constructor(initial: number) {
    this.data = new Uint32Array(initial);
  }
  reserve(n: number): Uint32Array {
    this.data = ensureU32(this.data, this.length + n);
    return this.data;
  }
  finish(): Uint32Array {
    return filled(this.data, this.length);
  }
}

/** The METRIC element of `shape` in three pieces: [A] VAL [B] TN [C] (server/xml-render.metricXml). */
export function metricFragments(shape: ShapeRecord): [string, string, string] {
  return [
    `<METRIC NAME="${escapeAttr(shape.name)}" VAL="`,
    `" TYPE="${escapeAttr(shape.type)}" UNITS="${escapeAttr(shape.units)}" TN="`,
    `" TMAX="${shape.tmax}" DMAX="${shape.dmax}" SLOPE="${escapeAttr(shape.slope)}" SOURCE="${escapeAttr(shape.source)}">\n`
      + `${extraDataXml(shape.extra)}</METRIC>\n`,
  ];
}

/** The builder's TreeWriter for the parse workers: see the module comment. */
export class ImageWriter implements TreeWriter<SourceImage> {
  private readonly strings: StringTableBuilder;
  private readonly fragments = new StringTableBuilder();
  private readonly shapes: ShapeRecord[] = [];
  private readonly hosts: U32Builder;
  private readonly metrics: U32Builder;
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly layouts: string[][] = [];
  private readonly layoutIndex = new Map<string, number>();
  /** The layout of the previous host: the next one usually has the same. */
  private lastLayout = -1;
  /** Row of the open cluster's first host. */
  private firstHost = 0;
  /** Hosts of the open cluster (distinct names). */
  private hostCount = 0;
  private host: HostFields | null = null;
  private hostReplaces = -1;
  /** Row of the open host's first metric. */
  private firstMetric = 0;
  /** Metric names of the open host, in order (reused scratch; copied when a new layout). */
  private readonly names: string[] = [];
  private nameCount = 0;

  /** `expected`: the sizes of the source's last image (see ImageSizes). */
  constructor(expected?: ImageSizes) {
    // The string table may vary a little from poll to poll (VAL lengths): 1/32 more room.
    this.strings = expected === undefined ? new StringTableBuilder()
      : new StringTableBuilder(expected.stringBytes + (expected.stringBytes >> 5) + 64, expected.strings + 16);
    this.hosts = new U32Builder(expected === undefined ? 1024 * HOST_FIELDS : Math.max(expected.hosts, HOST_FIELDS));
    this.metrics = new U32Builder(expected === undefined ? 64 * 1024 * METRIC_FIELDS : Math.max(expected.metrics, METRIC_FIELDS));
  }

  /** The sizes of the image just finished, for the source's next one. */
  static sizesOf(image: SourceImage): ImageSizes {
    return {
      hosts: image.hosts.length, metrics: image.metrics.length,
      stringBytes: image.strings.bytes.length, strings: image.strings.offsets.length - 1,
    };
  }

  beginCluster(): void {
    this.firstHost = this.hosts.length / HOST_FIELDS;
    this.hostCount = 0;
  }

  beginHost(fields: HostFields, replaces: number): void {
    this.host = fields;
    this.hostReplaces = replaces;
    this.firstMetric = this.metrics.length / METRIC_FIELDS;
    this.nameCount = 0;
  }

  addShape(shape: ShapeRecord): number {
    const index = this.shapes.length;
    this.shapes.push(shape);
    for (const piece of metricFragments(shape)) this.fragments.addMarkup(piece);
    return index;
  }

  metric(shapeId: number, shape: ShapeRecord, val: string, tn: number, replaces: number): void {
    const valIndex = this.strings.add(val);
    let at: number;
    if (replaces < 0) {
      this.metrics.reserve(METRIC_FIELDS);
      at = this.metrics.length;
      this.metrics.length += METRIC_FIELDS;
      this.names[this.nameCount++] = shape.name;
    } else {
      at = (this.firstMetric + replaces) * METRIC_FIELDS;
    }
    const m = this.metrics.data;
    m[at + MetricField.Shape] = shapeId;
    m[at + MetricField.Val] = valIndex;
    m[at + MetricField.Tn] = tn;
  }

  endHost(): void {
    const f = this.host!;
    this.host = null;
    let row: number;
    if (this.hostReplaces < 0) {
      this.hosts.reserve(HOST_FIELDS);
      row = this.hosts.length;
      this.hosts.length += HOST_FIELDS;
      this.hostCount++;
    } else {
      row = (this.firstHost + this.hostReplaces) * HOST_FIELDS;
    }
    const strings = this.strings;
    const h = this.hosts.data;
    h[row + HostField.Name] = strings.add(f.name);
    h[row + HostField.Ip] = strings.add(f.ip);
    h[row + HostField.Reported] = f.reported;
    h[row + HostField.Tn] = f.tn;
    h[row + HostField.Tmax] = f.tmax;
    h[row + HostField.Dmax] = f.dmax;
    h[row + HostField.Location] = strings.intern(f.location);
    h[row + HostField.GmondStarted] = f.gmondStarted;
    h[row + HostField.Tags] = strings.intern(f.tags);
    h[row + HostField.Up] = f.up ? 1 : 0;
    h[row + HostField.FirstMetric] = this.firstMetric;
    h[row + HostField.MetricCount] = this.metrics.length / METRIC_FIELDS - this.firstMetric;
    h[row + HostField.Layout] = this.layoutOfHost();
  }

  endCluster(cluster: ClusterFields): void {
    this.nodes.set(cluster.name, { ...cluster, firstHost: this.firstHost, hostCount: this.hostCount });
  }

  grid(grid: Grid): void {
    this.nodes.set(grid.name, grid);
  }

  finish(source: string, pollTime: number): SourceImage {
    const fragmentTable = this.fragments.finish();
    if (fragmentTable.offsets.length !== this.shapes.length * FRAGMENTS_PER_SHAPE + 1) throw new Error('image: fragment count');
    return {
      source,
      polledAt: Math.floor(pollTime),
      strings: this.strings.finish(),
      shapes: this.shapes,
      fragments: fragmentTable,
      hosts: this.hosts.finish(),
      metrics: this.metrics.finish(),
      layouts: this.layouts,
      nodes: [...this.nodes.values()],
    };
  }

  /** Index of the open host's list of metric names in `layouts` (one shared list per distinct list). */
  private layoutOfHost(): number {
    const names = this.names;
    const count = this.nameCount;
    if (this.lastLayout >= 0 && sameNames(this.layouts[this.lastLayout], names, count)) return this.lastLayout;
    const list = names.slice(0, count);
    const key = list.join('\u0000');
    let index = this.layoutIndex.get(key);
    if (index === undefined) {
      index = this.layouts.length;
      this.layouts.push(list);
      this.layoutIndex.set(key, index);
    }
    this.lastLayout = index;
    return index;
  }
}

function sameNames(list: readonly string[], names: readonly string[], count: number): boolean {
  if (list.length !== count) return false;
  for (let i = 0; i < count; i++) if (list[i] !== names[i]) return false;
  return true;
}
