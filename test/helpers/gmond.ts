/**
 * A real gmond (Debian ganglia-monitor 3.7.2) for integration tests: unicast UDP on
 * 127.0.0.1, its XML on a TCP port, fast metric collection so a poll sees data within a
 * few seconds. Plus gmetric-based injection of spoofed hosts into it.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { freePort, rawRequest } from './net';
import { spawnManaged, waitFor, waitForPort, type ManagedProcess, type ProcessRegistry } from './processes';

export const GMOND_BINARY = '/usr/sbin/gmond';
export const GMETRIC_BINARY = '/usr/bin/gmetric';
/** Relative module paths do not load in the Debian build; these must be absolute. */
const MODULE_DIR = '/usr/lib/x86_64-linux-gnu/ganglia';

export interface GmondOptions {
  /** CLUSTER NAME it reports. */
  readonly cluster: string;
  /** `override_hostname`: the HOST NAME (gmond then also reports it as IP). */
  readonly hostname?: string;
  readonly owner?: string;
  readonly latlong?: string;
  readonly url?: string;
  /** host { location = ... } */
  readonly location?: string;
  readonly tcpPort?: number;
  readonly udpPort?: number;
  /** Metric that must be present on some HOST before startGmond returns (default load_one). */
  readonly readyMetric?: string;
  readonly readyTimeoutMs?: number;
}

export interface GmondHandle {
  readonly cluster: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly pid: number;
  readonly confPath: string;
  readonly process: ManagedProcess;
  /** The current XML dump from its TCP port. */
  dump(): Promise<string>;
  stop(): Promise<void>;
}

/** A UDP port that was free on 127.0.0.1 a moment ago. */
export async function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** Quotes a value for gmond's libconfuse syntax. */
function q(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`unsupported character in gmond.conf value: ${value}`);
  return `"${value}"`;
}

/** The collection groups: the usual metric set, collected every few seconds. */
const COLLECTION_GROUPS: ReadonlyArray<{ every: number | 'once'; threshold: number; metrics: readonly string[] }> = [
  { every: 'once', threshold: 5, metrics: ['heartbeat'] },
  {
    every: 'once',
    threshold: 20,
    metrics: ['cpu_num', 'cpu_speed', 'mem_total', 'swap_total', 'boottime', 'machine_type', 'os_name', 'os_release', 'location'],
  },
  { every: 2, threshold: 4, metrics: ['load_one', 'load_five', 'load_fifteen'] },
  { every: 2, threshold: 10, metrics: ['cpu_user', 'cpu_system', 'cpu_idle', 'cpu_nice', 'cpu_wio'] },
  { every: 2, threshold: 10, metrics: ['mem_free', 'mem_shared', 'mem_buffers', 'mem_cached', 'swap_free'] },
  { every: 5, threshold: 20, metrics: ['proc_run', 'proc_total'] },
  { every: 5, threshold: 20, metrics: ['bytes_in', 'bytes_out', 'pkts_in', 'pkts_out'] },
  { every: 10, threshold: 60, metrics: ['disk_total', 'disk_free', 'part_max_used'] },
];

export function gmondConfig(opts: GmondOptions & { tcpPort: number; udpPort: number }): string {
  const lines: string[] = [
    'globals {',
    '  daemonize = no',
    '  setuid = no',
    '  user = nobody',
    '  debug_level = 0',
    '  max_udp_msg_len = 1472',
    '  mute = no',
    '  deaf = no',
    '  allow_extra_data = yes',
    '  host_dmax = 86400',
    '  host_tmax = 20',
    '  cleanup_threshold = 300',
    '  gexec = no',
    '  send_metadata_interval = 5',
  ];
  if (opts.hostname !== undefined) lines.push(`  override_hostname = ${q(opts.hostname)}`);
  lines.push('}', 'cluster {', `  name = ${q(opts.cluster)}`);
  lines.push(`  owner = ${q(opts.owner ?? 'unspecified')}`);
  lines.push(`  latlong = ${q(opts.latlong ?? 'unspecified')}`);
  lines.push(`  url = ${q(opts.url ?? 'unspecified')}`);
  lines.push('}');
  if (opts.location !== undefined) lines.push('host {', `  location = ${q(opts.location)}`, '}');
  lines.push(
    'udp_send_channel {',
    '  host = 127.0.0.1',
    `  port = ${opts.udpPort}`,
    '  ttl = 1',
    '}',
    'udp_recv_channel {',
    `  port = ${opts.udpPort}`,
    '  bind = 127.0.0.1',
    '}',
    'tcp_accept_channel {',
    `  port = ${opts.tcpPort}`,
    '  bind = 127.0.0.1',
    '  gzip_output = no',
    '}',
    'modules {',
    '  module {',
    '    name = "core_metrics"',
    '  }',
  );
  for (const [name, file] of [
    ['cpu_module', 'modcpu.so'],
    ['disk_module', 'moddisk.so'],
    ['load_module', 'modload.so'],
    ['mem_module', 'modmem.so'],
    ['net_module', 'modnet.so'],
    ['proc_module', 'modproc.so'],
    ['sys_module', 'modsys.so'],
  ] as const) {
    lines.push('  module {', `    name = "${name}"`, `    path = "${path.join(MODULE_DIR, file)}"`, '  }');
  }
  lines.push('}');
  for (const group of COLLECTION_GROUPS) {
    lines.push('collection_group {');
    lines.push(group.every === 'once' ? '  collect_once = yes' : `  collect_every = ${group.every}`);
    lines.push(`  time_threshold = ${group.threshold}`);
    for (const metric of group.metrics) lines.push('  metric {', `    name = "${metric}"`, '  }');
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}

/** Reads a gmond's (or any Ganglia XML port's) full dump. */
export async function readXmlPort(port: number, timeoutMs = 10_000): Promise<string> {
  const reply = await rawRequest(port, null, { timeoutMs });
  if (reply.ended !== 'eof') throw new Error(`XML port ${port} ended with ${reply.ended}`);
  return reply.data.toString('latin1');
}

/**
 * Starts gmond in the foreground in a fresh temp dir owned by `registry`, and waits
 * until its XML lists a HOST carrying `readyMetric`.
 */
export async function startGmond(registry: ProcessRegistry, opts: GmondOptions): Promise<GmondHandle> {
  const tcpPort = opts.tcpPort ?? (await freePort());
  const udpPort = opts.udpPort ?? (await freeUdpPort());
  return startGmondWithConfig(registry, opts, gmondConfig({ ...opts, tcpPort, udpPort }), tcpPort, udpPort);
}

/** scripts/demo-gmond.conf, the demo's gmond, with its ports (8649) moved to free ones. */
export const DEMO_GMOND_CONF = path.resolve(__dirname, '..', '..', '..', 'scripts', 'demo-gmond.conf');
export const DEMO_CLUSTER = 'Demo Cluster';

export async function startDemoGmond(registry: ProcessRegistry, opts: Pick<GmondOptions, 'readyMetric' | 'readyTimeoutMs'> = {}): Promise<GmondHandle> {
  const tcpPort = await freePort();
  const udpPort = await freeUdpPort();
  const text = fs.readFileSync(DEMO_GMOND_CONF, 'utf8');
  const moved = text.replace(/(udp_send_channel|udp_recv_channel|tcp_accept_channel)(\s*\{[^}]*?port\s*=\s*)8649/g, (_m, channel: string, head: string) =>
    `${channel}${head}${channel === 'tcp_accept_channel' ? tcpPort : udpPort}`,
  );
  if (/\b8649\b/.test(moved.replace(/\/\*[\s\S]*?\*\//g, ''))) throw new Error(`${DEMO_GMOND_CONF}: a port 8649 is left that the tests cannot move`);
  return startGmondWithConfig(registry, { cluster: DEMO_CLUSTER, ...opts }, moved, tcpPort, udpPort);
}

async function startGmondWithConfig(
  registry: ProcessRegistry,
  opts: GmondOptions,
  config: string,
  tcpPort: number,
  udpPort: number,
): Promise<GmondHandle> {
  const dir = registry.tempDir(`gmond-${opts.cluster.replace(/[^A-Za-z0-9]/g, '_')}`);
  const confPath = path.join(dir, 'gmond.conf');
  fs.writeFileSync(confPath, config);

  const child = registry.track(await spawnManaged(`gmond ${opts.cluster}`, GMOND_BINARY, ['-f', '-c', confPath]));
  await waitForPort(tcpPort, '127.0.0.1', 10_000, child);
  const readyMetric = opts.readyMetric ?? 'load_one';
  await waitFor(
    async () => {
      const xml = await readXmlPort(tcpPort);
      // gmond only lists METRICs inside a HOST, so the metric's presence is enough.
      return xml.includes(`<METRIC NAME="${readyMetric}"`);
    },
    {
      timeoutMs: opts.readyTimeoutMs ?? 20_000,
      intervalMs: 250,
      description: `gmond ${opts.cluster} to report ${readyMetric}`,
      process: child,
    },
  );

  return {
    cluster: opts.cluster,
    tcpPort,
    udpPort,
    pid: child.pid,
    confPath,
    process: child,
    dump: () => readXmlPort(tcpPort),
    stop: async () => {
      await child.stop();
    },
  };
}

export interface SpoofedMetric {
  /** Spoofed host: gmetric -S IP:NAME. */
  readonly ip: string;
  readonly host: string;
  readonly name: string;
  readonly value: string;
  /** string|int8|uint8|int16|uint16|int32|uint32|float|double */
  readonly type: string;
  readonly units?: string;
  readonly slope?: 'zero' | 'positive' | 'negative' | 'both';
  readonly tmax?: number;
  readonly dmax?: number;
  readonly group?: string;
}

function runGmetric(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(GMETRIC_BINARY, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`gmetric ${args.join(' ')} exited ${code}: ${out}`)),
    );
  });
}

/**
 * Makes `gmond` list a spoofed host: a heartbeat (so it has GMOND_STARTED/TN) and then
 * each metric. gmetric sends to the gmond's own udp_send_channel.
 */
export async function injectSpoofedHost(
  gmond: GmondHandle,
  ip: string,
  host: string,
  metrics: readonly Omit<SpoofedMetric, 'ip' | 'host'>[],
): Promise<void> {
  const spoof = `${ip}:${host}`;
  await runGmetric(['-c', gmond.confPath, '-S', spoof, '-H']);
  for (const m of metrics) {
    const args = ['-c', gmond.confPath, '-S', spoof, '-n', m.name, '-v', m.value, '-t', m.type];
    if (m.units !== undefined) args.push('-u', m.units);
    args.push('-s', m.slope ?? 'both', '-x', String(m.tmax ?? 60), '-d', String(m.dmax ?? 0));
    if (m.group !== undefined) args.push('-g', m.group);
    await runGmetric(args);
  }
}
