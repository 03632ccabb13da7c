/**
 * Figures and tables of the RRD benchmark, computed from what bench/rrd.ts measured.
 * Pure functions: no processes, no files.
 */
import type { Side } from './daemons';
import type { LagSummary } from './rrd-files';
import type { RrdMode } from './rrd-config';
import { fmt, ratio, verdict, type Row } from './report';

/** CPU seconds over a measurement window, split by process. */
export interface CpuSplit {
  /** The daemon process itself (all its threads). */
  readonly daemon: number;
  /** Its child processes (gmetad-ts's `rrdtool -` processes). */
  readonly children: number;
  /** Its rrdcached (cached mode), including the forced flush after the window. */
  readonly rrdcached: number;
}

export function cpuTotal(cpu: CpuSplit): number {
  return cpu.daemon + cpu.children + cpu.rrdcached;
}

export interface CreationResult {
  /** From the first poll until every expected file existed (or the count stopped growing). */
  readonly seconds: number;
  /** CPU (daemon + children + rrdcached) from the daemon's start to then. */
  readonly cpuSeconds: number;
  readonly files: number;
  readonly complete: boolean;
}

export interface ModeSideResult {
  readonly side: Side;
  readonly mode: RrdMode;
  /** gmetad-ts write_behind in seconds (0: not applicable or off). */
  readonly writeBehind: number;
  creation?: CreationResult;
  windowSeconds?: number;
  cpu?: CpuSplit;
  /** Polls served to this daemon during the window, and their mean interval (s). */
  polls?: number;
  meanPollInterval?: number;
  /** RRD files scanned (cluster tree: host files + the cluster's summary; the root summary is left out). */
  filesScanned?: number;
  unreadable?: number;
  /** Values that reached the scanned files during the window (from their last_update). */
  valuesWritten?: number;
  /** Values the window's polls carried for the scanned files (files x polls). */
  valuesPolled?: number;
  /** gmetad-ts /status metrics.sent.<backend>.num over the window. */
  tsValuesSent?: number;
  /**
   * gmetad-ts /status eventLoop read at the end of the window: cumulative since the daemon
   * started, so its file creation cycle is included.
   */
  tsEventLoop?: { readonly maxMs: number; readonly p99Ms: number };
  /** How long /status took to answer, asked every 200 ms through the window (ms). */
  statusAnswerMs?: number[];
  /** The daemon process's VmRSS and its RssAnon part at the end of the window, KiB. */
  rssEndKiB?: number;
  rssAnonEndKiB?: number;
  /** gmetad-ts: CPU s per cycle over the window by thread. */
  threadCpu?: ThreadCpu;
  /** rrdcached STATS DataSetsWritten over the window (with the flush method, its final flush included). */
  rrdcachedValuesWritten?: number;
  lag?: LagSummary;
  /** The whole RRD tree (root summary included) at the end. */
  totalFiles?: number;
  /** Steady rrdcached window (no forced flush): its STATS over the window. */
  rrdcachedSteady?: { queueAtStart: number; queueAtEnd: number; updatesReceived: number; filesWritten: number };
  /** Steady rrdcached window: lag of a sample of files read as gweb reads them (FLUSH first). */
  freshLag?: LagSummary;
  /** How long the end-of-window flush of rrdcached took (s). */
  flushSeconds?: number;
  /** The daemon did not make its 2 warm-up polls in time (the window was measured anyway). */
  warmUpIncomplete?: boolean;
}

/** gmetad-ts's CPU s per cycle by thread: the port thread, the RRD update thread, the parse workers, the rest (V8, libuv). */
export interface ThreadCpu {
  readonly port: number;
  readonly rrdUpdates: number;
  readonly parse: number;
  readonly other: number;
}

/** CPU seconds per poll cycle of `step` seconds over the window (all processes of the side). */
export function cpuPerCycle(r: ModeSideResult, step: number): number | undefined {
  if (!r.cpu || !r.windowSeconds) return undefined;
  return cpuTotal(r.cpu) / (r.windowSeconds / step);
}

/** µs of CPU per RRD metric per cycle: CPU per cycle / metrics, optionally minus the no-RRD baseline. */
export function microsPerMetric(perCycle: number | undefined, metrics: number, baselinePerCycle?: number): number | undefined {
  if (perCycle === undefined || metrics <= 0) return undefined;
  return ((perCycle - (baselinePerCycle ?? 0)) / metrics) * 1e6;
}

export function updatesPerSecond(r: ModeSideResult): number | undefined {
  if (r.valuesWritten === undefined || !r.windowSeconds) return undefined;
  return r.valuesWritten / r.windowSeconds;
}

/**
 * µs of CPU per value that reached the files, RRD part: the window's CPU minus the no-RRD
 * baseline of the polls the daemon made in it, per value written. Per metric per cycle
 * compares equal work only while both daemons keep up; a daemon that falls behind polls
 * less and writes fewer values, and its CPU per cycle is capped by the core it runs on.
 */
export function rrdMicrosPerValue(r: ModeSideResult, baselinePerCycle: number | undefined): number | undefined {
  if (!r.cpu || !r.valuesWritten || r.polls === undefined || baselinePerCycle === undefined) return undefined;
  return ((cpuTotal(r.cpu) - baselinePerCycle * r.polls) / r.valuesWritten) * 1e6;
}

/**
 * Keeps up: no file further behind than allowed, polls not spaced out beyond step + 10 %, and
 * (steady rrdcached window) no sampled file behind once flushed.
 */
export function keepsUp(r: ModeSideResult, step: number): boolean | undefined {
  if (!r.lag || r.meanPollInterval === undefined) return undefined;
  const freshOk = r.freshLag === undefined || (r.freshLag.files > 0 && r.freshLag.behind === 0);
  return r.lag.files > 0 && r.lag.behind === 0 && r.meanPollInterval <= step * 1.1 && freshOk;
}

export interface ModeTableInput {
  readonly mode: RrdMode;
  readonly step: number;
  /** RRD metrics per cycle (the per-metric divisor). */
  readonly metrics: number;
  readonly ts?: ModeSideResult;
  readonly c?: ModeSideResult;
  /** CPU per cycle with write_rrds off, per side (to isolate the RRD part). */
  readonly baseline: Partial<Record<Side, number>>;
  /** C figure to compare with when this mode has no C side (direct-wb120). */
  readonly cReference?: ModeSideResult;
}

/** The table of one RRD mode. */
export function modeRows(input: ModeTableInput): Row[] {
  const { step, metrics } = input;
  const ts = input.ts;
  const c = input.c ?? input.cReference;
  const rows: Row[] = [];
  const info = (figure: string, tsV: number | undefined, cV: number | undefined, digits: number, withRatio = true) =>
    rows.push({ figure, ts: fmt(tsV, digits), c: fmt(cV, digits), ratio: withRatio ? ratio(tsV, cV) : '-', target: 'info', verdict: 'n/a' });

  const tsCycle = ts ? cpuPerCycle(ts, step) : undefined;
  const cCycle = c ? cpuPerCycle(c, step) : undefined;
  info(`CPU s per ${step} s cycle (daemon + children + rrdcached)`, tsCycle, cCycle, 3);
  const part = (r: ModeSideResult | undefined, key: keyof CpuSplit) => (r?.cpu && r.windowSeconds ? r.cpu[key] / (r.windowSeconds / step) : undefined);
  info('  of which the daemon process', part(ts, 'daemon'), part(c, 'daemon'), 3);
  info('  of which its child processes (rrdtool)', part(ts, 'children'), part(c, 'children'), 3);
  if (input.mode === 'cached') info('  of which rrdcached', part(ts, 'rrdcached'), part(c, 'rrdcached'), 3);
  info('CPU µs per metric per cycle (total)', microsPerMetric(tsCycle, metrics), microsPerMetric(cCycle, metrics), 1);
  const tsRrd = microsPerMetric(tsCycle, metrics, input.baseline.ts);
  const cRrd = microsPerMetric(cCycle, metrics, input.baseline.c);
  const measured = tsRrd !== undefined && cRrd !== undefined && input.baseline.ts !== undefined && input.baseline.c !== undefined;
  // The per-cycle figure compares equal work only if the C gmetad kept up; otherwise the
  // per-value figure below carries the target.
  const cBehind = c !== undefined && keepsUp(c, step) === false;
  const targeted = input.mode === 'direct';
  rows.push({
    figure: 'CPU µs per metric per cycle, RRD part (minus write_rrds-off baseline)',
    ts: fmt(measured ? tsRrd : undefined, 1),
    c: fmt(measured ? cRrd : undefined, 1),
    ratio: measured ? ratio(tsRrd, cRrd) : '-',
    target: targeted ? (cBehind ? '<= 0.5x C while C keeps up' : '<= 0.5x C') : 'info',
    verdict: targeted && !cBehind ? verdict(measured, measured && tsRrd! <= 0.5 * cRrd!) : 'n/a',
  });
  const tsPerValue = ts ? rrdMicrosPerValue(ts, input.baseline.ts) : undefined;
  const cPerValue = c ? rrdMicrosPerValue(c, input.baseline.c) : undefined;
  const perValueMeasured = tsPerValue !== undefined && cPerValue !== undefined;
  rows.push({
    figure: 'CPU µs per value written, RRD part (window CPU minus the baseline of its polls)',
    ts: fmt(tsPerValue, 1),
    c: fmt(cPerValue, 1),
    ratio: perValueMeasured ? ratio(tsPerValue, cPerValue) : '-',
    target: targeted && cBehind ? '<= 0.5x C (C behind: equal work)' : 'info',
    verdict: targeted && cBehind ? verdict(perValueMeasured, perValueMeasured && tsPerValue! <= 0.5 * cPerValue!) : 'n/a',
  });
  info('RRD updates per second (values reaching the files)', ts ? updatesPerSecond(ts) : undefined, c ? updatesPerSecond(c) : undefined, 0);
  const share = (r: ModeSideResult | undefined) =>
    r?.valuesWritten !== undefined && r.valuesPolled ? r.valuesWritten / r.valuesPolled : undefined;
  info('values written / values polled in the window', share(ts), share(c), 2, false);
  const lagText = (r: ModeSideResult | undefined) =>
    r?.lag ? `${fmt(r.lag.maxLag, 0)} / ${fmt(r.lag.medianLag, 0)} (allowed ${r.lag.allowedLag})` : '-';
  rows.push({ figure: 'lag behind newest poll at the end, max / median (s)', ts: lagText(ts), c: lagText(c), ratio: '-', target: 'info', verdict: 'n/a' });
  if (ts?.freshLag || c?.freshLag) {
    const freshText = (r: ModeSideResult | undefined) =>
      r?.freshLag ? `${fmt(r.freshLag.maxLag, 0)} / ${fmt(r.freshLag.medianLag, 0)} (allowed ${r.freshLag.allowedLag}; ${r.freshLag.files} files)` : '-';
    rows.push({ figure: 'lag as read through rrdcached (FLUSH, then read), max / median (s)', ts: freshText(ts), c: freshText(c), ratio: '-', target: 'info', verdict: 'n/a' });
  }
  const upText = (r: ModeSideResult | undefined) => {
    const up = r ? keepsUp(r, step) : undefined;
    if (up === undefined || !r?.lag) return '-';
    return `${up ? 'yes' : 'no'} (${r.lag.behind} files behind, polls every ${fmt(r.meanPollInterval, 1)} s)`;
  };
  const tsUp = ts ? keepsUp(ts, step) : undefined;
  rows.push({ figure: `keeps up with the ${step} s interval`, ts: upText(ts), c: upText(c), ratio: '-', target: 'yes', verdict: verdict(tsUp !== undefined, tsUp === true) });
  const answers = (r: ModeSideResult | undefined) => {
    const times = r?.statusAnswerMs;
    if (!times || times.length === 0) return '-';
    const sorted = [...times].sort((x, y) => x - y);
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
    return `${fmt(sorted[sorted.length - 1], 1)} / ${fmt(p99, 1)} / ${fmt(sorted[Math.floor(sorted.length / 2)], 1)} (${sorted.length} asked)`;
  };
  if (ts?.statusAnswerMs || c?.statusAnswerMs) {
    rows.push({ figure: '/status answer time through the window, max / p99 / median (ms)', ts: answers(ts), c: answers(input.c), ratio: '-', target: 'info', verdict: 'n/a' });
  }
  if (ts?.tsEventLoop) {
    const loop = ts.tsEventLoop;
    rows.push({
      figure: 'gmetad-ts event-loop lateness since start (creation cycle included), max / p99 (ms)',
      ts: `${fmt(loop.maxMs, 1)} / ${fmt(loop.p99Ms, 1)}`, c: '-', ratio: '-', target: 'info (issue 9: <= 50 / <= 10 without RRDs)', verdict: 'n/a',
    });
  }
  const creation = (r: ModeSideResult | undefined) => (r?.creation ? `${fmt(r.creation.seconds, 1)} s, ${fmt(r.creation.cpuSeconds, 1)} CPU s, ${r.creation.files} files${r.creation.complete ? '' : ' (INCOMPLETE)'}` : undefined);
  const tsCreate = creation(ts);
  const cCreate = creation(input.c);
  if (tsCreate || cCreate) {
    rows.push({
      figure: 'file creation cycle (first poll until all files exist)',
      ts: tsCreate ?? '-', c: cCreate ?? '-',
      ratio: ts?.creation && input.c?.creation ? ratio(ts.creation.seconds, input.c.creation.seconds) : '-',
      target: 'info', verdict: 'n/a',
    });
  }
  return rows;
}
