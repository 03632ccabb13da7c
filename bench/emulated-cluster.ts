/**
 * An emulated gmond for the benchmark: one large cluster document in the exact gmond 3.7.2
 * format, generated once and served whole to every TCP connection (like gmond's tcp_accept_channel).
 *
 * Every changing field (CLUSTER LOCALTIME, HOST REPORTED/TN, METRIC VAL/TN of numeric metrics) is
 * printed with a fixed width, so a refresh only rewrites digits in place: no re-generation, no
 * allocation, a few milliseconds for 100k metrics. Two buffers alternate so a refresh never
 * touches bytes that a connection may still be sending.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { seededRandom } from '../test/helpers/seeded-random';

export interface ClusterOptions {
  /** Number of HOST elements (default 1000). */
  readonly hosts?: number;
  /** METRIC elements per host (default 100). */
  readonly metrics?: number;
  readonly clusterName?: string;
  /** Epoch seconds used for LOCALTIME/REPORTED (default: now). */
  readonly nowSec?: number;
  /** Seed of the value generator, so two documents with the same options are identical. */
  readonly seed?: number;
}

type MetricType = 'float' | 'double' | 'uint32' | 'uint16' | 'int32' | 'string';
type Slope = 'both' | 'positive' | 'zero';

/** What one metric of every host looks like (the same set on every host, as in a real cluster). */
interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly units: string;
  readonly tmax: number;
  readonly dmax: number;
  readonly slope: Slope;
  readonly group: string;
  readonly title: string;
  readonly desc: string;
  /** For numeric types: digits before the point and after it; every VAL has exactly this shape. */
  readonly intDigits: number;
  readonly decimals: number;
  /** For string metrics: the constant value. */
  readonly text?: string;
}

/** A fixed-width decimal field inside the document. */
interface Slot {
  readonly offset: number;
  readonly intDigits: number;
  readonly decimals: number;
}

const WIDTH = {
  tn: 2, // TN values 10..59 (metric) / 10..19 (host, TMAX 20 => always up)
  epoch: 10,
} as const;

/** The standard gmond 3.7 metric set (names, units, groups, descriptions as gmond prints them). */
const STANDARD_METRICS: readonly MetricSpec[] = [
  num('cpu_num', 'uint16', 'CPUs', 1200, 'zero', 'cpu', 'CPU Count', 'Total number of CPUs', 3, 0),
  num('cpu_speed', 'uint32', 'MHz', 1200, 'zero', 'cpu', 'CPU Speed', 'CPU Speed in terms of MHz', 4, 0),
  num('cpu_user', 'float', '%', 90, 'both', 'cpu', 'CPU User', 'Percentage of CPU utilization that occurred while executing at the user level', 2, 1),
  num('cpu_system', 'float', '%', 90, 'both', 'cpu', 'CPU System', 'Percentage of CPU utilization that occurred while executing at the system level', 2, 1),
  num('cpu_idle', 'float', '%', 90, 'both', 'cpu', 'CPU Idle', 'Percentage of time that the CPU or CPUs were idle and the system did not have an outstanding disk I/O request', 2, 1),
  num('cpu_nice', 'float', '%', 90, 'both', 'cpu', 'CPU Nice', 'Percentage of CPU utilization that occurred while executing at the user level with nice priority', 2, 1),
  num('cpu_wio', 'float', '%', 90, 'both', 'cpu', 'CPU wio', 'Percentage of time that the CPU or CPUs were idle during which the system had an outstanding disk I/O request', 2, 1),
  num('cpu_aidle', 'float', '%', 3800, 'both', 'cpu', 'CPU aidle', 'Percent of time since boot idle CPU', 2, 1),
  num('cpu_intr', 'float', '%', 90, 'both', 'cpu', 'CPU intr', 'cpu_intr', 2, 1),
  num('cpu_sintr', 'float', '%', 90, 'both', 'cpu', 'CPU sintr', 'cpu_sintr', 2, 1),
  num('cpu_steal', 'float', '%', 90, 'both', 'cpu', 'CPU steal', 'cpu_steal', 2, 1),
  num('load_one', 'float', ' ', 70, 'both', 'load', 'One Minute Load Average', 'One minute load average', 2, 2),
  num('load_five', 'float', ' ', 325, 'both', 'load', 'Five Minute Load Average', 'Five minute load average', 2, 2),
  num('load_fifteen', 'float', ' ', 950, 'both', 'load', 'Fifteen Minute Load Average', 'Fifteen minute load average', 2, 2),
  num('mem_total', 'float', 'KB', 1200, 'zero', 'memory', 'Memory Total', 'Total amount of memory displayed in KBs', 8, 0),
  num('mem_free', 'float', 'KB', 180, 'both', 'memory', 'Free Memory', 'Amount of available memory', 7, 0),
  num('mem_shared', 'float', 'KB', 180, 'both', 'memory', 'Shared Memory', 'Amount of shared memory', 5, 0),
  num('mem_buffers', 'float', 'KB', 180, 'both', 'memory', 'Memory Buffers', 'Amount of buffered memory', 6, 0),
  num('mem_cached', 'float', 'KB', 180, 'both', 'memory', 'Cached Memory', 'Amount of cached memory', 7, 0),
  num('swap_total', 'float', 'KB', 1200, 'zero', 'memory', 'Swap Space Total', 'Total amount of swap space displayed in KBs', 7, 0),
  num('swap_free', 'float', 'KB', 180, 'both', 'memory', 'Free Swap Space', 'Amount of available swap memory', 7, 0),
  num('bytes_in', 'float', 'bytes/sec', 300, 'both', 'network', 'Bytes Received', 'Number of bytes in per second', 5, 2),
  num('bytes_out', 'float', 'bytes/sec', 300, 'both', 'network', 'Bytes Sent', 'Number of bytes out per second', 5, 2),
  num('pkts_in', 'float', 'packets/sec', 300, 'both', 'network', 'Packets Received', 'Packets in per second', 3, 2),
  num('pkts_out', 'float', 'packets/sec', 300, 'both', 'network', 'Packets Sent', 'Packets out per second', 3, 2),
  num('proc_run', 'uint32', ' ', 950, 'both', 'process', 'Total Running Processes', 'Total number of running processes', 1, 0),
  num('proc_total', 'uint32', ' ', 950, 'both', 'process', 'Total Processes', 'Total number of processes', 3, 0),
  num('disk_total', 'double', 'GB', 1200, 'both', 'disk', 'Total Disk Space', 'Total available disk space', 4, 3),
  num('disk_free', 'double', 'GB', 180, 'both', 'disk', 'Disk Space Available', 'Total free disk space', 3, 3),
  num('part_max_used', 'float', '%', 180, 'both', 'disk', 'Maximum Disk Space Used', 'Maximum percent used for all partitions', 2, 1),
  num('boottime', 'uint32', 's', 1200, 'zero', 'system', 'Last Boot Time', 'The last time that the system was started', 9, 0),
  text('os_name', 'system', 'Operating System', 'Operating system name', 'Linux'),
  text('os_release', 'system', 'Operating System Release', 'Operating system release date', '6.1.0-21-amd64'),
  text('machine_type', 'system', 'Machine Type', 'System architecture', 'x86_64'),
  text('gexec', 'core', 'Gexec Status', 'gexec available', 'OFF'),
];

/** Groups used for application metrics beyond the standard set (e.g. from gmond Python modules). */
const EXTRA_GROUPS: readonly { group: string; stems: readonly string[]; units: string }[] = [
  { group: 'diskstat', stems: ['reads', 'writes', 'read_bytes', 'write_bytes', 'io_time', 'weighted_io_time'], units: 'ops/sec' },
  { group: 'jvm', stems: ['heap_used', 'heap_committed', 'gc_time', 'threads', 'classes_loaded'], units: 'bytes' },
  { group: 'nginx', stems: ['active_connections', 'requests', 'reading', 'writing', 'waiting'], units: 'req/sec' },
  { group: 'netstat', stems: ['tcp_established', 'tcp_time_wait', 'udp_in_errors', 'tcp_retrans'], units: 'count' },
  { group: 'app', stems: ['queue_depth', 'latency_p99', 'cache_hit_ratio', 'version'], units: 'ms' },
];

function num(
  name: string, type: MetricType, units: string, tmax: number, slope: Slope,
  group: string, title: string, desc: string, intDigits: number, decimals: number,
): MetricSpec {
  return { name, type, units, tmax, dmax: 0, slope, group, title, desc, intDigits, decimals };
}

function text(name: string, group: string, title: string, desc: string, value: string): MetricSpec {
  return { name, type: 'string', units: '', tmax: 1200, dmax: 0, slope: 'zero', group, title, desc, intDigits: 0, decimals: 0, text: value };
}

/**
 * The metric set of every host: the standard gmond metrics first, then application metrics with a
 * mostly-numeric type mix (float, uint32, double; ~1 in 20 string, ~1 in 20 int32).
 */
export function metricCatalogue(count: number): MetricSpec[] {
  const specs = STANDARD_METRICS.slice(0, count);
  for (let i = specs.length; i < count; i++) {
    const k = i - STANDARD_METRICS.length;
    const family = EXTRA_GROUPS[k % EXTRA_GROUPS.length]!;
    const stem = family.stems[Math.floor(k / EXTRA_GROUPS.length) % family.stems.length]!;
    const name = `${family.group}_${stem}_${Math.floor(k / EXTRA_GROUPS.length)}`;
    const title = `${family.group} ${stem.replace(/_/g, ' ')} #${k}`;
    const desc = `${stem.replace(/_/g, ' ')} from the ${family.group} module`;
    const kind = k % 20;
    if (kind === 19) specs.push(text(name, family.group, title, desc, `build-${(k * 7919) % 100000}`));
    else if (kind === 18) specs.push(num(name, 'int32', family.units, 60, 'both', family.group, title, desc, 4, 0));
    else if (kind >= 13) specs.push(num(name, 'double', family.units, 60, 'both', family.group, title, desc, 3, 6));
    else if (kind >= 7) specs.push(num(name, 'uint32', family.units, 60, 'positive', family.group, title, desc, 6, 0));
    else specs.push(num(name, 'float', family.units, 60, 'both', family.group, title, desc, 2, 2));
  }
  return specs;
}

/** The gmond prolog + DTD, byte-exact (captured from the real gmond 3.7.2). */
function dtdHeader(): string {
  // dist/bench/ -> repo root; the file is the project's copy of the anchor capture.
  const candidates = [
    path.resolve(__dirname, '../../test/fixtures/anchor/dtd-header.txt'),
    path.resolve(__dirname, '../test/fixtures/anchor/dtd-header.txt'),
  ];
  for (const file of candidates) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'latin1');
  }
  throw new Error(`gmond DTD header not found (looked in ${candidates.join(', ')})`);
}


/** Writes `value` (a non-negative integer) as exactly `width` digits at `offset`, zero-padded on the left. */
function writeDigits(buf: Buffer, offset: number, width: number, value: number): void {
  let v = Math.floor(value);
  for (let i = offset + width - 1; i >= offset; i--) {
    buf[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/**
 * A random value of the slot's shape: the integer part never starts with 0 unless it has one digit,
 * so every VAL reads like a normal number ("42.17", "123456", "512.123456").
 */
function writeRandomValue(buf: Buffer, slot: Slot, random: () => number): void {
  const intLow = slot.intDigits > 1 ? 10 ** (slot.intDigits - 1) : 0;
  const intHigh = 10 ** slot.intDigits;
  writeDigits(buf, slot.offset, slot.intDigits, intLow + Math.floor(random() * (intHigh - intLow)));
  if (slot.decimals > 0) {
    writeDigits(buf, slot.offset + slot.intDigits + 1, slot.decimals, Math.floor(random() * 10 ** slot.decimals));
  }
}

function placeholder(intDigits: number, decimals: number): string {
  return '0'.repeat(intDigits) + (decimals > 0 ? '.' + '0'.repeat(decimals) : '');
}

/** The generated bytes plus where every changing field sits. */
interface Layout {
  readonly bytes: Buffer;
  readonly clusterLocaltime: number;
  readonly hostReported: number[];
  readonly hostTn: number[];
  readonly metricTn: number[];
  readonly values: Slot[];
}

function buildLayout(hosts: number, metrics: number, clusterName: string, nowSec: number): Layout {
  const specs = metricCatalogue(metrics);
  // Generated as latin1 text pieces; offsets are tracked as we go (all ASCII, 1 byte per char).
  const pieces: string[] = [];
  let length = 0;
  const push = (s: string): number => {
    const at = length;
    pieces.push(s);
    length += s.length;
    return at;
  };
  const hostReported: number[] = [];
  const hostTn: number[] = [];
  const metricTn: number[] = [];
  const values: Slot[] = [];

  push(dtdHeader());
  push('<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n');
  push(`<CLUSTER NAME="${clusterName}" LOCALTIME="`);
  const clusterLocaltime = push('0'.repeat(WIDTH.epoch));
  push(`" OWNER="Bench Owner" LATLONG="N32.87 W117.22" URL="http://bench.example/">\n`);
  const started = nowSec - 86400;
  // Per metric, the text around VAL and TN is the same on every host: build it once.
  const metricHeads = specs.map((m) => `<METRIC NAME="${m.name}" VAL="`);
  const metricMids = specs.map((m) => `" TYPE="${m.type}" UNITS="${m.units}" TN="`);
  const metricTails = specs.map(
    (m) =>
      `" TMAX="${m.tmax}" DMAX="${m.dmax}" SLOPE="${m.slope}">\n<EXTRA_DATA>\n` +
      `<EXTRA_ELEMENT NAME="GROUP" VAL="${m.group}"/>\n` +
      `<EXTRA_ELEMENT NAME="DESC" VAL="${m.desc}"/>\n` +
      `<EXTRA_ELEMENT NAME="TITLE" VAL="${m.title}"/>\n</EXTRA_DATA>\n</METRIC>\n`,
  );
  const tnPlaceholder = '0'.repeat(WIDTH.tn);
  for (let h = 0; h < hosts; h++) {
    const ip = `10.${1 + ((h + 1) >> 16)}.${((h + 1) >> 8) & 255}.${(h + 1) & 255}`;
    const name = `node${String(h).padStart(4, '0')}.bench.example`;
    push(`<HOST NAME="${name}" IP="${ip}" TAGS="" REPORTED="`);
    hostReported.push(push('0'.repeat(WIDTH.epoch)));
    push('" TN="');
    hostTn.push(push(tnPlaceholder));
    push(`" TMAX="20" DMAX="86400" LOCATION="unspecified" GMOND_STARTED="${started + h}">\n`);
    for (let m = 0; m < specs.length; m++) {
      const spec = specs[m]!;
      push(metricHeads[m]!);
      if (spec.type === 'string') push(spec.text ?? '');
      else values.push({ offset: push(placeholder(spec.intDigits, spec.decimals)), intDigits: spec.intDigits, decimals: spec.decimals });
      push(metricMids[m]!);
      metricTn.push(push(tnPlaceholder));
      push(metricTails[m]!);
    }
    push('</HOST>\n');
  }
  push('</CLUSTER>\n</GANGLIA_XML>\n');
  return { bytes: Buffer.from(pieces.join(''), 'latin1'), clusterLocaltime, hostReported, hostTn, metricTn, values };
}

/**
 * The cluster document with in-place refresh. `current()` is the newest complete version;
 * `refresh()` rewrites the other buffer (if no connection is still sending it) and swaps.
 */
export class ClusterDocument {
  private readonly layout: Layout;
  private readonly buffers: [Buffer, Buffer];
  private readonly inFlight = [0, 0];
  private active = 0;
  private readonly random: () => number;
  private lastRefreshMs = 0;

  constructor(opts: ClusterOptions = {}) {
    const nowSec = opts.nowSec ?? Math.floor(Date.now() / 1000);
    this.random = seededRandom(opts.seed ?? 12345);
    this.layout = buildLayout(opts.hosts ?? 1000, opts.metrics ?? 100, opts.clusterName ?? 'BenchCluster', nowSec);
    this.buffers = [this.layout.bytes, Buffer.from(this.layout.bytes)];
    this.fill(this.buffers[0], nowSec);
    this.lastRefreshMs = Date.now();
  }

  get size(): number {
    return this.layout.bytes.length;
  }

  get metricCount(): number {
    return this.layout.metricTn.length;
  }

  get hostCount(): number {
    return this.layout.hostTn.length;
  }

  current(): Buffer {
    return this.buffers[this.active]!;
  }

  /** Refreshes if the current version is older than `maxAgeMs`; returns whether it did. */
  refreshIfOlder(maxAgeMs: number, nowMs = Date.now()): boolean {
    if (nowMs - this.lastRefreshMs < maxAgeMs) return false;
    return this.refresh(nowMs);
  }

  /** New LOCALTIME/REPORTED/TN/values into the spare buffer, then swap. Skipped while the spare is being sent. */
  refresh(nowMs = Date.now()): boolean {
    const spare = 1 - this.active;
    if (this.inFlight[spare]! > 0) return false;
    this.fill(this.buffers[spare]!, Math.floor(nowMs / 1000));
    this.active = spare;
    this.lastRefreshMs = nowMs;
    return true;
  }

  /** Sends the current version to `socket` and closes it; keeps the buffer pinned until done. */
  sendTo(socket: net.Socket): void {
    const index = this.active;
    this.inFlight[index]!++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inFlight[index]!--;
    };
    socket.once('close', release);
    socket.end(this.buffers[index]!);
  }

  private fill(buf: Buffer, nowSec: number): void {
    const { layout, random } = this;
    writeDigits(buf, layout.clusterLocaltime, WIDTH.epoch, nowSec);
    for (let h = 0; h < layout.hostTn.length; h++) {
      const tn = 10 + Math.floor(random() * 10); // < 4*TMAX(20): every host is up
      writeDigits(buf, layout.hostTn[h]!, WIDTH.tn, tn);
      writeDigits(buf, layout.hostReported[h]!, WIDTH.epoch, nowSec - tn);
    }
    for (const offset of layout.metricTn) writeDigits(buf, offset, WIDTH.tn, 10 + Math.floor(random() * 50));
    for (const slot of layout.values) writeRandomValue(buf, slot, random);
  }
}

/** The whole document as one buffer (a fresh generation; values filled for `opts.nowSec`). */
export function generateClusterXml(opts: ClusterOptions = {}): Buffer {
  return new ClusterDocument(opts).current();
}

export interface EmulatedGmondOptions extends ClusterOptions {
  /** Serve this existing document (lets several listeners share one buffer) instead of generating one. */
  readonly document?: ClusterDocument;
  /** Listen port on 127.0.0.1 (default 0 = any free port). */
  readonly port?: number;
  readonly host?: string;
  /** Refresh TN/REPORTED/values at a connection if the served version is older than this (default 5000 ms). */
  readonly refreshMs?: number;
  /** Called with the epoch milliseconds of each accepted connection (also kept in `connections`). */
  readonly onConnection?: (atMs: number) => void;
}

export interface EmulatedGmond {
  readonly port: number;
  readonly document: ClusterDocument;
  /** Epoch milliseconds at which each connection was accepted, in order (one entry per poll). */
  readonly connections: number[];
  close(): Promise<void>;
}

/** Listens on TCP and writes the whole document to every connection, then closes it (gmond behaviour). */
export async function startEmulatedGmond(opts: EmulatedGmondOptions = {}): Promise<EmulatedGmond> {
  const document = opts.document ?? new ClusterDocument(opts);
  const refreshMs = opts.refreshMs ?? 5000;
  const connections: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const atMs = Date.now();
    connections.push(atMs);
    opts.onConnection?.(atMs);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // a client that resets is its own business
    document.refreshIfOlder(refreshMs);
    document.sendTo(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    document,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
