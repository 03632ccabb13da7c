/**
 * The built-in Riemann plugin: on when `riemann_server` is set, as in the C gmetad. Sends
 * the events of events.ts to `riemann_server`:`riemann_port` over `riemann_protocol`:
 * - tcp: one persistent connection; one Msg per host (its heartbeat and metrics, as the
 *   C gmetad groups them), each behind a 4-byte big-endian length. Riemann answers each
 *   Msg with a Msg whose `ok` is true; refusals are counted in /status. Connects are
 *   bounded by 500 ms (the C gmetad's RIEMANN_TCP_TIMEOUT).
 * - udp (the C default): events packed into Msgs of at most 1,400 bytes per datagram
 *   (the C gmetad sends one event per datagram).
 *
 * Its `riemann { ... }` section may set:
 *   queue_bytes N   bound of the send queue (default 67108864 = 64 MiB)
 * and, like every plugin, queue_size and deadline. SIGHUP with another receiver gets a new
 * sender; the old one delivers what it holds before closing.
 *
 * protobufjs encodes the events from the official riemann.proto (see proto/README.md): the
 * most used protobuf library for JavaScript, already used by the remote-write exporter,
 * working from the .proto file itself with no generated code to keep in sync.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseRiemannAttributes } from '../../config/riemann-attributes';
import type { GmetadConfig } from '../../config/types';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginStatus } from '../api';
import { authoritativeClusters } from '../authoritative-clusters';
import { BatchBuilder } from '../transport/batch-queue';
import { DatagramSender } from '../transport/datagram-sender';
import { StreamSender } from '../transport/stream-sender';
import { hostEventFrames, riemannTypes, tcpFrame, type RiemannEventOptions } from './events';

export const RIEMANN_PLUGIN_NAME = 'riemann';

const TCP_BATCH_BYTES = 64 * 1024;
const UDP_DATAGRAM_BYTES = 1400;
const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
/** The C gmetad's RIEMANN_TCP_TIMEOUT. */
const CONNECT_TIMEOUT_MS = 500;
const EVENTS_PER_SLICE = 10_000;

interface Settings {
  readonly server: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  readonly maxQueueBytes: number;
  readonly events: RiemannEventOptions;
}

function settingsOf(config: GmetadConfig, context: PluginContext): Settings {
  const { riemann } = config;
  if (riemann.server === null) throw context.settings.error(null, 'riemann_server is not set');
  return {
    server: riemann.server,
    port: riemann.port,
    protocol: riemann.protocol,
    maxQueueBytes: context.settings.integer('queue_bytes', { min: 1, default: DEFAULT_QUEUE_BYTES }),
    // Validated when the configuration was loaded.
    events: { gridname: config.gridname, attributes: riemann.attributes ? parseRiemannAttributes(riemann.attributes) : [] },
  };
}

/** Reads Riemann's length-framed replies on a TCP connection and counts the refusals. */
class ReplyReader {
  replies = 0;
  errors = 0;
  lastError = '';
  private buffer: Buffer = Buffer.alloc(0);

  onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length > 1 << 20) { // not a Riemann reply: stop reading it
        this.buffer = Buffer.alloc(0);
        this.errors += 1;
        this.lastError = `reply frame of ${length} bytes`;
        return;
      }
      if (this.buffer.length < 4 + length) return;
      const body = this.buffer.subarray(4, 4 + length);
      this.buffer = this.buffer.subarray(4 + length);
      this.replies += 1;
      try {
        const msg = riemannTypes().Msg.decode(body) as unknown as { ok?: boolean; error?: string };
        if (msg.ok !== true) {
          this.errors += 1;
          this.lastError = msg.error ?? 'not ok';
        }
      } catch (err) {
        this.errors += 1;
        this.lastError = (err as Error).message;
      }
    }
  }

  reset(): void {
    this.buffer = Buffer.alloc(0);
  }
}

export function createRiemannPlugin(context: PluginContext): GmetadPlugin {
  const sent = context.stats.sent(RIEMANN_PLUGIN_NAME);
  const logger = context.logger;
  const { Event } = riemannTypes();
  let clock = context.clock;
  const onSent = (items: number) => {
    sent.num += items;
    sent.lastTime = clock();
  };
  const replies = new ReplyReader();
  const makeSender = (s: Settings) => {
    logger.info({ riemann: `${s.server}:${s.port}`, protocol: s.protocol }, 'sending events to Riemann');
    return s.protocol === 'udp'
      ? new DatagramSender({ host: s.server, port: s.port, maxQueueBytes: s.maxQueueBytes, logger, onSent })
      : new StreamSender({
        host: s.server, port: s.port, connectTimeoutMs: CONNECT_TIMEOUT_MS, maxQueueBytes: s.maxQueueBytes, logger, onSent,
        onData: (chunk) => replies.onData(chunk), onConnect: () => replies.reset(),
      });
  };

  let settings = settingsOf(context.config, context);
  let sender = makeSender(settings);
  const retiring = new Set<Promise<void>>();
  let events = 0;

  return {
    name: RIEMANN_PLUGIN_NAME,
    events: ['source'],
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source') return;
      const target = sender;
      const udp = settings.protocol === 'udp';
      const builder = new BatchBuilder(udp ? UDP_DATAGRAM_BYTES : TCP_BATCH_BYTES, (batch) => target.send(batch));
      let sliceStart = events;
      let started = performance.now();
      for (const cluster of authoritativeClusters(event.snapshot.nodes)) {
        for (const host of cluster.hosts.values()) {
          const frames = hostEventFrames(cluster, host, settings.events, Event);
          events += frames.length;
          if (udp) {
            for (const frame of frames) builder.addBytes(frame);
          } else {
            // One Msg per host; counted as its events (as the C gmetad counts them).
            const msg = tcpFrame(Buffer.concat(frames));
            builder.addBytes(msg);
            builder.addCount(frames.length - 1);
          }
          if (events - sliceStart >= EVENTS_PER_SLICE) {
            builder.finish();
            sent.totalMillis += performance.now() - started;
            await yieldToLoop();
            sliceStart = events;
            started = performance.now();
          }
        }
      }
      builder.finish();
      sent.totalMillis += performance.now() - started;
    },
    reload(next: PluginContext): void {
      const nextSettings = settingsOf(next.config, next);
      clock = next.clock;
      const sameReceiver = nextSettings.server === settings.server && nextSettings.port === settings.port
        && nextSettings.protocol === settings.protocol && nextSettings.maxQueueBytes === settings.maxQueueBytes;
      settings = nextSettings;
      if (sameReceiver) return;
      const old = sender;
      sender = makeSender(settings);
      const done = old.close().catch(() => undefined).finally(() => retiring.delete(done));
      retiring.add(done);
    },
    status(): PluginStatus {
      const c = sender.counters;
      return {
        receiver: `${settings.protocol}:${sender.address}`,
        events,
        sent: c.sent,
        dropped: c.dropped,
        queuedEvents: c.queuedItems,
        queuedBytes: c.queuedBytes,
        ...('connects' in c ? {
          connected: c.connected ? 1 : 0, connects: c.connects, connectFailures: c.connectFailures,
          replies: replies.replies, refused: replies.errors, lastRefusal: replies.lastError,
        } : {}),
        ...('sendErrors' in c ? { sendErrors: c.sendErrors } : {}),
      };
    },
    async flush(): Promise<void> {
      await Promise.all([sender.flush(), ...retiring]);
    },
    async stop(): Promise<void> {
      await Promise.all([sender.close(), ...retiring]);
    },
  };
}
