/**
 * The local host metrics that /status appends (the same names gmond reports), read from
 * `os` and Linux's /proc and /sys. Rates and CPU percentages are computed between two
 * calls of the same sampler (since boot on the first call). Anything unreadable (another
 * OS, a container without /proc) reads as 0 / "".
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** One JSON member value, already formatted the way the C gmetad prints it. */
export type RawJson = string;
export type MetricGroup = readonly (readonly [string, RawJson])[];

export interface LocalMetrics {
  readonly cpu: MetricGroup;
  readonly disk: MetricGroup;
  readonly load: MetricGroup;
  readonly memory: MetricGroup;
  readonly network: MetricGroup;
  readonly process: MetricGroup;
  readonly system: MetricGroup;
}

interface CpuTimes {
  user: number; nice: number; system: number; idle: number; iowait: number;
  irq: number; softirq: number; steal: number; total: number;
}

interface NetCounters {
  bytesIn: number; bytesOut: number; pktsIn: number; pktsOut: number; atMs: number;
}

/** %f as C prints it. */
const f = (n: number): RawJson => (Number.isFinite(n) ? n : 0).toFixed(6);
/** %u. */
const u = (n: number): RawJson => String(Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0);
const str = (s: string): RawJson => JSON.stringify(s);

function readText(path: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export class LocalMetricsSampler {
  private lastCpu: CpuTimes | null = null;
  private lastNet: NetCounters | null = null;

  sample(nowMs = Date.now()): LocalMetrics {
    return {
      cpu: this.cpu(),
      disk: disk(),
      load: load(),
      memory: memory(),
      network: this.network(nowMs),
      process: processes(),
      system: system(nowMs),
    };
  }

  private cpu(): MetricGroup {
    const cpus = os.cpus();
    const stat = readText('/proc/stat');
    const now = parseCpuLine(stat);
    const since = this.lastCpu;
    this.lastCpu = now;
    const pct = (key: keyof CpuTimes): number => {
      if (now === null) return 0;
      const total = since ? now.total - since.total : now.total;
      const part = since ? now[key] - since[key] : now[key];
      return total > 0 ? (100 * part) / total : 0;
    };
    const aidle = now !== null && now.total > 0 ? (100 * now.idle) / now.total : 0;
    return [
      ['cpu_num', u(cpus.length)],
      ['cpu_speed', u(cpus[0]?.speed ?? 0)],
      ['cpu_user', f(pct('user'))],
      ['cpu_nice', f(pct('nice'))],
      ['cpu_system', f(pct('system'))],
      ['cpu_idle', f(pct('idle'))],
      ['cpu_wio', f(pct('iowait'))],
      ['cpu_aidle', f(aidle)],
      ['cpu_intr', f(pct('irq'))],
      ['cpu_sintr', f(pct('softirq'))],
      ['cpu_steal', f(pct('steal'))],
    ];
  }

  private network(nowMs: number): MetricGroup {
    const now = readNetCounters(nowMs);
    const since = this.lastNet;
    this.lastNet = now;
    const rate = (key: Exclude<keyof NetCounters, 'atMs'>): number => {
      if (since === null) return 0;
      const seconds = (now.atMs - since.atMs) / 1000;
      return seconds > 0 ? Math.max(0, now[key] - since[key]) / seconds : 0;
    };
    return [
      ['mtu', u(minMtu())],
      ['bytes_out', f(rate('bytesOut'))],
      ['bytes_in', f(rate('bytesIn'))],
      ['pkts_in', f(rate('pktsIn'))],
      ['pkts_out', f(rate('pktsOut'))],
    ];
  }
}

function parseCpuLine(stat: string): CpuTimes | null {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return { user, nice, system, idle, iowait, irq, softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

function disk(): MetricGroup {
  let free = 0;
  let total = 0;
  try {
    const s = fs.statfsSync('/');
    free = (s.bavail * s.bsize) / 1e9;
    total = (s.blocks * s.bsize) / 1e9;
  } catch {
    // leave zeros
  }
  const used = total > 0 ? (100 * (total - free)) / total : 0;
  return [['disk_free', f(free)], ['disk_total', f(total)], ['part_max_used', f(used)]];
}

function load(): MetricGroup {
  const [one, five, fifteen] = os.loadavg();
  return [['load_one', f(one)], ['load_five', f(five)], ['load_fifteen', f(fifteen)]];
}

function memory(): MetricGroup {
  const info = new Map<string, number>();
  for (const line of readText('/proc/meminfo').split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) info.set(m[1], Number(m[2]));
  }
  const kb = (key: string, fallback = 0) => info.get(key) ?? fallback;
  return [
    ['mem_total', f(kb('MemTotal', os.totalmem() / 1024))],
    ['swap_total', f(kb('SwapTotal'))],
    ['mem_free', f(kb('MemFree', os.freemem() / 1024))],
    ['mem_shared', f(kb('Shmem'))],
    ['mem_buffers', f(kb('Buffers'))],
    ['mem_cached', f(kb('Cached'))],
    ['swap_free', f(kb('SwapFree'))],
    ['mem_sreclaimable', f(kb('SReclaimable'))],
  ];
}

function readNetCounters(atMs: number): NetCounters {
  const c: NetCounters = { bytesIn: 0, bytesOut: 0, pktsIn: 0, pktsOut: 0, atMs };
  for (const line of readText('/proc/net/dev').split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const v = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    c.bytesIn += v[0] || 0;
    c.pktsIn += v[1] || 0;
    c.bytesOut += v[8] || 0;
    c.pktsOut += v[9] || 0;
  }
  return c;
}

/** Smallest MTU of the non-loopback interfaces (loopback's if there is no other). */
function minMtu(): number {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/sys/class/net');
  } catch {
    return 0;
  }
  const mtus = names.map((n) => ({ n, mtu: Number(readText(`/sys/class/net/${n}/mtu`).trim()) }))
    .filter((x) => x.mtu > 0);
  const others = mtus.filter((x) => x.n !== 'lo');
  const pool = others.length > 0 ? others : mtus;
  return pool.length > 0 ? Math.min(...pool.map((x) => x.mtu)) : 0;
}

function processes(): MetricGroup {
  // /proc/loadavg: "0.34 0.14 0.10 2/191 1234": running/total; gmond leaves itself out.
  const m = /\s(\d+)\/(\d+)\s/.exec(readText('/proc/loadavg'));
  const running = m ? Math.max(0, Number(m[1]) - 1) : 0;
  const total = m ? Number(m[2]) : 0;
  return [['proc_run', u(running)], ['proc_total', u(total)]];
}

function system(nowMs: number): MetricGroup {
  const btime = /^btime\s+(\d+)/m.exec(readText('/proc/stat'));
  const boottime = btime ? Number(btime[1]) : Math.floor(nowMs / 1000 - os.uptime());
  return [
    ['boottime', u(boottime)],
    ['sys_clock', u(nowMs / 1000)],
    ['machine_type', str(os.machine())],
    ['os_name', str(os.type())],
    ['os_release', str(os.release())],
  ];
}
