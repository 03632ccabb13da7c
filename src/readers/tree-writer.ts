/**
 * Where the SnapshotBuilder puts what it keeps. The builder applies the C gmetad's rules
 * (which elements count, limits, summaries, shapes, which earlier host or metric a repeated
 * name replaces); a TreeWriter only stores the result. Two exist: ObjectTreeWriter (below)
 * builds the object model (tests, inline parsing), and store/image/encode's ImageWriter
 * writes a SourceImage's columns directly (the parse workers), with no object per metric.
 */
import type { Cluster, Grid, Host, Metric, SourceSnapshot, TreeNode } from '../store/model';
import type { ShapeRecord } from '../store/image/format';
import type { Interner } from './intern';

/** A kept HOST's attributes as received (strings are raw parser slices). */
export interface HostFields {
  readonly name: string;
  readonly ip: string;
  readonly reported: number;
  /** TN as received (u32): t0 = poll time - TN. */
  readonly tn: number;
  readonly tmax: number;
  readonly dmax: number;
  readonly location: string;
  readonly gmondStarted: number;
  readonly tags: string;
  readonly up: boolean;
}

export type ClusterFields = Omit<Cluster, 'hosts'>;

export interface TreeWriter<Result> {
  /** A top-level cluster starts; its kept hosts follow. */
  beginCluster(): void;
  /**
   * A kept host of the open cluster. `replaces`: the position in the cluster of an earlier
   * host of the same name, which this one replaces in its place; -1 for a new name.
   */
  beginHost(fields: HostFields, replaces: number): void;
  /** A shape met for the first time in this document; returns the id metric() is given. */
  addShape(shape: ShapeRecord): number;
  /**
   * A kept metric of the open host. `replaces`: the position in the host of an earlier metric
   * of the same name, which this one replaces in its place; -1 for a new name.
   */
  metric(shapeId: number, shape: ShapeRecord, val: string, tn: number, replaces: number): void;
  endHost(): void;
  /** A later node of the same name replaces an earlier one in its place. */
  endCluster(cluster: ClusterFields): void;
  grid(grid: Grid): void;
  finish(source: string, pollTime: number): Result;
}

/**
 * A Metric as three fields: its host-specific VAL and t0, and a shared shape. With 100k
 * metrics per poll this halves the tree's memory against a flat ten-field object.
 */
class MetricRecord implements Metric {
  constructor(private readonly shape: ShapeRecord, readonly val: string, readonly t0: number) {}
  get name(): string { return this.shape.name; }
  get type(): string { return this.shape.type; }
  get units(): string { return this.shape.units; }
  get tmax(): number { return this.shape.tmax; }
  get dmax(): number { return this.shape.dmax; }
  get slope(): string { return this.shape.slope; }
  get source(): string { return this.shape.source; }
  get extra(): ShapeRecord['extra'] { return this.shape.extra; }
}

/** Builds the object model (model.ts): Maps of hosts and metrics, strings interned. */
export class ObjectTreeWriter implements TreeWriter<SourceSnapshot> {
  private readonly nodes = new Map<string, TreeNode>();
  private hosts = new Map<string, Host>();
  private host: HostFields | null = null;
  private metrics = new Map<string, Metric>();

  /** `t0Base`: the poll time in whole seconds (t0 = t0Base - TN). */
  constructor(private readonly interner: Interner, private readonly t0Base: number) {}

  beginCluster(): void {
    this.hosts = new Map();
  }

  beginHost(fields: HostFields): void {
    this.host = fields;
    this.metrics = new Map();
  }

  addShape(): number {
    return 0;
  }

  metric(_shapeId: number, shape: ShapeRecord, val: string, tn: number): void {
    // Short values are private copies already; long ones may be views on the chunk.
    const kept = val.length < 13 ? val : this.interner.string(val);
    this.metrics.set(shape.name, new MetricRecord(shape, kept, this.t0Base - tn));
  }

  endHost(): void {
    const f = this.host!;
    const intern = this.interner;
    const name = intern.string(f.name);
    this.hosts.set(name, {
      name,
      ip: intern.string(f.ip),
      reported: f.reported,
      t0: this.t0Base - f.tn,
      tmax: f.tmax,
      dmax: f.dmax,
      location: intern.string(f.location),
      gmondStarted: f.gmondStarted,
      tags: intern.string(f.tags),
      up: f.up,
      metrics: this.metrics,
    });
    this.host = null;
  }

  endCluster(cluster: ClusterFields): void {
    this.nodes.set(cluster.name, { ...cluster, hosts: this.hosts });
  }

  grid(grid: Grid): void {
    this.nodes.set(grid.name, grid);
  }

  finish(source: string, pollTime: number): SourceSnapshot {
    return { source, polledAt: pollTime, nodes: [...this.nodes.values()] };
  }
}
