/**
 * The bounded queue every exporter keeps between the poll that produced its data and the
 * socket: batches of encoded bytes, bounded in bytes. When it is full the oldest batches
 * go first (as telegraf's metric buffer does: the freshest values matter most), and every
 * item lost that way is counted.
 */
import { Fifo } from '../rrd/fifo';

/** Encoded bytes holding `items` values (lines, events, memcached sets). */
export interface Batch {
  readonly data: Buffer;
  readonly items: number;
}

export interface QueueCounters {
  /** Items accepted into the queue. */
  enqueued: number;
  /** Items dropped because the queue was full (or unsendable at shutdown). */
  dropped: number;
  /** Items and bytes waiting now. */
  queuedItems: number;
  queuedBytes: number;
}

export class BatchQueue {
  private readonly batches = new Fifo<Batch>();

  constructor(
    private readonly maxBytes: number,
    readonly counters: QueueCounters = { enqueued: 0, dropped: 0, queuedItems: 0, queuedBytes: 0 },
  ) {
    if (!(maxBytes > 0)) throw new Error(`queue size must be positive, got ${maxBytes}`);
  }

  get length(): number {
    return this.batches.length;
  }

  /** Adds a batch, dropping the oldest ones while the bound would be exceeded. */
  push(batch: Batch): void {
    this.counters.enqueued += batch.items;
    this.batches.push(batch);
    this.counters.queuedItems += batch.items;
    this.counters.queuedBytes += batch.data.length;
    while (this.counters.queuedBytes > this.maxBytes && this.batches.length > 0) {
      this.dropOldest();
    }
  }

  /** Puts batches that were taken but not delivered back at the front, in order. */
  requeue(batches: readonly Batch[]): void {
    if (batches.length === 0) return;
    this.batches.unshiftAll(batches);
    for (const b of batches) {
      this.counters.queuedItems += b.items;
      this.counters.queuedBytes += b.data.length;
    }
    while (this.counters.queuedBytes > this.maxBytes && this.batches.length > 0) this.dropOldest();
  }

  shift(): Batch | undefined {
    const batch = this.batches.shift();
    if (batch) {
      this.counters.queuedItems -= batch.items;
      this.counters.queuedBytes -= batch.data.length;
    }
    return batch;
  }

  /** Drops everything still waiting (counted); returns how many items that was. */
  dropAll(): number {
    let items = 0;
    while (this.batches.length > 0) items += this.dropOldest();
    return items;
  }

  private dropOldest(): number {
    const batch = this.shift()!;
    this.counters.dropped += batch.items;
    return batch.items;
  }
}

/**
 * Packs encoded items into batches of at most `maxBytes` (never splitting an item), the
 * unit handed to a queue: 64 KiB socket writes for streams, one datagram each for UDP.
 */
export class BatchBuilder {
  private parts: Buffer[] = [];
  private bytes = 0;
  private items = 0;
  private text = '';

  constructor(
    private readonly maxBytes: number,
    private readonly emit: (batch: Batch) => void,
  ) {}

  /** Adds one item given as latin1 text (one char per byte, as the tree keeps strings). */
  addText(item: string): void {
    if (this.bytes + this.text.length + item.length > this.maxBytes) this.cut();
    this.text += item;
    this.items += 1;
  }

  /** Adds one item given as bytes. */
  addBytes(item: Buffer): void {
    this.flattenText();
    if (this.bytes + item.length > this.maxBytes) this.cut();
    this.parts.push(item);
    this.bytes += item.length;
    this.items += 1;
  }

  /** Counts `n` more items in the current batch (an item that holds several values). */
  addCount(n: number): void {
    this.items += n;
  }

  /** Emits what is pending as a last, possibly short, batch. */
  finish(): void {
    this.cut();
  }

  private flattenText(): void {
    if (this.text.length === 0) return;
    const buf = Buffer.from(this.text, 'latin1');
    this.text = '';
    this.parts.push(buf);
    this.bytes += buf.length;
  }

  private cut(): void {
    this.flattenText();
    if (this.items === 0) return;
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    const batch = { data, items: this.items };
    this.parts = [];
    this.bytes = 0;
    this.items = 0;
    this.emit(batch);
  }
}
