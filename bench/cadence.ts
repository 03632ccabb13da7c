/**
 * Poll cadence from the emulated gmond's connection timestamps: how late each poll came
 * compared with the previous poll + step.
 */

export interface PollLateness {
  /** Expected time (previous poll + step), epoch ms. */
  readonly expectedAt: number;
  /** Actual time, or null if it has not come yet. */
  readonly arrivedAt: number | null;
  /** arrivedAt (or `now` if still missing) minus expectedAt, ms; negative = early. */
  readonly latenessMs: number;
}

/**
 * Every poll expected within [from, to]: the pair (previous poll a, next poll b) with
 * a + step in the window. A poll that has not arrived by `now` counts as late by now - expected.
 */
export function pollsExpectedIn(
  connections: readonly number[],
  stepMs: number,
  from: number,
  to: number,
  now: number,
): PollLateness[] {
  const out: PollLateness[] = [];
  for (let i = 0; i < connections.length; i++) {
    const expectedAt = connections[i]! + stepMs;
    if (expectedAt < from || expectedAt > to) continue;
    const next = connections[i + 1];
    out.push(
      next === undefined
        ? { expectedAt, arrivedAt: null, latenessMs: now - expectedAt }
        : { expectedAt, arrivedAt: next, latenessMs: next - expectedAt },
    );
  }
  return out;
}

/** The largest lateness among `polls` (0 if none were late; -Infinity if there are none). */
export function maxLateness(polls: readonly PollLateness[]): number {
  return polls.reduce((max, p) => Math.max(max, p.latenessMs), -Infinity);
}

/** Intervals between consecutive polls, ms. */
export function pollIntervals(connections: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < connections.length; i++) out.push(connections[i]! - connections[i - 1]!);
  return out;
}

/** Median of numbers (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
