/** Helpers for the RRD integration tests: tree builders, rrdtool info/fetch, file listing. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Cluster, Grid, Host, Metric, SourceSnapshot } from '../../src/store/model';
import { SummaryAccumulator } from '../../src/store/summary';

const run = promisify(execFile);

export function metric(name: string, val: string, type = 'float', slope = 'both', dmax = 0): Metric {
  return { name, val, type, units: '', t0: 0, tmax: 60, dmax, slope, source: 'gmond', extra: [] };
}

export function host(name: string, metrics: Metric[], up = true): Host {
  return {
    name, ip: '127.0.0.1', reported: 0, t0: 0, tmax: 20, dmax: 0, location: '', gmondStarted: 0, tags: '', up,
    metrics: new Map(metrics.map((m) => [m.name, m])),
  };
}

export function cluster(name: string, localtime: number, hosts: Host[]): Cluster {
  const acc = new SummaryAccumulator();
  for (const h of hosts) acc.addHost(h);
  return {
    kind: 'cluster', name, localtime, owner: '', latlong: '', url: '',
    hosts: new Map(hosts.map((h) => [h.name, h])), summary: acc.finish(),
  };
}

/** A remote grid in summary form (scalable mode). */
export function grid(name: string, localtime: number, clusters: Cluster[]): Grid {
  const acc = new SummaryAccumulator();
  for (const c of clusters) acc.addSummary(c.summary);
  return { kind: 'grid', name, authority: '', localtime, summary: acc.finish() };
}

export function snapshot(nodes: (Cluster | Grid)[], polledAt = nodes[0]?.localtime ?? 0): SourceSnapshot {
  return { source: 'test-source', polledAt, nodes };
}

export async function rrdInfo(file: string, daemon?: string): Promise<Map<string, string>> {
  const args = daemon ? ['info', '--daemon', daemon, file] : ['info', file];
  const { stdout } = await run('rrdtool', args, { env: { ...process.env, LC_ALL: 'C' } });
  return parseInfo(stdout);
}

export function parseInfo(text: string): Map<string, string> {
  const info = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf(' = ');
    if (eq > 0) info.set(line.slice(0, eq), line.slice(eq + 3).replace(/^"(.*)"$/, '$1'));
  }
  return info;
}

/** `rrdtool fetch file AVERAGE -s start -e end` → timestamp → DS values (NaN for unknown). */
export async function rrdFetch(file: string, start: number, end: number, daemon?: string): Promise<Map<number, number[]>> {
  const args = ['fetch', file, 'AVERAGE', '-s', String(start), '-e', String(end)];
  if (daemon) args.push('--daemon', daemon);
  const { stdout } = await run('rrdtool', args, { env: { ...process.env, LC_ALL: 'C' } });
  const rows = new Map<number, number[]>();
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\d+):\s+(.*)$/.exec(line);
    if (m) rows.set(Number(m[1]), m[2].trim().split(/\s+/).map((v) => (/nan/i.test(v) ? NaN : Number(v))));
  }
  return rows;
}

/** Every file below `root`, relative, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(path.relative(root, full));
    }
  }
  await walk(root);
  return out.sort();
}

/** The RRD-definition lines of an `rrdtool info` (what does not depend on the data). */
export function layoutOf(info: Map<string, string>): Map<string, string> {
  const layout = new Map<string, string>();
  for (const [key, value] of info) {
    if (/^(step|rrd_version|header_size)$|^ds\[\w+\]\.(index|type|minimal_heartbeat|min|max)$|^rra\[\d+\]\.(cf|rows|pdp_per_row|xff)$/.test(key)) {
      layout.set(key, value);
    }
  }
  return layout;
}

/** Starts a real rrdcached on a UNIX socket, confined to `base`; stopped by pid in t.after. */
export async function startRrdcached(
  t: { after(fn: () => Promise<void>): void }, base: string, socket: string,
): Promise<ChildProcess> {
  const child = spawn('rrdcached', ['-g', '-F', '-B', '-b', base, '-p', path.join(base, '..', 'rrdcached.pid'), '-l', `unix:${socket}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  for (let i = 0; i < 100; i++) {
    try {
      await fs.access(socket);
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('rrdcached did not create its socket');
}
