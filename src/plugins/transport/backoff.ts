/**
 * Reconnect delays with "full jitter" (AWS architecture blog): a random wait between 0 and
 * an exponentially growing cap, so many daemons that lost the same receiver do not all
 * come back in the same millisecond.
 */
export interface BackoffOptions {
  /** Cap of the first retry, ms. */
  readonly baseMs?: number;
  /** Largest cap, ms. */
  readonly maxMs?: number;
  /** Uniform in [0, 1); injected by tests. */
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 100;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The wait before the next attempt; each call widens the window up to maxMs. */
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor(this.random() * cap);
  }

  /** After a success: the next failure starts from the smallest window again. */
  reset(): void {
    this.attempt = 0;
  }
}
