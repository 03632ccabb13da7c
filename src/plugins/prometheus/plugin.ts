/**
 * The built-in `prometheus` plugin: a /metrics endpoint Prometheus scrapes, on its own port,
 * off unless gmetad.conf has a section for it:
 *
 *   prometheus {
 *     port 9105               # required
 *     address 127.0.0.1       # default: all interfaces
 *     path /metrics           # default /metrics
 *     prefix ganglia_         # default ganglia_
 *     gzip on                 # answer Accept-Encoding: gzip (default on)
 *     health on               # the gmetad_* and process_* families (default on)
 *     scrape_timeout 30s      # a client that takes longer to read its reply is cut off
 *   }
 *
 * It is a pull exporter: nothing is kept between scrapes; each scrape reads the current
 * tree (context.currentView()) and renders it in slices (exposition.ts), so a 100k-series
 * scrape never holds the event loop for long. The port is bound when the plugin is created,
 * with the daemon's own ports and before privileges are dropped (so 1-1023 work as with
 * xml_port); SIGHUP rebinds it if port or address changed (the new one first: if it cannot
 * be bound, the old one keeps serving).
 */
import * as http from 'node:http';
import { ConnectionSet, closeServer, listen } from '../../server/socket-io';
import type { TreeView } from '../../store/store';
import type { GmetadPlugin, PluginContext, PluginStatus } from '../api';
import type { PluginSettings } from '../settings';
import { DEFAULT_EXPOSITION, ExpositionRenderer, newRenderCounts } from './exposition';
import { ScrapeCache, type RenderedScrape } from './scrape-cache';

export const PROMETHEUS_PLUGIN_NAME = 'prometheus';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const MAX_CONNECTIONS = 64;

export interface PrometheusSettings {
  readonly port: number;
  readonly address: string | undefined;
  readonly path: string;
  readonly prefix: string;
  readonly gzip: boolean;
  readonly health: boolean;
  readonly scrapeTimeoutMs: number;
}

export function readPrometheusSettings(settings: PluginSettings): PrometheusSettings {
  const prefix = settings.string('prefix', { default: 'ganglia_' });
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) throw settings.error('prefix', `not a valid metric name prefix: "${prefix}"`);
  const path = settings.string('path', { default: '/metrics' });
  if (!path.startsWith('/')) throw settings.error('path', `must start with "/": "${path}"`);
  return {
    port: settings.integer('port', { min: 1, max: 65535, required: true }),
    address: settings.string('address'),
    path,
    prefix,
    gzip: settings.boolean('gzip', { default: true }),
    health: settings.boolean('health', { default: true }),
    scrapeTimeoutMs: settings.duration('scrape_timeout', { min: 100, default: 30_000 }),
  };
}

interface Bound {
  readonly server: http.Server;
  readonly connections: ConnectionSet;
  readonly port: number;
}

export async function createPrometheusPlugin(context: PluginContext): Promise<GmetadPlugin> {
  let settings = readPrometheusSettings(context.settings);
  let renderer = new ExpositionRenderer({ ...DEFAULT_EXPOSITION, prefix: settings.prefix, health: settings.health });
  let cache = new ScrapeCache();
  const counters = {
    scrapes: 0, renders: 0, errors: 0, lastRenderMs: 0, maxRenderMs: 0, lastSeries: 0, lastBytes: 0,
    /** Longest stretch a render held the event loop (wall ms, and CPU ms of it), over all renders. */
    maxSliceMs: 0,
    maxSliceCpuMs: 0,
  };

  const render = async (view: TreeView, now: number): Promise<RenderedScrape> => {
    const started = performance.now();
    const counts = newRenderCounts();
    const chunks: Buffer[] = [];
    let bytes = 0;
    const input = { view, now, stats: context.stats, bootTimeMs: context.stats.bootTime };
    for await (const text of renderer.render(input, counts)) {
      const chunk = Buffer.from(text, 'utf8');
      chunks.push(chunk);
      bytes += chunk.length;
    }
    const renderMs = performance.now() - started;
    counters.renders += 1;
    counters.maxSliceMs = Math.max(counters.maxSliceMs, Math.round(counts.maxSliceMs * 10) / 10);
    counters.maxSliceCpuMs = Math.max(counters.maxSliceCpuMs, Math.round(counts.maxSliceCpuMs * 10) / 10);
    counters.lastRenderMs = Math.round(renderMs);
    counters.maxRenderMs = Math.max(counters.maxRenderMs, counters.lastRenderMs);
    counters.lastSeries = counts.series;
    counters.lastBytes = bytes;
    return { chunks, bytes, counts, renderMs };
  };

  const serveMetrics = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const view = context.currentView();
    const now = Math.floor(context.clock() / 1000);
    const key = `${view.version}:${now}`;
    const scrape = await cache.get(key, () => render(view, now));
    const wantsGzip = settings.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = wantsGzip ? [await cache.gzipped(key, scrape)] : scrape.chunks;
    const length = body.reduce((n, b) => n + b.length, 0);
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPE,
      'Content-Length': length,
      ...(wantsGzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    for (const chunk of body) {
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
          res.on('drain', done);
          res.on('close', done);
        });
        if (res.destroyed) return;
      }
    }
    res.end();
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // A client that stops reading is cut off; the daemon never waits on it.
    res.setTimeout(settings.scrapeTimeoutMs, () => res.destroy());
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (url === settings.path) {
      counters.scrapes += 1;
      serveMetrics(req, res).catch((err) => {
        counters.errors += 1;
        context.logger.error({ err }, 'prometheus: scrape failed');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('scrape failed\n');
        else res.destroy();
      });
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
        .end(`<html><head><title>gmetad-ts</title></head><body><h1>gmetad-ts</h1><p><a href="${settings.path}">Metrics</a></p></body></html>\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  };

  const bind = async (s: PrometheusSettings): Promise<Bound> => {
    const server = http.createServer({ requestTimeout: s.scrapeTimeoutMs, headersTimeout: Math.min(s.scrapeTimeoutMs, 10_000) }, handle);
    // Scrapers are a handful of Prometheus servers; a flood of connections is refused by the
    // kernel's backlog and Node's limit instead of each holding memory and a file descriptor.
    server.maxConnections = MAX_CONNECTIONS;
    const connections = new ConnectionSet();
    server.on('connection', (socket) => connections.add(socket));
    server.on('clientError', (_err, socket) => socket.destroy());
    const port = await listen(server, s.port, s.address, 'port');
    return { server, connections, port };
  };

  let bound = await bind(settings);
  context.logger.info({ port: bound.port, address: settings.address ?? '*', path: settings.path }, 'serving Prometheus metrics');

  return {
    name: PROMETHEUS_PLUGIN_NAME,
    events: [],
    async reload(next: PluginContext): Promise<void> {
      const nextSettings = readPrometheusSettings(next.settings);
      if (nextSettings.port !== settings.port || nextSettings.address !== settings.address) {
        const old = bound;
        bound = await bind(nextSettings);
        await closeServer(old.server, old.connections);
      }
      settings = nextSettings;
      renderer = new ExpositionRenderer({ ...DEFAULT_EXPOSITION, prefix: settings.prefix, health: settings.health });
      cache = new ScrapeCache();
    },
    notify(): void {
      // A pull exporter: every scrape reads the current tree.
    },
    status(): PluginStatus {
      return { port: bound.port, ...counters };
    },
    stop: () => closeServer(bound.server, bound.connections),
  };
}
