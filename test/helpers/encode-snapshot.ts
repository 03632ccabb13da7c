/**
 * An object tree (tree-builders, or a parse into objects) written into a SourceImage through
 * the parse workers' ImageWriter, for tests that need an image of a tree they built by hand.
 * Shapes are shared as the builder shares them: with the last metric of the same name.
 */
import { ImageWriter } from '../../src/store/image/encode';
import type { ShapeRecord, SourceImage } from '../../src/store/image/format';
import type { ExtraData, Metric, SourceSnapshot } from '../../src/store/model';

export function encodeSnapshot(snapshot: SourceSnapshot): SourceImage {
  const writer = new ImageWriter();
  const polledAt = Math.floor(snapshot.polledAt);
  const lastShape = new Map<string, { shape: ShapeRecord; id: number }>();
  const shapeOf = (m: Metric): { shape: ShapeRecord; id: number } => {
    const last = lastShape.get(m.name);
    if (last !== undefined && sameShape(last.shape, m)) return last;
    const shape: ShapeRecord = {
      name: m.name, type: m.type, units: m.units, tmax: m.tmax, dmax: m.dmax, slope: m.slope, source: m.source, extra: m.extra,
    };
    const made = { shape, id: writer.addShape(shape) };
    lastShape.set(m.name, made);
    return made;
  };
  for (const node of snapshot.nodes) {
    if (node.kind === 'grid') {
      writer.grid(node);
      continue;
    }
    writer.beginCluster();
    for (const host of node.hosts.values()) {
      writer.beginHost({ ...host, tn: (polledAt - host.t0) >>> 0 }, -1);
      for (const metric of host.metrics.values()) {
        const { shape, id } = shapeOf(metric);
        writer.metric(id, shape, metric.val, (polledAt - metric.t0) >>> 0, -1);
      }
      writer.endHost();
    }
    const { hosts: _hosts, ...fields } = node;
    writer.endCluster(fields);
  }
  return writer.finish(snapshot.source, snapshot.polledAt);
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
