/**
 * The real Prometheus server (Debian `prometheus` 2.42) and node_exporter (Debian
 * `prometheus-node-exporter` 1.5) for integration tests: each started by pid with a private
 * configuration and storage directory on free loopback ports, and stopped by the registry.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from './net';
import { waitFor, waitForPort, type ManagedProcess, type ProcessRegistry } from './processes';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';
export const PROMTOOL_BINARY = '/usr/bin/promtool';
export const NODE_EXPORTER_BINARY = '/usr/bin/prometheus-node-exporter';

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PrometheusHandle {
  readonly port: number;
  readonly process: ManagedProcess;
  /** An instant query through the HTTP API; rejects unless the API says success. */
  query(promql: string): Promise<PromSample[]>;
}

/** Starts Prometheus scraping `targets` (host:port) every second as job "gmetad". */
export async function startPrometheus(registry: ProcessRegistry, targets: readonly string[], metricsPath = '/metrics'): Promise<PrometheusHandle> {
  const dir = registry.tempDir('prometheus');
  const port = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: gmetad',
    `    metrics_path: ${metricsPath}`,
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n'));
  const child = await registry.spawn('prometheus', PROMETHEUS_BINARY, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  await waitForPort(port, '127.0.0.1', 30_000, child);
  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = await res.json() as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error ?? res.status}`);
    return body.data!.result;
  };
  await waitFor(async () => (await query('up')).length > 0, { timeoutMs: 30_000, process: child, description: 'Prometheus to scrape once' });
  return { port, process: child, query };
}

export interface NodeExporterHandle {
  readonly port: number;
  readonly process: ManagedProcess;
  metrics(): Promise<string>;
}

/** node_exporter with only the textfile collector, reading `dir`. */
export async function startNodeExporter(registry: ProcessRegistry, dir: string): Promise<NodeExporterHandle> {
  const port = await freePort();
  const child = await registry.spawn('node_exporter', NODE_EXPORTER_BINARY, [
    `--web.listen-address=127.0.0.1:${port}`,
    '--collector.disable-defaults',
    '--collector.textfile',
    `--collector.textfile.directory=${dir}`,
  ]);
  await waitForPort(port, '127.0.0.1', 20_000, child);
  return { port, process: child, metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text() };
}

/** `promtool check metrics` on `text`: its exit status and everything it printed. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL_BINARY, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
