/**
 * The built-in memcached plugin: on when `memcached_parameters` is set, as in the C gmetad
 * (see src/config/memcached-parameters.ts for the option string and memcached-sets.ts for
 * the keys and values). One persistent TCP (or unix socket) connection per server, writes
 * pipelined without replies, each server with its own bounded queue.
 *
 * Its `memcached { ... }` section may set:
 *   queue_bytes N   bound of each server's send queue (default 67108864 = 64 MiB)
 * and, like every plugin, queue_size and deadline. SIGHUP with other parameters gets new
 * connections; the old ones deliver what they hold before closing.
 *
 * /status: metrics.sent.memcached counts the sets the kernel accepted; plugins.memcached
 * adds queue, connection and error counters.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { GmetadConfig } from '../../config/types';
import { parseMemcachedParameters, type MemcachedParameters } from '../../config/memcached-parameters';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginStatus } from '../api';
import { authoritativeClusters } from '../authoritative-clusters';
import { BatchBuilder } from '../transport/batch-queue';
import { StreamSender } from '../transport/stream-sender';
import { memcachedSetsForHost, type SetCounts } from './memcached-sets';

export const MEMCACHED_PLUGIN_NAME = 'memcached';

const BATCH_BYTES = 64 * 1024;
const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
const SETS_PER_SLICE = 20_000;

interface Settings {
  readonly parameters: MemcachedParameters;
  readonly includeCluster: boolean;
  readonly maxQueueBytes: number;
}

function settingsOf(config: GmetadConfig, context: PluginContext): Settings {
  if (config.memcached.parameters === null) throw context.settings.error(null, 'memcached_parameters is not set');
  return {
    // Validated when the configuration was loaded; parsing again cannot fail.
    parameters: parseMemcachedParameters(config.memcached.parameters),
    includeCluster: config.memcached.includeClusterInKey,
    maxQueueBytes: context.settings.integer('queue_bytes', { min: 1, default: DEFAULT_QUEUE_BYTES }),
  };
}

/** Counts the error lines memcached sends back (it answers nothing to a good noreply set). */
class ReplyCounter {
  errors = 0;
  lastError = '';
  private pending = '';

  onData(chunk: Buffer): void {
    this.pending += chunk.toString('latin1');
    let cut: number;
    while ((cut = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, cut).trim();
      this.pending = this.pending.slice(cut + 1);
      if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/.test(line)) {
        this.errors += 1;
        this.lastError = line;
      }
    }
    if (this.pending.length > 4096) this.pending = '';
  }

  reset(): void {
    this.pending = '';
  }
}

interface Connection {
  readonly sender: StreamSender;
  readonly replies: ReplyCounter;
}

export function createMemcachedPlugin(context: PluginContext): GmetadPlugin {
  const sent = context.stats.sent(MEMCACHED_PLUGIN_NAME);
  const logger = context.logger;
  let clock = context.clock;
  const onSent = (items: number) => {
    sent.num += items;
    sent.lastTime = clock();
  };
  const connect = (s: Settings): Connection[] => s.parameters.servers.map((server) => {
    const replies = new ReplyCounter();
    const sender = new StreamSender({
      host: server.host, port: server.port, ...(server.path !== undefined ? { path: server.path } : {}),
      connectTimeoutMs: s.parameters.connectTimeoutMs, maxQueueBytes: s.maxQueueBytes, logger, onSent,
      onData: (chunk) => replies.onData(chunk), onConnect: () => replies.reset(),
    });
    return { sender, replies };
  });

  let settings = settingsOf(context.config, context);
  let connections = connect(settings);
  logger.info({ servers: connections.map((c) => c.sender.address) }, 'sending host metrics to memcached');
  const retiring = new Set<Promise<void>>();
  const counts: SetCounts = { sets: 0, badKeys: 0 };

  return {
    name: MEMCACHED_PLUGIN_NAME,
    events: ['source'],
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source') return;
      const targets = connections;
      const builders = targets.map(({ sender }) => new BatchBuilder(BATCH_BYTES, (batch) => sender.send(batch)));
      const sink = { add: (server: number, command: string) => builders[server].addText(command) };
      const keyOptions = {
        includeCluster: settings.includeCluster, namespace: settings.parameters.namespace, serverCount: targets.length,
      };
      let sliceStart = counts.sets;
      let started = performance.now();
      for (const cluster of authoritativeClusters(event.snapshot.nodes)) {
        for (const host of cluster.hosts.values()) {
          memcachedSetsForHost(cluster, host, keyOptions, sink, counts);
          if (counts.sets - sliceStart >= SETS_PER_SLICE) {
            for (const b of builders) b.finish();
            sent.totalMillis += performance.now() - started;
            await yieldToLoop();
            sliceStart = counts.sets;
            started = performance.now();
          }
        }
      }
      for (const b of builders) b.finish();
      sent.totalMillis += performance.now() - started;
    },
    reload(next: PluginContext): void {
      const nextSettings = settingsOf(next.config, next);
      clock = next.clock;
      if (JSON.stringify(nextSettings) === JSON.stringify(settings)) return;
      const old = connections;
      settings = nextSettings;
      connections = connect(settings);
      const done = Promise.all(old.map((c) => c.sender.close())).then(() => undefined, () => undefined)
        .finally(() => retiring.delete(done));
      retiring.add(done);
    },
    status(): PluginStatus {
      const sum = (f: (c: Connection) => number) => connections.reduce((acc, c) => acc + f(c), 0);
      return {
        servers: connections.map((c) => c.sender.address).join(','),
        sets: counts.sets,
        badKeys: counts.badKeys,
        sent: sum((c) => c.sender.counters.sent),
        dropped: sum((c) => c.sender.counters.dropped),
        queuedSets: sum((c) => c.sender.counters.queuedItems),
        queuedBytes: sum((c) => c.sender.counters.queuedBytes),
        connected: sum((c) => (c.sender.counters.connected ? 1 : 0)),
        connects: sum((c) => c.sender.counters.connects),
        connectFailures: sum((c) => c.sender.counters.connectFailures),
        serverErrors: sum((c) => c.replies.errors),
        lastServerError: connections.map((c) => c.replies.lastError).filter(Boolean).join('; '),
      };
    },
    async flush(): Promise<void> {
      await Promise.all([...connections.map((c) => c.sender.flush()), ...retiring]);
    },
    async stop(): Promise<void> {
      await Promise.all([...connections.map((c) => c.sender.close()), ...retiring]);
    },
  };
}
