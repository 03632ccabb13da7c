/**
 * Cluster, grid and root summaries (HOSTS UP/DOWN and METRICS SUM/NUM), following the
 * C gmetad 3.7.2's rules:
 * - only hosts that are up contribute metrics; only numeric types are summed;
 * - NUM counts the hosts reporting the metric; TYPE is always printed as "double";
 * - SUM prints with the precision, UNITS, SLOPE of the first value that created the entry;
 * - EXTRA_DATA is the union of the hosts' elements, SPOOF_HOST excluded.
 * Unlike 3.7.2, summaries of grids nested in grids are kept (they are merged like clusters).
 */
import type { ExtraData, ExtraElement, Host, Metric, MetricSummary, Summary } from './model';
import { INTEGER_TYPES, NUMERIC_TYPES } from './model';

/** Which metric names are summarised; built once from the config. */
export interface SummaryPolicy {
  summarize(metricName: string): boolean;
}

export interface SummaryPolicyOptions {
  /** Name prefixes never summarised (`unsummarized_metrics`). */
  readonly unsummarizedMetrics: readonly string[];
  /** Skip sFlow VM metrics: a name whose first '.' is followed by 'v' (`unsummarized_sflow_vm_metrics`). */
  readonly unsummarizedSflowVmMetrics: boolean;
  /** If non-empty, only these name prefixes are summarised (`summarized_metrics`). */
  readonly summarizedMetrics: readonly string[];
}

export function buildSummaryPolicy(options: SummaryPolicyOptions): SummaryPolicy {
  const { unsummarizedMetrics, unsummarizedSflowVmMetrics, summarizedMetrics } = options;
  if (unsummarizedMetrics.length === 0 && !unsummarizedSflowVmMetrics && summarizedMetrics.length === 0) {
    return SUMMARIZE_ALL;
  }
  const cache = new Map<string, boolean>();
  const decide = (name: string): boolean => {
    if (summarizedMetrics.length > 0 && !summarizedMetrics.some((p) => name.startsWith(p))) return false;
    if (unsummarizedMetrics.some((p) => name.startsWith(p))) return false;
    if (unsummarizedSflowVmMetrics) {
      const dot = name.indexOf('.');
      if (dot >= 0 && name.charCodeAt(dot + 1) === 0x76 /* v */) return false;
    }
    return true;
  };
  return {
    summarize(name: string): boolean {
      let verdict = cache.get(name);
      if (verdict === undefined) {
        verdict = decide(name);
        cache.set(name, verdict);
      }
      return verdict;
    },
  };
}

export const SUMMARIZE_ALL: SummaryPolicy = { summarize: () => true };

export const EMPTY_SUMMARY: Summary = Object.freeze({
  hostsUp: 0,
  hostsDown: 0,
  metrics: new Map<string, MetricSummary>(),
});

/** Digits after the last '.' of a value, the C gmetad's SUM precision rule. */
export function precisionOf(type: string, val: string): number {
  if (INTEGER_TYPES.has(type)) return 0;
  const dot = val.lastIndexOf('.');
  return dot < 0 ? 0 : val.length - dot - 1;
}

/** SUM as printed in METRICS and written to summary RRDs. */
export function formatSum(summary: Pick<MetricSummary, 'sum' | 'precision'>): string {
  return summary.sum.toFixed(Math.min(summary.precision, 100));
}

interface MutableMetricSummary {
  name: string;
  sum: number;
  num: number;
  precision: number;
  units: string;
  slope: string;
  source: string;
  extra: ExtraData;
  /** Set once a second distinct EXTRA_DATA list had to be merged in. */
  extraKeys: Set<string> | null;
}

/**
 * Accumulates hosts (for a cluster) or whole summaries (for a grid or the root) into one
 * Summary. Single use: call finish() once.
 */
export class SummaryAccumulator {
  private hostsUp = 0;
  private hostsDown = 0;
  private readonly metrics = new Map<string, MutableMetricSummary>();

  constructor(private readonly policy: SummaryPolicy = SUMMARIZE_ALL) {}

  addHost(host: Host): void {
    if (!host.up) {
      this.hostsDown += 1;
      return;
    }
    this.hostsUp += 1;
    for (const metric of host.metrics.values()) this.addMetric(metric);
  }

  addMetric(metric: Metric): void {
    if (!NUMERIC_TYPES.has(metric.type) || !this.policy.summarize(metric.name)) return;
    const value = Number(metric.val);
    const entry = this.metrics.get(metric.name);
    if (entry === undefined) {
      this.metrics.set(metric.name, {
        name: metric.name,
        sum: Number.isFinite(value) ? value : 0,
        num: 1,
        precision: precisionOf(metric.type, metric.val),
        units: metric.units,
        slope: metric.slope,
        source: metric.source,
        extra: withoutSpoofHost(metric.extra),
        extraKeys: null,
      });
      return;
    }
    if (Number.isFinite(value)) entry.sum += value;
    entry.num += 1;
    mergeExtra(entry, metric.extra);
  }

  addSummary(summary: Summary): void {
    this.hostsUp += summary.hostsUp;
    this.hostsDown += summary.hostsDown;
    for (const part of summary.metrics.values()) {
      if (!this.policy.summarize(part.name)) continue;
      const entry = this.metrics.get(part.name);
      if (entry === undefined) {
        // Grid and root summaries carry no EXTRA_DATA, as in the C gmetad's output.
        this.metrics.set(part.name, { ...part, extra: NO_EXTRA, extraKeys: null });
        continue;
      }
      entry.sum += part.sum;
      entry.num += part.num;
    }
  }

  finish(): Summary {
    const metrics = new Map<string, MetricSummary>();
    for (const [name, m] of this.metrics) {
      metrics.set(name, {
        name: m.name,
        sum: m.sum,
        num: m.num,
        precision: m.precision,
        units: m.units,
        slope: m.slope,
        source: m.source,
        extra: m.extra,
      });
    }
    return { hostsUp: this.hostsUp, hostsDown: this.hostsDown, metrics };
  }
}

export function mergeSummaries(parts: Iterable<Summary>, policy: SummaryPolicy = SUMMARIZE_ALL): Summary {
  const acc = new SummaryAccumulator(policy);
  for (const part of parts) acc.addSummary(part);
  return acc.finish();
}

const SPOOF_HOST = 'SPOOF_HOST';
const NO_EXTRA: ExtraData = Object.freeze([]);

function withoutSpoofHost(extra: ExtraData): ExtraData {
  return extra.some((e) => e.name === SPOOF_HOST) ? extra.filter((e) => e.name !== SPOOF_HOST) : extra;
}

function extraKey(e: ExtraElement): string {
  return `${e.name}\u0000${e.val}`;
}

/** Union of (NAME, VAL) pairs; the common case (identical lists) costs one reference check. */
function mergeExtra(entry: MutableMetricSummary, extra: ExtraData): void {
  if (extra === entry.extra || extra.length === 0) return;
  if (entry.extraKeys === null) {
    if (sameExtra(entry.extra, extra)) return;
    entry.extraKeys = new Set(entry.extra.map(extraKey));
    entry.extra = [...entry.extra];
  }
  for (const e of extra) {
    if (e.name === SPOOF_HOST) continue;
    const key = extraKey(e);
    if (!entry.extraKeys.has(key)) {
      entry.extraKeys.add(key);
      (entry.extra as ExtraElement[]).push(e);
    }
  }
}

function sameExtra(a: ExtraData, b: ExtraData): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].val !== b[i].val) return false;
  }
  return true;
}
