/**
 * Encodes a SourceSnapshot (the builder's object tree) into a SourceImage. Runs in the
 * parse workers. Every string is stored escaped for an XML attribute, so that dumps are
 * byte copies; each metric shape gets its METRIC element pre-rendered around VAL and TN.
 */
import type { ExtraData, Metric, SourceSnapshot } from '../model';
import { escapeAttr, extraDataXml } from '../../server/xml-render';
import {
  type ClusterRecord, FRAGMENTS_PER_SHAPE, HOST_FIELDS, HostField, METRIC_FIELDS, MetricField, type NodeRecord,
  type ShapeRecord, type SourceImage, type StringTable,
} from './format';

/** Appends strings to one growing byte buffer; see format.StringTable. */
export class StringTableBuilder {
  private bytes = new Uint8Array(64 * 1024);
  private length = 0;
  private offsets: Uint32Array = new Uint32Array(1024);
  private count = 0;
  private readonly raw = new Map<number, string>();
  private readonly interned = new Map<string, number>();

  /** Index of `s`, shared with an equal string added through intern() before. */
  intern(s: string): number {
    let index = this.interned.get(s);
    if (index === undefined) {
      index = this.add(s);
      this.interned.set(s, index);
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
      bytes: this.bytes.slice(0, this.length),
      offsets: this.offsets.slice(0, this.count + 1),
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
  private data: Uint32Array;
  length = 0;
  constructor(initial: number) {
    this.data = new Uint32Array(initial);
  }
  reserve(n: number): Uint32Array {
    this.data = ensureU32(this.data, this.length + n);
    return this.data;
  }
  finish(): Uint32Array {
    return this.data.slice(0, this.length);
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

/** TN as a u32 column value: the builder's TNs are u32 already (t0 = polledAt - TN). */
function tnOf(polledAt: number, t0: number): number {
  return (polledAt - t0) >>> 0;
}

export function encodeSnapshot(snapshot: SourceSnapshot): SourceImage {
  const polledAt = Math.floor(snapshot.polledAt);
  const strings = new StringTableBuilder();
  const fragments = new StringTableBuilder();
  const shapes: ShapeRecord[] = [];
  /** Per metric name, the last shape made for it and its index. */
  const lastShape = new Map<string, { record: ShapeRecord; index: number }>();
  const hosts = new U32Builder(1024 * HOST_FIELDS);
  const metrics = new U32Builder(64 * 1024 * METRIC_FIELDS);
  const nodes: NodeRecord[] = [];
  const layouts: string[][] = [];
  const layoutIndex = new Map<string, number>();
  const layoutOf = (names: string[]): number => {
    const key = names.join('\u0000');
    let index = layoutIndex.get(key);
    if (index === undefined) {
      index = layouts.length;
      layouts.push(names);
      layoutIndex.set(key, index);
    }
    return index;
  };

  const shapeOf = (m: Metric): number => {
    const last = lastShape.get(m.name);
    if (last !== undefined && sameShape(last.record, m)) return last.index;
    const record: ShapeRecord = {
      name: m.name, type: m.type, units: m.units, tmax: m.tmax, dmax: m.dmax, slope: m.slope, source: m.source,
      extra: m.extra,
    };
    const index = shapes.length;
    shapes.push(record);
    for (const piece of metricFragments(record)) fragments.addMarkup(piece);
    lastShape.set(m.name, { record, index });
    return index;
  };

  for (const node of snapshot.nodes) {
    if (node.kind === 'grid') {
      nodes.push(node);
      continue;
    }
    const firstHost = hosts.length / HOST_FIELDS;
    for (const host of node.hosts.values()) {
      const firstMetric = metrics.length / METRIC_FIELDS;
      const names: string[] = [];
      for (const metric of host.metrics.values()) {
        names.push(metric.name);
        const shape = shapeOf(metric);
        const val = strings.add(metric.val);
        const m = metrics.reserve(METRIC_FIELDS);
        const at = metrics.length;
        m[at + MetricField.Shape] = shape;
        m[at + MetricField.Val] = val;
        m[at + MetricField.Tn] = tnOf(polledAt, metric.t0);
        metrics.length += METRIC_FIELDS;
      }
      const h = hosts.reserve(HOST_FIELDS);
      const at = hosts.length;
      h[at + HostField.Name] = strings.intern(host.name);
      h[at + HostField.Ip] = strings.intern(host.ip);
      h[at + HostField.Reported] = host.reported;
      h[at + HostField.Tn] = tnOf(polledAt, host.t0);
      h[at + HostField.Tmax] = host.tmax;
      h[at + HostField.Dmax] = host.dmax;
      h[at + HostField.Location] = strings.intern(host.location);
      h[at + HostField.GmondStarted] = host.gmondStarted;
      h[at + HostField.Tags] = strings.intern(host.tags);
      h[at + HostField.Up] = host.up ? 1 : 0;
      h[at + HostField.FirstMetric] = firstMetric;
      h[at + HostField.MetricCount] = metrics.length / METRIC_FIELDS - firstMetric;
      h[at + HostField.Layout] = layoutOf(names);
      hosts.length += HOST_FIELDS;
    }
    const record: ClusterRecord = {
      kind: 'cluster', name: node.name, localtime: node.localtime, owner: node.owner, latlong: node.latlong,
      url: node.url, summary: node.summary, firstHost, hostCount: hosts.length / HOST_FIELDS - firstHost,
    };
    nodes.push(record);
  }

  const fragmentTable = fragments.finish();
  if (fragmentTable.offsets.length !== shapes.length * FRAGMENTS_PER_SHAPE + 1) throw new Error('image: fragment count');
  return {
    source: snapshot.source,
    polledAt,
    strings: strings.finish(),
    shapes,
    fragments: fragmentTable,
    hosts: hosts.finish(),
    metrics: metrics.finish(),
    layouts,
    nodes,
  };
}

function sameShape(s: ShapeRecord, m: Metric): boolean {
  return s.type === m.type && s.units === m.units && s.tmax === m.tmax && s.dmax === m.dmax && s.slope === m.slope
    && s.source === m.source && sameExtra(s.extra, m.extra);
}

function sameExtra(a: ExtraData, b: ExtraData): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].name !== b[i].name || a[i].val !== b[i].val) return false;
  return true;
}
