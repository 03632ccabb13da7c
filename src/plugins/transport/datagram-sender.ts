/**
 * UDP to a receiver, one batch per datagram (a batch never splits an item, so a datagram
 * always holds whole lines or whole messages). Bounded like StreamSender: a BatchQueue in
 * front, at most a few datagrams handed to the kernel at a time. UDP loses what the
 * receiver or the network loses, silently, as with the C gmetad; the counters say what
 * left this process.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { type Batch, BatchQueue, type QueueCounters } from './batch-queue';
import type { StructuredLogger } from '../../util/logging';

export interface DatagramSenderOptions {
  readonly host: string;
  readonly port: number;
  readonly maxQueueBytes: number;
  readonly logger: StructuredLogger;
  readonly onSent?: (items: number) => void;
}

export interface DatagramCounters extends QueueCounters {
  sent: number;
  sendErrors: number;
}

/** Datagrams handed to the kernel and not yet confirmed. */
const MAX_IN_FLIGHT = 64;

export class DatagramSender {
  readonly counters: DatagramCounters = { enqueued: 0, dropped: 0, queuedItems: 0, queuedBytes: 0, sent: 0, sendErrors: 0 };
  private readonly queue: BatchQueue;
  private socket: dgram.Socket | null = null;
  private inFlight = 0;
  private closed = false;
  private flushWaiters: (() => void)[] = [];
  private lastErrorLogged = 0;

  constructor(private readonly options: DatagramSenderOptions) {
    this.queue = new BatchQueue(options.maxQueueBytes, this.counters);
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  send(batch: Batch): void {
    if (this.closed) {
      this.counters.dropped += batch.items;
      return;
    }
    this.queue.push(batch);
    this.pump();
  }

  async flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.flushWaiters.push(resolve);
      this.pump();
    });
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private ensureSocket(): dgram.Socket {
    if (this.socket) return this.socket;
    const socket = dgram.createSocket(net.isIPv6(this.options.host) ? 'udp6' : 'udp4');
    socket.on('error', (err) => this.options.logger.warn({ receiver: this.address, err: err.message }, 'UDP socket error'));
    socket.unref();
    this.socket = socket;
    return socket;
  }

  private pump(): void {
    if (this.closed) return;
    const socket = this.ensureSocket();
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.inFlight += 1;
      socket.send(batch.data, this.options.port, this.options.host, (err) => {
        this.inFlight -= 1;
        if (err) {
          this.counters.sendErrors += 1;
          this.counters.dropped += batch.items;
          const now = Date.now();
          if (now - this.lastErrorLogged > 10_000) {
            this.lastErrorLogged = now;
            this.options.logger.warn({ receiver: this.address, err: err.message }, 'UDP send failed');
          }
        } else {
          this.counters.sent += batch.items;
          this.options.onSent?.(batch.items);
        }
        this.pump();
      });
    }
    if (this.queue.length === 0 && this.inFlight === 0 && this.flushWaiters.length > 0) {
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      for (const w of waiters) w();
    }
  }
}
