/**
 * Turns the element stream of one polled document into a SourceSnapshot, with the
 * semantics of the C gmetad 3.7.2's process_xml.c (facts checked against the anchor
 * captures):
 *
 * - Top-level CLUSTER and GRID elements become the snapshot's nodes, keyed by XML NAME.
 * - HOST: t0 = pollTime - TN; up iff TN < 4*TMAX (TMAX=0 or a pre-2.5 document:
 *   |cluster LOCALTIME - REPORTED| < 60). Missing LOCATION/TAGS read "unspecified".
 * - METRIC: dropped when DMAX > 0 and TN > DMAX, or when its TYPE is not a Ganglia type
 *   (3.7.2 ignores those too). Missing UNITS -> "" (3.7.2 prints a stale string),
 *   missing SOURCE -> "gmond" (the DTD default expat applies), missing SLOPE ->
 *   "unspecified".
 * - Summaries are summed as the elements stream past (as 3.7.2 does): a cluster's HOSTS
 *   and METRICS children (summary form) and its hosts (up ones only for metrics).
 * - `scalable on`: a GRID keeps no children, only a summary of everything inside it:
 *   hosts of its clusters at any depth plus nested HOSTS/METRICS. Unlike 3.7.2, nested
 *   METRICS are not lost. Like 3.7.2, EXTRA_ELEMENTs inside a grid or a METRICS element
 *   are ignored, so summaries received in summary form have empty EXTRA_DATA.
 * - `scalable off`: 3.7.2 ignores GRID, HOSTS and METRICS elements altogether, so every
 *   CLUSTER, however deeply nested in grids, is kept whole as if it were top-level (the
 *   grid levels disappear) and summary-only content contributes nothing. We mirror that
 *   rather than keep a grid tree, so that what is served matches the C gmetad.
 *
 * Differences from 3.7.2 that come from building a fresh snapshot per poll: a host that
 * is down keeps the metrics it was sent (3.7.2 keeps those of its last up poll, none if
 * never seen up), and summary entries of metrics no longer reported do not linger as
 * SUM=0 NUM=0. Nested hosts use their own cluster's LOCALTIME for the 60 s rule (3.7.2
 * uses the grid's). Expired metrics (DMAX) are not summed inside grids either.
 */
import type { ExtraData, Grid, Metric, MetricSummary, SourceSnapshot, Summary } from '../store/model';
import { NUMERIC_TYPES } from '../store/model';
import type { ShapeRecord } from '../store/image/format';
import { isExpiredAt } from '../store/lifetime';
import { EMPTY_SUMMARY, precisionOf, SummaryAccumulator, type SummaryPolicy } from '../store/summary';
import type { Attributes, XmlSink } from './xml/xml-parser';
import { detach, Interner } from './intern';
import { LimitExceeded } from './document-parser';
import { ObjectTreeWriter, type TreeWriter } from './tree-writer';

export interface SnapshotBuilderOptions<Result = SourceSnapshot> {
  /** data_source name from gmetad.conf. */
  readonly source: string;
  /** Poll start, epoch seconds: the reference for TN -> t0. */
  readonly pollTime: number;
  readonly scalable: boolean;
  readonly policy: SummaryPolicy;
  /**
   * Share one per data source across polls so that names and EXTRA_DATA lists are shared
   * with the previous snapshot too; a private one is used otherwise.
   */
  readonly interner?: Interner;
  /** Hosts kept (in clusters) beyond this abort the document: LimitExceeded max_hosts. */
  readonly maxHosts?: number;
  /** METRIC and METRICS elements beyond this abort the document: LimitExceeded max_metrics. */
  readonly maxMetrics?: number;
  /**
   * Where the kept tree goes (see tree-writer.ts); by default an ObjectTreeWriter, which
   * makes finish() return a SourceSnapshot of objects.
   */
  readonly writer?: TreeWriter<Result>;
}

/** The document is not a usable Ganglia document (wrong root, truncated). */
export class SnapshotError extends Error {
  readonly code = 'GMETAD_SNAPSHOT';
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** Every TYPE the C gmetad knows; metrics of any other type are ignored, as there. */
const KNOWN_TYPES: ReadonlySet<string> = new Set([...NUMERIC_TYPES, 'string', 'timestamp']);

const UNSPECIFIED = 'unspecified';
const DEFAULT_SOURCE = 'gmond';
const HOST_UP: Summary = { hostsUp: 1, hostsDown: 0, metrics: EMPTY_SUMMARY.metrics };
const HOST_DOWN: Summary = { hostsUp: 0, hostsDown: 1, metrics: EMPTY_SUMMARY.metrics };

/** What each open element is to the builder; pushed on open, popped on close. */
const enum Frame {
  Ignored,
  Root,
  Cluster,
  Grid,
  NestedCluster,
  Host,
  Metric,
  Metrics,
}

interface ClusterState {
  readonly name: string;
  readonly localtime: number;
  readonly owner: string;
  readonly latlong: string;
  readonly url: string;
  /** Position of each kept host name in the cluster (a repeated name replaces it there). */
  readonly hosts: Map<string, number>;
  readonly summary: SummaryAccumulator;
}

interface GridState {
  readonly name: string;
  readonly authority: string;
  readonly localtime: number;
  readonly summary: SummaryAccumulator;
}

interface HostState {
  /** False for a host inside a grid: counted, not kept. */
  readonly kept: boolean;
  readonly up: boolean;
  /** Distinct metric names written so far. */
  metricCount: number;
}

/**
 * Per metric name, for the whole document: the interned strings of the last METRIC of that
 * name, its last shape (what it shares with the same metric on other hosts), and where it
 * stands in the host that last had it (so a repeated name in one host is found in O(1)).
 */
interface NameState {
  readonly name: string;
  type: string;
  units: string;
  slope: string;
  source: string;
  shape: ShapeRecord | null;
  /** The writer's id of `shape`; -1 until a kept host uses it. */
  shapeId: number;
  /** Serial of the host that last had this name, and the metric's position in it. */
  host: number;
  position: number;
}

type PendingSummary = Omit<MetricSummary, 'extra'>;

/** C atoi/strtoul as gmetad uses them: leading number, 0 if none. */
function toInt(text: string | undefined): number {
  if (text === undefined) return 0;
  const value = parseInt(text, 10);
  return Number.isNaN(value) ? 0 : value;
}

/**
 * Time and interval fields are unsigned 32-bit in the C gmetad (strtoul, printed with %u):
 * a spoofed heartbeat's negative GMOND_STARTED comes out wrapped, and so does ours.
 */
function toUint32(text: string | undefined): number {
  const value = toInt(text);
  // `| 0` keeps the common case a small integer (no boxed heap number per field).
  if (value >= 0 && value < 0x8000_0000) return value | 0;
  return ((value % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
}

/** The metric being summed, as the Metric a SummaryAccumulator reads: one reused object. */
class SummedMetric implements Metric {
  shape: ShapeRecord = { name: '', type: '', units: '', tmax: 0, dmax: 0, slope: '', source: '', extra: [] };
  val = '';
  readonly t0 = 0;
  get name(): string { return this.shape.name; }
  get type(): string { return this.shape.type; }
  get units(): string { return this.shape.units; }
  get tmax(): number { return this.shape.tmax; }
  get dmax(): number { return this.shape.dmax; }
  get slope(): string { return this.shape.slope; }
  get source(): string { return this.shape.source; }
  get extra(): ExtraData { return this.shape.extra; }
}

export class SnapshotBuilder<Result = SourceSnapshot> implements XmlSink {
  /** METRIC elements seen, kept or not (for /status metrics.received). */
  metricsReceived = 0;

  private readonly source: string;
  private readonly pollTime: number;
  private readonly scalable: boolean;
  private readonly policy: SummaryPolicy;
  private readonly interner: Interner;
  private readonly writer: TreeWriter<Result>;

  private readonly frames: Frame[] = [];
  private rootSeen = false;
  private rootClosed = false;
  /** Pre-2.5 documents: hosts are judged by REPORTED vs LOCALTIME only. */
  private oldFormat = false;
  private cluster: ClusterState | null = null;
  private grid: GridState | null = null;
  /** LOCALTIME of the innermost open cluster (or grid), for the 60 s up rule. */
  private localtime = 0;
  private host: HostState | null = null;
  /** Serial number of the open host (see NameState.host). */
  private hostSerial = 0;
  /** The open METRIC (null outside one), its VAL, TN, TMAX and DMAX. */
  private metric: NameState | null = null;
  private metricVal = '';
  private metricTn = 0;
  private metricTmax = 0;
  private metricDmax = 0;
  private readonly summed = new SummedMetric();
  private metricSummary: PendingSummary | null = null;
  /** EXTRA_ELEMENTs of the open METRIC/METRICS, reused scratch space. */
  private readonly extraNames: string[] = [];
  private readonly extraVals: string[] = [];
  private extraCount = 0;
  private readonly names = new Map<string, NameState>();
  private readonly maxHosts: number;
  private hostsKept = 0;
  private readonly maxMetrics: number;
  /** METRIC and METRICS elements so far: each may cost a tree or summary entry. */
  private metricElements = 0;

  constructor(options: SnapshotBuilderOptions<Result>) {
    this.source = options.source;
    this.pollTime = options.pollTime;
    this.scalable = options.scalable;
    this.policy = options.policy;
    this.interner = options.interner ?? new Interner();
    this.maxHosts = options.maxHosts ?? Infinity;
    this.maxMetrics = options.maxMetrics ?? Infinity;
    // Whole seconds, like the C gmetad's tv_sec; keeps t0 a small integer.
    this.writer = options.writer ?? (new ObjectTreeWriter(this.interner, Math.floor(options.pollTime)) as unknown as TreeWriter<Result>);
    this.interner.nextGeneration();
  }

  openTag(name: string, attrs: Attributes): void {
    this.frames.push(this.open(name, attrs));
  }

  closeTag(): void {
    const frame = this.frames.pop();
    switch (frame) {
      case Frame.Root: this.rootClosed = true; break;
      case Frame.Cluster: this.closeCluster(); break;
      case Frame.Grid: this.closeGrid(); break;
      case Frame.NestedCluster: this.localtime = this.grid?.localtime ?? 0; break;
      case Frame.Host: this.closeHost(); break;
      case Frame.Metric: this.closeMetric(); break;
      case Frame.Metrics: this.closeMetrics(); break;
      default: break;
    }
  }

  finish(): Result {
    if (!this.rootSeen) throw new SnapshotError('no GANGLIA_XML element');
    if (!this.rootClosed) throw new SnapshotError('incomplete document: GANGLIA_XML not closed');
    // Drop raw parser slices (they may pin a whole input chunk).
    this.extraNames.length = 0;
    this.extraVals.length = 0;
    this.metricVal = '';
    return this.writer.finish(this.source, this.pollTime);
  }

  private open(name: string, attrs: Attributes): Frame {
    if (this.frames.length === 0) {
      if (name !== 'GANGLIA_XML' || this.rootSeen) throw new SnapshotError(`unexpected root element <${name}>`);
      this.rootSeen = true;
      // strncmp(VERSION, "2.5", 3) < 0 in the C code; no VERSION counts as new.
      const version = attrs.VERSION;
      this.oldFormat = version !== undefined && version.slice(0, 3) < '2.5';
      return Frame.Root;
    }
    switch (name) {
      case 'METRIC': return this.openMetric(attrs);
      case 'EXTRA_ELEMENT': this.addExtraElement(attrs); return Frame.Ignored;
      case 'HOST': return this.openHost(attrs);
      case 'CLUSTER': return this.openCluster(attrs);
      case 'GRID': return this.openGrid(attrs);
      case 'HOSTS': this.addHostsSummary(attrs); return Frame.Ignored;
      case 'METRICS': return this.openMetrics(attrs);
      // EXTRA_DATA is only a wrapper; unknown elements are transparent, as in 3.7.2.
      default: return Frame.Ignored;
    }
  }

  private openCluster(attrs: Attributes): Frame {
    const name = attrs.NAME;
    if (name === undefined || this.cluster !== null) return Frame.Ignored;
    const localtime = toUint32(attrs.LOCALTIME);
    if (this.grid !== null) {
      this.localtime = localtime;
      return Frame.NestedCluster;
    }
    const intern = this.interner;
    this.cluster = {
      name: intern.string(name),
      localtime,
      owner: intern.string(attrs.OWNER ?? UNSPECIFIED),
      latlong: intern.string(attrs.LATLONG ?? UNSPECIFIED),
      url: intern.string(attrs.URL ?? UNSPECIFIED),
      hosts: new Map(),
      summary: new SummaryAccumulator(this.policy),
    };
    this.localtime = localtime;
    this.writer.beginCluster();
    return Frame.Cluster;
  }

  private closeCluster(): void {
    const state = this.cluster!;
    this.cluster = null;
    this.writer.endCluster({
      kind: 'cluster',
      name: state.name,
      localtime: state.localtime,
      owner: state.owner,
      latlong: state.latlong,
      url: state.url,
      summary: state.summary.finish(),
    });
  }

  private openGrid(attrs: Attributes): Frame {
    // Without scalable mode 3.7.2 ignores GRID tags: their clusters count as top-level.
    if (!this.scalable || this.cluster !== null) return Frame.Ignored;
    if (this.grid !== null) return Frame.Ignored;
    const name = attrs.NAME;
    if (name === undefined) return Frame.Ignored;
    const localtime = toUint32(attrs.LOCALTIME);
    this.grid = {
      name: this.interner.string(name),
      authority: this.interner.string(attrs.AUTHORITY ?? ''),
      localtime,
      summary: new SummaryAccumulator(this.policy),
    };
    this.localtime = localtime;
    return Frame.Grid;
  }

  private closeGrid(): void {
    const state = this.grid!;
    this.grid = null;
    const grid: Grid = {
      kind: 'grid',
      name: state.name,
      authority: state.authority,
      localtime: state.localtime,
      summary: state.summary.finish(),
    };
    this.writer.grid(grid);
  }

  /** The accumulator that summary content at this point feeds, if any. */
  private currentSummary(): SummaryAccumulator | null {
    return this.cluster?.summary ?? this.grid?.summary ?? null;
  }

  private openHost(attrs: Attributes): Frame {
    const summary = this.currentSummary();
    const name = attrs.NAME;
    if (summary === null || this.host !== null || name === undefined) return Frame.Ignored;
    const tn = toUint32(attrs.TN);
    const tmax = toUint32(attrs.TMAX);
    const reported = toUint32(attrs.REPORTED);
    const up = this.oldFormat || tmax === 0 ? Math.abs(this.localtime - reported) < 60 : tn < tmax * 4;
    summary.addSummary(up ? HOST_UP : HOST_DOWN);
    this.hostSerial++;
    const cluster = this.cluster;
    if (cluster === null) {
      // Inside a grid: only its contribution to the grid summary matters.
      this.host = { kept: false, up, metricCount: 0 };
      return Frame.Host;
    }
    if (++this.hostsKept > this.maxHosts) {
      throw new LimitExceeded('max_hosts', `the document lists more than ${this.maxHosts} hosts`);
    }
    let replaces = cluster.hosts.get(name);
    if (replaces === undefined) {
      // A copy as the key: the parser's slice would keep its whole input chunk alive (and
      // with a name per host, every chunk of the document) until the cluster closes.
      cluster.hosts.set(detach(name), cluster.hosts.size);
      replaces = -1;
    }
    this.writer.beginHost({
      name,
      ip: attrs.IP ?? '',
      reported,
      tn,
      tmax,
      dmax: toUint32(attrs.DMAX),
      location: attrs.LOCATION ?? UNSPECIFIED,
      gmondStarted: toUint32(attrs.GMOND_STARTED),
      tags: attrs.TAGS ?? UNSPECIFIED,
      up,
    }, replaces);
    this.host = { kept: true, up, metricCount: 0 };
    return Frame.Host;
  }

  private closeHost(): void {
    const state = this.host!;
    this.host = null;
    if (state.kept) this.writer.endHost();
  }

  private openMetric(attrs: Attributes): Frame {
    const host = this.host;
    if (host === null || this.metric !== null) return Frame.Ignored;
    this.metricsReceived++;
    this.countMetricElement();
    // A down host inside a grid contributes nothing but its HOSTS DOWN count.
    if (!host.kept && !host.up) return Frame.Ignored;
    const name = attrs.NAME;
    const type = attrs.TYPE;
    if (name === undefined || type === undefined || !KNOWN_TYPES.has(type)) return Frame.Ignored;
    const tn = toUint32(attrs.TN);
    const dmax = toUint32(attrs.DMAX);
    if (isExpiredAt(tn, dmax)) return Frame.Ignored;
    this.metric = this.nameState(name, type, attrs.UNITS ?? '', attrs.SLOPE ?? UNSPECIFIED, attrs.SOURCE ?? DEFAULT_SOURCE);
    this.metricVal = attrs.VAL ?? '';
    this.metricTn = tn;
    this.metricTmax = toUint32(attrs.TMAX);
    this.metricDmax = dmax;
    this.extraCount = 0;
    return Frame.Metric;
  }

  /**
   * The state of metric `name`, its strings interned. Type, units, slope and source are the
   * same on every host for a given metric, so they are compared with the last metric of
   * that name (one map lookup) instead of being interned one by one.
   */
  private nameState(name: string, type: string, units: string, slope: string, source: string): NameState {
    let state = this.names.get(name);
    if (state !== undefined && state.type === type && state.units === units && state.slope === slope
      && state.source === source) {
      return state;
    }
    const intern = this.interner;
    if (state === undefined) {
      state = {
        name: intern.string(name), type: '', units: '', slope: '', source: '', shape: null, shapeId: -1, host: 0, position: 0,
      };
      this.names.set(state.name, state);
    }
    state.type = intern.string(type);
    state.units = intern.string(units);
    state.slope = intern.string(slope);
    state.source = intern.string(source);
    return state;
  }

  private closeMetric(): void {
    const m = this.metric!;
    const host = this.host!;
    this.metric = null;
    const extra = this.takeExtra(m.name);
    let shape = m.shape;
    if (shape === null || shape.type !== m.type || shape.units !== m.units || shape.slope !== m.slope
      || shape.source !== m.source || shape.tmax !== this.metricTmax || shape.dmax !== this.metricDmax || shape.extra !== extra) {
      shape = {
        name: m.name, type: m.type, units: m.units, tmax: this.metricTmax, dmax: this.metricDmax, slope: m.slope,
        source: m.source, extra,
      };
      m.shape = shape;
      m.shapeId = -1;
    }
    const val = this.metricVal;
    if (host.kept) {
      if (m.shapeId < 0) m.shapeId = this.writer.addShape(shape);
      let replaces = -1;
      if (m.host === this.hostSerial) {
        replaces = m.position;
      } else {
        m.host = this.hostSerial;
        m.position = host.metricCount++;
      }
      this.writer.metric(m.shapeId, shape, val, this.metricTn, replaces);
    }
    if (host.up) {
      const summed = this.summed;
      summed.shape = shape;
      summed.val = val;
      this.currentSummary()!.addMetric(summed);
    }
  }

  private addExtraElement(attrs: Attributes): void {
    // 3.7.2 keeps EXTRA_ELEMENTs only for METRICs of its own clusters: inside a grid, and
    // under METRICS, they are ignored, so received summaries carry no EXTRA_DATA.
    if (this.metric === null || this.cluster === null) return;
    const name = attrs.NAME;
    const val = attrs.VAL;
    if (name === undefined || val === undefined) return;
    // Raw for now: Interner.extra() compares by content and interns only new lists.
    this.extraNames[this.extraCount] = name;
    this.extraVals[this.extraCount] = val;
    this.extraCount++;
  }

  private takeExtra(metricName: string): ExtraData {
    const extra = this.interner.extra(metricName, this.extraNames, this.extraVals, this.extraCount);
    this.extraCount = 0;
    return extra;
  }

  /** `<HOSTS UP= DOWN=>` of a cluster or grid in summary form. */
  private addHostsSummary(attrs: Attributes): void {
    const summary = this.currentSummary();
    if (!this.scalable || summary === null || this.host !== null) return;
    summary.addSummary({ hostsUp: toInt(attrs.UP), hostsDown: toInt(attrs.DOWN), metrics: EMPTY_SUMMARY.metrics });
  }

  private countMetricElement(): void {
    if (++this.metricElements > this.maxMetrics) {
      throw new LimitExceeded('max_metrics', `the document lists more than ${this.maxMetrics} metrics`);
    }
  }

  private openMetrics(attrs: Attributes): Frame {
    this.countMetricElement();
    if (!this.scalable || this.currentSummary() === null || this.host !== null || this.metricSummary !== null) {
      return Frame.Ignored;
    }
    const name = attrs.NAME;
    const type = attrs.TYPE ?? 'double';
    if (name === undefined || !NUMERIC_TYPES.has(type)) return Frame.Ignored;
    const sumText = attrs.SUM ?? '0';
    const sum = Number(sumText);
    const intern = this.interner;
    this.metricSummary = {
      name: intern.string(name),
      sum: Number.isFinite(sum) ? sum : 0,
      num: toInt(attrs.NUM),
      precision: precisionOf(type, sumText),
      units: intern.string(attrs.UNITS ?? ''),
      slope: intern.string(attrs.SLOPE ?? UNSPECIFIED),
      source: attrs.SOURCE === undefined ? DEFAULT_SOURCE : intern.string(attrs.SOURCE),
    };
    this.extraCount = 0;
    return Frame.Metrics;
  }

  private closeMetrics(): void {
    const m = this.metricSummary!;
    this.metricSummary = null;
    const entry: MetricSummary = { ...m, extra: this.takeExtra(m.name) /* always empty, see addExtraElement */ };
    this.currentSummary()!.addSummary({ hostsUp: 0, hostsDown: 0, metrics: new Map([[entry.name, entry]]) });
  }
}
