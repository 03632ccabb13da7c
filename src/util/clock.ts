/**
 * The wall clock, injectable. Everything that reads the time to decide what to serve or
 * write (TN, LOCALTIME, DMAX expiry, /status, the dump cache's second, plugin event times,
 * RRD timestamps) takes a Clock, so tests can pin it to the time their fixtures were
 * captured instead of today's date. Durations are measured with performance.now(), never
 * with a Clock.
 */

/** Epoch milliseconds. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** Epoch seconds, as the Ganglia XML and rrdtool count them. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock() / 1000);
}

/** A clock stopped at `epochMs` (tests). */
export function fixedClock(epochMs: number): Clock {
  return () => epochMs;
}
