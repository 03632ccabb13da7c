/**
 * Push exporters after SIGHUP: when the delivery settings change (URL, auth, batch size...),
 * a new queue takes the new values while the old one sends what it holds to the old
 * receiver and closes; flush() waits for both.
 */
import type { PushSettings } from './push-settings';
import type { PushQueue } from './push-queue';

/** Whether two settings deliver the same way (then the queue is kept as it is). */
export function sameDelivery(a: PushSettings, b: PushSettings): boolean {
  return a.url.href === b.url.href && a.timeoutMs === b.timeoutMs && a.batchSize === b.batchSize
    && a.maxQueuedValues === b.maxQueuedValues && a.flushTimeoutMs === b.flushTimeoutMs
    && JSON.stringify(a.headers) === JSON.stringify(b.headers);
}

export class RetiringQueues {
  private readonly closing = new Set<Promise<void>>();

  /** Lets `queue` deliver what it holds (for up to `timeoutMs`) and close, in the background. */
  retire(queue: Pick<PushQueue<never>, 'close'>, timeoutMs: number): void {
    const done: Promise<void> = queue.close(timeoutMs).finally(() => this.closing.delete(done));
    this.closing.add(done);
  }

  async settled(): Promise<void> {
    await Promise.all([...this.closing]);
  }
}
