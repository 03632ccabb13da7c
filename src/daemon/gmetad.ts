/**
 * The running daemon: one store, one poller per data_source, the parse workers, the two
 * ports. Data flows one way: poller → parse worker → snapshot (a SourceImage read in place)
 * → store → servers (and plugins, via store listeners). See docs/architecture.md.
 */
import * as os from 'node:os';
import type { DataSourceConfig, GmetadConfig } from '../config/types';
import { ParsePool } from '../readers/parse-pool';
import { setPortThreadNice } from '../util/thread-priority';
import type { SourceSettings } from '../readers/parse-protocol';
import { SourcePoller } from '../readers/poller';
import { createAccessPolicy } from '../server/access';
import { SharedDumpCache } from '../server/shared-dump-cache';
import { startInteractivePort } from '../server/interactive-port';
import { startXmlPort } from '../server/xml-port';
import { Store } from '../store/store';
import { buildSummaryPolicy, type SummaryPolicy } from '../store/summary';
import type { BuiltinPlugin } from '../plugins/loader';
import { PluginManager } from '../plugins/manager';
import { type StructuredLogger, withFields } from '../util/logging';
import { type Clock, epochSeconds, systemClock } from '../util/clock';
import type { DaemonStats } from '../util/stats';
import { LoopDelaySampler } from '../util/loop-delay';

export interface ListeningServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface PortOverrides {
  readonly xmlPort?: number;
  readonly interactivePort?: number;
}

export function authorityOf(config: GmetadConfig): string {
  return config.authority ?? `http://${os.hostname()}/ganglia/`;
}

export class GmetadDaemon {
  readonly store: Store;
  /** How late the event loop runs while it has work (/status eventLoop). */
  readonly eventLoop = new LoopDelaySampler();
  private config: GmetadConfig;
  private policy: SummaryPolicy;
  private readonly pollers = new Map<string, { config: DataSourceConfig; poller: SourcePoller }>();
  private xmlServer: ListeningServer | null = null;
  private interactiveServer: ListeningServer | null = null;
  private access: ReturnType<typeof createAccessPolicy>;
  private stopping = false;
  /** One cache for both ports: concurrent full dumps in the same second are rendered once. */
  private readonly dumpCache: SharedDumpCache;
  private readonly plugins: PluginManager;
  private rootTimer: NodeJS.Timeout | null = null;
  /** Sources whose first poll has not come in yet (null once the first root summary went out). */
  private awaitingFirstPoll: Set<string> | null = null;
  private readonly parsePool: ParsePool;

  constructor(
    config: GmetadConfig,
    private readonly logger: StructuredLogger,
    readonly stats: DaemonStats,
    private readonly ports: PortOverrides = {},
    builtins: readonly BuiltinPlugin[] = [],
    /** The wall clock for polls, replies and plugin events (tests pin it). */
    private readonly clock: Clock = systemClock,
  ) {
    this.config = config;
    this.parsePool = new ParsePool(undefined, { stats });
    this.dumpCache = new SharedDumpCache(undefined, clock);
    this.policy = buildSummaryPolicy(config);
    this.store = new Store({ gridname: config.gridname, authority: authorityOf(config), policy: this.policy });
    this.store.setSources(config.dataSources);
    this.access = createAccessPolicy({ trustedHosts: config.trustedHosts, allTrusted: config.allTrusted, logger });
    this.plugins = new PluginManager({ logger, stats, builtins, currentView: () => this.store.view(), clock });
    this.store.onUpdate(({ snapshot, view }) => {
      const step = this.config.dataSources.find((ds) => ds.name === snapshot.source)?.step ?? 15;
      this.plugins.notify({ kind: 'source', snapshot, step, view });
      this.firstPollDone(snapshot.source);
    });
    this.store.onSourceStatus(({ source, up, error }) => {
      const time = epochSeconds(this.clock);
      this.plugins.notify(up ? { kind: 'source-up', source, time } : { kind: 'source-down', source, error: error ?? '', time });
      if (!up) this.firstPollDone(source);
    });
  }

  get pluginNames(): readonly string[] {
    return this.plugins.names;
  }

  /** The shortest polling interval: the root summary is refreshed (and written) that often. */
  private rootStep(): number {
    return Math.min(15, ...this.config.dataSources.map((ds) => ds.step));
  }

  /**
   * The first root summary goes out as soon as every source has answered its first poll or
   * failed it, so that a cold start fills the root __SummaryInfo__ RRDs (and every other
   * plugin's root view) with the first poll instead of a step later. The C gmetad sums and
   * writes its root summary every half shortest step (±5 %) from start, whatever the
   * sources have delivered: half a step after start is also the latest the first one goes
   * out here. Later ones follow every root step.
   */
  private awaitFirstPolls(): void {
    this.awaitingFirstPoll = new Set(this.config.dataSources.map((ds) => ds.name));
    if (this.awaitingFirstPoll.size === 0) {
      this.writeRootSummaryNow();
      return;
    }
    this.rootTimer = setTimeout(() => this.writeRootSummaryNow(), (this.rootStep() * 1000) / 2);
    this.rootTimer.unref();
  }

  /** A source's poll came in (or failed): the first root summary may be due. */
  private firstPollDone(source: string): void {
    if (this.awaitingFirstPoll === null || !this.awaitingFirstPoll.delete(source)) return;
    if (this.awaitingFirstPoll.size === 0) this.writeRootSummaryNow();
  }

  private writeRootSummaryNow(): void {
    if (this.stopping) return;
    this.eventLoop.wake();
    this.awaitingFirstPoll = null;
    if (this.rootTimer) clearTimeout(this.rootTimer);
    const view = this.store.view();
    this.stats.summarize.root += 1;
    const step = this.rootStep();
    this.plugins.notify({ kind: 'root', summary: view.rootSummary, time: epochSeconds(this.clock), step, view });
    this.rootTimer = setTimeout(() => this.writeRootSummaryNow(), step * 1000);
    this.rootTimer.unref();
  }

  /** Resolves once every plugin has handled the events notified so far. */
  flushPlugins(): Promise<void> {
    return this.plugins.forceFlush();
  }

  get xmlPort(): number {
    return this.xmlServer?.port ?? 0;
  }

  get interactivePort(): number {
    return this.interactiveServer?.port ?? 0;
  }

  /**
   * Loads the plugins (rejects with one line naming the plugin or its file:line), binds both
   * ports (rejects with a one-line error naming the port), runs `afterBind` (where root drops
   * its privileges), then starts the plugins and the polling.
   */
  async start(afterBind: () => void = () => undefined): Promise<void> {
    await this.plugins.load(this.config);
    this.eventLoop.enable();
    await this.access.refresh();
    await this.bindPorts();
    await this.raisePortThreadPriority();
    afterBind();
    await this.plugins.start();
    this.awaitFirstPolls();
    this.syncPollers();
    this.logger.info({ xml_port: this.xmlPort, interactive_port: this.interactivePort, sources: this.pollers.size },
      'gmetad-ts started');
  }

  /** Before root drops its privileges: after that the port thread could not raise it any more. */
  private async raisePortThreadPriority(): Promise<void> {
    const outcome = await setPortThreadNice(this.config.portThreadNice);
    if (outcome.kind === 'set') this.logger.info({ from: outcome.from, to: outcome.to }, 'port thread nice value set');
    else if (outcome.kind === 'refused') {
      this.logger.warn({ nice: outcome.nice, wanted: outcome.wanted }, `port thread nice value not set: ${outcome.reason}`);
    }
  }

  /**
   * Applies a new configuration (SIGHUP), all or nothing: what can fail (binding changed
   * ports) is done first, while the old ports keep serving; only then does the daemon
   * switch, and the replaced ports close. On failure it rejects and nothing changed, so the
   * next SIGHUP tries again. Unchanged sources keep their poller and data. Reloads run one
   * at a time.
   */
  reload(next: GmetadConfig): Promise<void> {
    this.eventLoop.wake();
    const run = this.reloading.then(() => this.applyReload(next));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private reloading: Promise<void> = Promise.resolve();

  private async applyReload(next: GmetadConfig): Promise<void> {
    if (this.stopping) return;
    const previous = this.config;
    const xmlPort = this.ports.xmlPort ?? next.xmlPort;
    const interactivePort = this.ports.interactivePort ?? next.interactivePort;
    const xmlChanged = xmlPort !== (this.ports.xmlPort ?? previous.xmlPort);
    const interactiveChanged = interactivePort !== (this.ports.interactivePort ?? previous.interactivePort);
    let newXml: ListeningServer | null = null;
    let newInteractive: ListeningServer | null = null;
    try {
      if (xmlChanged) newXml = await startXmlPort({ ...this.portOptions(next), port: xmlPort });
      if (interactiveChanged) newInteractive = await startInteractivePort({ ...this.portOptions(next), port: interactivePort });
    } catch (err) {
      await newXml?.close();
      throw new Error(`${err instanceof Error ? err.message : String(err)}; still serving on xml_port `
        + `${this.xmlPort} and interactive_port ${this.interactivePort} with the previous configuration`);
    }

    this.config = next;
    this.policy = buildSummaryPolicy(next);
    this.store.setIdentity(next.gridname, authorityOf(next));
    this.store.setSources(next.dataSources);
    this.access = createAccessPolicy({ trustedHosts: next.trustedHosts, allTrusted: next.allTrusted, logger: this.logger });
    await this.access.refresh();
    const replaced: ListeningServer[] = [];
    if (newXml) {
      if (this.xmlServer) replaced.push(this.xmlServer);
      this.xmlServer = newXml;
    }
    if (newInteractive) {
      if (this.interactiveServer) replaced.push(this.interactiveServer);
      this.interactiveServer = newInteractive;
    }
    await Promise.all(replaced.map((s) => s.close()));
    const scalableChanged = previous.scalable !== next.scalable;
    this.syncPollers(scalableChanged);
    await this.plugins.reload(next);
    this.logger.info({ sources: this.pollers.size, xml_port: this.xmlPort, interactive_port: this.interactivePort },
      'configuration reloaded');
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.rootTimer) clearTimeout(this.rootTimer);
    await Promise.all([...this.pollers.values()].map(({ poller }) => poller.stop()));
    this.pollers.clear();
    await this.parsePool.close();
    await this.closePorts();
    // Everything polled before the signal reaches the plugins before they stop.
    await this.plugins.shutdown();
    this.eventLoop.disable();
  }

  /** What both ports are started with, but the port number. */
  private portOptions(config: GmetadConfig) {
    return {
      getView: () => this.store.view(),
      access: { isTrusted: (addr: string) => this.access.isTrusted(addr) },
      stats: this.stats,
      logger: this.logger,
      eventLoop: this.eventLoop.histogram,
      onConnection: () => this.eventLoop.wake(),
      authorityConfigured: config.authority !== null,
      dumpCache: this.dumpCache,
      clock: this.clock,
    };
  }

  private async bindPorts(): Promise<void> {
    const common = this.portOptions(this.config);
    const xmlServer = await startXmlPort({ ...common, port: this.ports.xmlPort ?? this.config.xmlPort });
    try {
      this.interactiveServer = await startInteractivePort({
        ...common, port: this.ports.interactivePort ?? this.config.interactivePort,
      });
    } catch (err) {
      await xmlServer.close();
      throw err;
    }
    this.xmlServer = xmlServer;
  }

  private async closePorts(): Promise<void> {
    const servers = [this.xmlServer, this.interactiveServer];
    this.xmlServer = null;
    this.interactiveServer = null;
    await Promise.all(servers.map((s) => s?.close()));
  }

  /** Starts pollers for new or changed sources, stops those removed or changed. */
  private syncPollers(restartAll = false): void {
    const wanted = new Map(this.config.dataSources.map((ds) => [ds.name, ds]));
    for (const [name, entry] of this.pollers) {
      const next = wanted.get(name);
      if (restartAll || !next || !sameSource(entry.config, next)) {
        void entry.poller.stop();
        this.pollers.delete(name);
        if (!next) this.parsePool.forget(name);
      }
    }
    const c = this.config;
    const settings: SourceSettings = {
      scalable: c.scalable,
      summary: {
        unsummarizedMetrics: c.unsummarizedMetrics,
        unsummarizedSflowVmMetrics: c.unsummarizedSflowVmMetrics,
        summarizedMetrics: c.summarizedMetrics,
      },
    };
    for (const ds of this.config.dataSources) {
      if (this.pollers.has(ds.name)) continue;
      const poller = new SourcePoller(ds, {
        fetcher: this.parsePool.fetcher({
          source: ds.name, settings: { ...settings, maxHosts: ds.limits.maxHosts, maxMetrics: ds.limits.maxMetrics },
        }),
        onSnapshot: (snapshot) => {
          this.eventLoop.wake();
          this.store.publish(snapshot);
        },
        onFailure: (reason) => {
          this.eventLoop.wake();
          this.store.fail(ds.name, reason);
        },
        logger: withFields(this.logger, { data_source: ds.name }),
        stats: this.stats,
        now: this.clock,
      });
      this.pollers.set(ds.name, { config: ds, poller });
      poller.start();
    }
  }
}

function sameSource(a: DataSourceConfig, b: DataSourceConfig): boolean {
  return a.step === b.step
    && a.limits.maxDocumentBytes === b.limits.maxDocumentBytes && a.limits.maxHosts === b.limits.maxHosts && a.limits.maxMetrics === b.limits.maxMetrics
    && a.limits.maxPollSeconds === b.limits.maxPollSeconds
    && a.addresses.length === b.addresses.length
    && a.addresses.every((x, i) => x.host === b.addresses[i].host && x.port === b.addresses[i].port);
}
