/**
 * What goes into an RRD: `rrdtool create` arguments and update values, as the C gmetad
 * 3.7.2 writes them, with two of its bugs fixed:
 * - the `num` DS of summary files is always GAUGE (3.7.2 gave it the metric's type, so a
 *   positive-slope summary's host count was stored as a rate of 0);
 * - the root summary uses the metric's real slope (3.7.2 read a garbage field) and the
 *   step it is written at (3.7.2 hardcoded 15): the caller passes the root step, which is
 *   the shortest data_source step.
 */
import type { MetricSummary } from '../../store/model';
import { formatSum } from '../../store/summary';

/** The C gmetad's default RRAs (gmetad.conf `RRAs` when not configured). */
export const DEFAULT_RRAS: readonly string[] = Object.freeze([
  'RRA:AVERAGE:0.5:1:5856',
  'RRA:AVERAGE:0.5:4:20160',
  'RRA:AVERAGE:0.5:40:52704',
]);

export type DsType = 'GAUGE' | 'COUNTER' | 'DERIVE';

/** positive → COUNTER, derivative → DERIVE, anything else (zero/negative/both/unspecified) → GAUGE. */
export function dsTypeForSlope(slope: string): DsType {
  switch (slope) {
    case 'positive':
      return 'COUNTER';
    case 'derivative':
      return 'DERIVE';
    default:
      return 'GAUGE';
  }
}

export interface CreateSpec {
  /** Seconds between expected updates (the data_source step). */
  readonly step: number;
  /** Timestamp of the first update; the file starts one second before it. */
  readonly firstUpdate: number;
  readonly slope: string;
  /** Summary files have a second DS, `num`. */
  readonly summary: boolean;
  readonly rras: readonly string[];
}

/** Arguments after `rrdtool create <file>`. Heartbeat is 8 steps, as in the C gmetad. */
export function createArguments(spec: CreateSpec): string[] {
  const step = Math.max(1, Math.floor(spec.step));
  const heartbeat = 8 * step;
  const args = [
    '--step', String(step),
    '--start', String(Math.floor(spec.firstUpdate) - 1),
    `DS:sum:${dsTypeForSlope(spec.slope)}:${heartbeat}:U:U`,
  ];
  if (spec.summary) args.push(`DS:num:GAUGE:${heartbeat}:U:U`);
  for (const rra of spec.rras.length > 0 ? spec.rras : DEFAULT_RRAS) args.push(rra);
  return args;
}

const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NOT_A_NUMBER = /^\s*[+-]?(?:nan|inf(?:inity)?)\s*$/i;

/**
 * A host metric VAL as an rrdtool value: verbatim when it is a plain decimal number (what
 * gmond sends), 'U' (unknown) for nan/inf, surrounding blanks trimmed; null when rrdtool
 * could not parse it (the C gmetad passed it and logged rrdtool's error).
 */
export function rrdValue(val: string): string | null {
  if (PLAIN_NUMBER.test(val)) return val;
  const trimmed = val.trim();
  if (trimmed !== val && PLAIN_NUMBER.test(trimmed)) return trimmed;
  if (NOT_A_NUMBER.test(val)) return 'U';
  return null;
}

/**
 * rrdtool accepts only integers for COUNTER and DERIVE data sources ("not a simple
 * integer"), so a fractional value for a positive/derivative metric, which made the C
 * gmetad's update fail, is rounded to the nearest integer. GAUGE values pass unchanged.
 */
export function valueForSlope(slope: string, value: string): string {
  if (dsTypeForSlope(slope) === 'GAUGE' || value === 'U' || /^[+-]?\d+$/.test(value)) return value;
  const n = Number(value);
  if (!Number.isFinite(n)) return 'U';
  return BigInt(Math.round(n)).toString();
}

/** Cluster/grid summary values `SUM:NUM`, SUM printed as in the XML METRICS line. */
export function summaryValues(summary: Pick<MetricSummary, 'sum' | 'num' | 'precision' | 'slope'>): string {
  const sum = Number.isFinite(summary.sum) ? formatSum(summary) : 'U';
  return `${valueForSlope(summary.slope, sum)}:${summary.num}`;
}

/** Cluster/grid summary update `ts:SUM:NUM`. */
export function summaryUpdate(ts: number, summary: Pick<MetricSummary, 'sum' | 'num' | 'precision' | 'slope'>): string {
  return `${ts}:${summaryValues(summary)}`;
}

/** Root summary values `SUM:NUM` with SUM as `%.5f` (the C gmetad's root format). */
export function rootSummaryValues(summary: Pick<MetricSummary, 'sum' | 'num' | 'slope'>): string {
  const sum = Number.isFinite(summary.sum) ? summary.sum.toFixed(5) : 'U';
  return `${valueForSlope(summary.slope, sum)}:${summary.num}`;
}

/** Root summary update `ts:SUM:NUM`. */
export function rootSummaryUpdate(ts: number, summary: Pick<MetricSummary, 'sum' | 'num' | 'slope'>): string {
  return `${ts}:${rootSummaryValues(summary)}`;
}
