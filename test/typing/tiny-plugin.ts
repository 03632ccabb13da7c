/**
 * Type test of the public plugin surface: a tiny plugin that imports nothing but the
 * package's entry point (src/index.ts). `npm run build` compiles it, so a change to the API
 * that would break plugin authors breaks the build; each `@ts-expect-error` line must stay
 * an error (tsc fails on an unused one), which pins down what plugins may NOT do: write to
 * the tree, the settings or the events, or treat an event as another kind without checking.
 * test/unit/plugin-api.test.ts runs it.
 */
import type {
  Cluster, GmetadPlugin, Host, Metric, PluginContext, PluginEvent, PluginEventKind, PluginModule, PluginSettings,
  PluginStatus, SourceState, TreeView,
} from '../../src/index';
import { ConfigError, DEFAULT_PLUGIN_EVENTS, NUMERIC_TYPES, setting } from '../../src/index';

export const name = 'tiny';

interface TinySettings {
  readonly port: number;
  readonly url: string | undefined;
  readonly interval: number;
  readonly enabled: boolean;
  readonly mode: string;
}

function read(settings: PluginSettings): TinySettings {
  const port: number = settings.integer('port', { min: 1, max: 65535, default: 9999 });
  // Without a default or `required`, absent is possible, and the type says so.
  const url: string | undefined = settings.string('url');
  // @ts-expect-error a value that may be absent is not a plain string
  const notSure: string = settings.string('url');
  void notSure;
  if (url !== undefined && !/^https?:/.test(url)) throw settings.error('url', `not an http(s) URL: "${url}"`);
  const err: ConfigError = settings.error(null, 'example');
  void err.line;
  return {
    port,
    url,
    interval: settings.duration('interval', { default: 15_000 }),
    enabled: settings.boolean('enabled', { default: true }),
    mode: settings.string('mode', { oneOf: ['fast', 'safe'], default: 'safe' }),
  };
}

/** Walks the tree as a pull exporter does: numeric host metrics of up hosts. */
export function countNumeric(view: TreeView): number {
  let n = 0;
  for (const node of view.nodes.values()) {
    if (node.kind !== 'cluster') continue;
    const cluster: Cluster = node;
    for (const host of cluster.hosts.values()) {
      const h: Host = host;
      if (!h.up) continue;
      for (const metric of h.metrics.values()) {
        const m: Metric = metric;
        if (NUMERIC_TYPES.has(m.type)) n += 1;
      }
    }
  }
  return n;
}

/** Never called: what the types refuse (at run time these would corrupt the daemon's tree). */
export function misuse(view: TreeView, context: PluginContext, host: Host): void {
  // @ts-expect-error the tree is read-only
  view.nodes.clear();
  // @ts-expect-error the tree is read-only
  view.gridname = 'x';
  // @ts-expect-error hosts are read-only
  host.metrics.delete('load_one');
  // @ts-expect-error settings are read-only
  context.settings.set('port', [['1']]);
  // @ts-expect-error the context cannot be rewired
  context.currentView = () => view;
}

export function createPlugin(context: PluginContext): GmetadPlugin {
  let current = read(context.settings);
  // The pre-typed helper still works on the same settings object.
  const legacy: string | undefined = setting(context.settings, 'url');
  void legacy;
  const kinds: readonly PluginEventKind[] = [...DEFAULT_PLUGIN_EVENTS, 'source-down', 'source-up'];
  const seen: Record<PluginEventKind, number> = { source: 0, root: 0, 'source-down': 0, 'source-up': 0 };
  let lastDown = '';

  return {
    name,
    events: kinds,
    notify(event: PluginEvent): void {
      seen[event.kind] += 1;
      // @ts-expect-error only 'source-down' events carry an error
      void event.error;
      switch (event.kind) {
        case 'source-down': lastDown = `${event.source}: ${event.error}`; break;
        case 'source-up': lastDown = ''; break;
        case 'source': void event.snapshot.nodes.length; break;
        case 'root': void event.summary.hostsUp; break;
      }
    },
    start(): void {
      // The logger takes a message, fields and a message, or fields alone; errors go as `err`.
      context.logger.info('tiny started');
      context.logger.warn({ port: current.port }, 'tiny listening');
      context.logger.debug({ mode: current.mode });
      context.logger.error({ err: new Error('example') }, 'tiny failed');
      // @ts-expect-error a second argument is the message, not more fields
      context.logger.info({ port: 1 }, { mode: 'x' });
    },
    reload(next: PluginContext): void {
      current = read(next.settings);
    },
    status(): PluginStatus {
      const view = context.currentView();
      const sources: readonly SourceState[] = view.sources;
      return { ...seen, numericMetrics: countNumeric(view), sources: sources.length, lastDown, port: current.port, mode: current.mode };
    },
  };
}

// A module satisfies PluginModule.
export const asModule: PluginModule = { name, createPlugin };
