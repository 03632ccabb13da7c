/**
 * Real receivers for the exporters' tests, each started on free loopback ports with a
 * private data directory, stopped by pid through the test's ProcessRegistry:
 * Prometheus 2.42 (remote-write receiver), VictoriaMetrics (remote write and the InfluxDB
 * v1/v2 write APIs), InfluxDB 1.6.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from './net';
import { waitFor, type ManagedProcess, type ProcessRegistry } from './processes';

export interface Receiver {
  readonly process: ManagedProcess;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  /** Headers every request of the test needs (basic auth when the receiver requires it). */
  readonly headers?: Readonly<Record<string, string>>;
}

function basicAuth(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function httpOk(url: string, headers: Readonly<Record<string, string>> = {}): Promise<boolean> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

async function getJson<T>(url: string, headers: Readonly<Record<string, string>> = {}): Promise<T> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

export interface PromSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

/** An instant PromQL query through /api/v1/query (Prometheus and VictoriaMetrics alike). */
export async function promQuery(receiver: Receiver, query: string): Promise<PromSeries[]> {
  const url = `${receiver.base}/api/v1/query?query=${encodeURIComponent(query)}`;
  const reply = await getJson<{ status: string; data: { resultType: string; result: PromSeries[] } }>(url, receiver.headers);
  if (reply.status !== 'success') throw new Error(`${query}: ${JSON.stringify(reply)}`);
  return reply.data.result;
}

export interface PromRawSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: readonly (readonly [number, string])[];
}

/** Every raw sample of the series `selector` matches in the last `window` (e.g. 1h): a range vector, queried instantly. */
export async function promRawSamples(receiver: Receiver, selector: string, window: string): Promise<PromRawSeries[]> {
  const url = `${receiver.base}/api/v1/query?query=${encodeURIComponent(`${selector}[${window}]`)}`;
  const reply = await getJson<{ status: string; data: { resultType: string; result: PromRawSeries[] } }>(url, receiver.headers);
  if (reply.status !== 'success' || reply.data.resultType !== 'matrix') throw new Error(`${selector}: ${JSON.stringify(reply).slice(0, 500)}`);
  return reply.data.result;
}

export async function startPrometheus(registry: ProcessRegistry): Promise<Receiver> {
  const dir = registry.tempDir('prometheus');
  const port = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, 'global:\n  scrape_interval: 1m\n');
  const child = await registry.spawn('prometheus', '/usr/bin/prometheus', [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-remote-write-receiver',
    '--log.level=warn',
  ]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(() => httpOk(`${base}/-/ready`), { process: child, timeoutMs: 30_000, description: 'prometheus ready' });
  return { process: child, base };
}

/** VictoriaMetrics; with `basicAuth`, every endpoint (writes and queries) requires it. */
export async function startVictoriaMetrics(
  registry: ProcessRegistry,
  opts: { basicAuth?: { readonly user: string; readonly password: string } } = {},
): Promise<Receiver> {
  const dir = registry.tempDir('victoria-metrics');
  const port = await freePort();
  const auth = opts.basicAuth ? [`-httpAuth.username=${opts.basicAuth.user}`, `-httpAuth.password=${opts.basicAuth.password}`] : [];
  const child = await registry.spawn('victoria-metrics', '/usr/bin/victoria-metrics', [
    ...auth,
    `-storageDataPath=${dir}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-retentionPeriod=1',
    // Answer queries with what was just written (the default hides the last 30 s).
    '-search.latencyOffset=0s',
    '-search.disableCache',
    '-loggerLevel=WARN',
  ]);
  const base = `http://127.0.0.1:${port}`;
  const headers = opts.basicAuth ? basicAuth(opts.basicAuth.user, opts.basicAuth.password) : {};
  await waitFor(() => httpOk(`${base}/health`, headers), { process: child, timeoutMs: 30_000, description: 'victoria-metrics ready' });
  return { process: child, base, headers };
}

/** Makes what VictoriaMetrics ingested searchable at once. */
export async function victoriaFlush(receiver: Receiver): Promise<void> {
  const response = await fetch(`${receiver.base}/internal/force_flush`, { headers: receiver.headers, signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
}

export interface InfluxReceiver extends Receiver {
  /** InfluxQL through /query; returns the first statement's series, times in `epoch` units. */
  query(db: string, q: string, epoch?: 's' | 'ms'): Promise<InfluxSeries[]>;
}

export interface InfluxSeries {
  readonly name: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly columns: readonly string[];
  readonly values: readonly (readonly (string | number | null)[])[];
}

export interface InfluxOptions {
  readonly databases: readonly string[];
  /** Turn authentication on, with this admin user (created first, as InfluxDB allows). */
  readonly admin?: { readonly user: string; readonly password: string };
}

/** InfluxDB 1.x (Debian's 1.6). */
export async function startInfluxdb1(registry: ProcessRegistry, opts: InfluxOptions): Promise<InfluxReceiver> {
  const dir = registry.tempDir('influxdb');
  const port = await freePort();
  const rpcPort = await freePort();
  const config = path.join(dir, 'influxdb.conf');
  fs.writeFileSync(config, [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]', `  dir = "${dir}/meta"`,
    '[data]', `  dir = "${dir}/data"`, `  wal-dir = "${dir}/wal"`, '  query-log-enabled = false',
    '[monitor]', '  store-enabled = false',
    '[http]', `  bind-address = "127.0.0.1:${port}"`, '  log-enabled = false', `  auth-enabled = ${opts.admin ? 'true' : 'false'}`,
    '[continuous_queries]', '  enabled = false',
    '[subscriber]', '  enabled = false',
    '',
  ].join('\n'));
  const child = await registry.spawn('influxd', '/usr/bin/influxd', ['run', '-config', config]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(() => httpOk(`${base}/ping`), { process: child, timeoutMs: 30_000, description: 'influxd ready' });
  const credentials: Record<string, string> = opts.admin ? { u: opts.admin.user, p: opts.admin.password } : {};
  const authorization: Record<string, string> = opts.admin
    ? { Authorization: `Basic ${Buffer.from(`${opts.admin.user}:${opts.admin.password}`).toString('base64')}` } : {};
  const statements = opts.databases.map((db) => `CREATE DATABASE "${db}"`);
  if (opts.admin) statements.unshift(`CREATE USER "${opts.admin.user}" WITH PASSWORD '${opts.admin.password}' WITH ALL PRIVILEGES`);
  for (const q of statements) {
    // The first user is created without credentials (InfluxDB allows that while it has none).
    const response = await fetch(`${base}/query`, {
      method: 'POST',
      headers: q.startsWith('CREATE USER') ? {} : authorization,
      body: new URLSearchParams({ q }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok || text.includes('"error"')) throw new Error(`${q}: HTTP ${response.status}: ${text}`);
  }
  return {
    process: child,
    base,
    async query(db: string, q: string, epoch: 's' | 'ms' = 's'): Promise<InfluxSeries[]> {
      const reply = await getJson<{ results: { series?: InfluxSeries[]; error?: string }[] }>(
        `${base}/query?${new URLSearchParams({ db, epoch, q, ...credentials })}`);
      const first = reply.results[0];
      if (first.error) throw new Error(`${q}: ${first.error}`);
      return first.series ?? [];
    },
  };
}
