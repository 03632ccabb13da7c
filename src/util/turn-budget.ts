/**
 * One time budget per event-loop turn for a thread's bulk work: on the port thread, rendering
 * and writing dumps (src/server/socket-io); in a parse worker, reading and parsing polled
 * documents (src/readers/fetch-document). Work that finds the budget spent waits for a later
 * turn, so timers, other sockets and messages run after a bounded stretch however many
 * clients read a dump or sources send at once.
 */
import { performance } from 'node:perf_hooks';

/**
 * Work allowed before the event loop gets a turn. Shared, not per connection: 50 clients
 * each taking 5 ms in one pass of setImmediate callbacks held timers and polls for 250 ms,
 * and ten sources read at once (libuv reads up to 32 chunks per socket per turn) for ~100 ms.
 */
export const TURN_BUDGET_MS = 4;

/**
 * A worker works while the budget of the current turn lasts; then it queues, and the queue
 * is served from one setImmediate per event-loop iteration (after that iteration's timers
 * and I/O), in round-robin order, so a fast reader on loopback never starves polls or other
 * clients.
 */
export class TurnBudget {
  private open = false;
  private openedAt = 0;
  /** Waiters that used the budget up: served after `starved`. */
  private readonly worked: (() => void)[] = [];
  /** Waiters that were resumed but found the budget gone: served first next time. */
  private readonly starved: (() => void)[] = [];
  private tickScheduled = false;

  constructor(private readonly budgetMs = TURN_BUDGET_MS, private readonly now: () => number = () => performance.now()) {}

  /** True while this turn's budget lasts; opens a budget if none is open. */
  mayWork(): boolean {
    if (!this.open) this.openTurn();
    return this.now() - this.openedAt < this.budgetMs;
  }

  /** Resolves at a later event-loop iteration; `didWork`: the waiter used budget since it was last resumed. */
  wait(didWork: boolean): Promise<void> {
    return new Promise((resolve) => {
      (didWork ? this.worked : this.starved).push(resolve);
      this.scheduleTick();
    });
  }

  private openTurn(): void {
    this.open = true;
    this.openedAt = this.now();
    this.scheduleTick();
  }

  private scheduleTick(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    // Queued from within a setImmediate callback, it runs in the next iteration.
    setImmediate(() => this.tick());
  }

  private tick(): void {
    this.tickScheduled = false;
    this.open = false;
    if (this.starved.length === 0 && this.worked.length === 0) return;
    const next = [...this.starved, ...this.worked];
    this.starved.length = 0;
    this.worked.length = 0;
    this.openTurn();
    // Their continuations run right after this callback, in this order, within the budget.
    for (const resume of next) resume();
  }
}

/** The one budget of the port thread (both ports). */
export const portThreadTurns = new TurnBudget();
