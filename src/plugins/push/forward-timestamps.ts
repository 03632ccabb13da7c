/**
 * Epoch milliseconds per data source (and the root, `null`), strictly increasing: a poll whose
 * second was already used is written 1 ms after the previous one.
 *
 * The push exporters stamp values with the poll's start, to the second. Two polls of one
 * source can start within the same second (a step of 1 s with the ±5 % jitter, a restart
 * after SIGHUP), and a receiver treats a repeated timestamp as the same point: InfluxDB
 * overwrites the earlier poll, a remote-write receiver refuses the whole batch when the value
 * differs. Whole seconds stay whole otherwise, so points line up with the RRDs' steps.
 */
export class ForwardTimestamps {
  private readonly last = new Map<string | null, number>();

  next(source: string | null, timeSeconds: number): number {
    const previous = this.last.get(source) ?? Number.NEGATIVE_INFINITY;
    const ms = Math.max(timeSeconds * 1000, previous + 1);
    this.last.set(source, ms);
    return ms;
  }
}
