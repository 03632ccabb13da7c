/**
 * A gmond document for the push exporters' tests, and what each receiver must hold after
 * polling it: every numeric value of every up host, under names and labels derived the
 * documented way, and nothing else (no string metric, no value past its DMAX, no NaN, no
 * down host).
 */
export const CLUSTER_NAME = 'Exp Cluster';
export const GRIDNAME = 'TestGrid';
export const REMOTE_GRID = 'RemoteGrid';

interface MetricSpec {
  readonly name: string;
  readonly type: string;
  readonly units: string;
  readonly val: string;
  readonly tn?: number;
  readonly dmax?: number;
}

function metricXml(m: MetricSpec): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<METRIC NAME="${esc(m.name)}" VAL="${esc(m.val)}" TYPE="${m.type}" UNITS="${esc(m.units)}" TN="${m.tn ?? 5}" TMAX="60" DMAX="${m.dmax ?? 0}" SLOPE="both" SOURCE="gmond">\n`
    + '<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="GROUP" VAL="test"/>\n</EXTRA_DATA>\n</METRIC>\n';
}

/** Per host: the metrics served; the numeric, current ones are the expected values. */
export const HOSTS: readonly { readonly name: string; readonly up: boolean; readonly metrics: readonly MetricSpec[] }[] = [
  {
    name: 'node-1', up: true, metrics: [
      { name: 'load_one', type: 'float', units: ' ', val: '0.5' },
      { name: 'cpu_user', type: 'float', units: '%', val: '12.5' },
      { name: 'bytes_in', type: 'float', units: 'bytes/sec', val: '1234.5' },
      { name: 'mem_free', type: 'uint32', units: 'KB', val: '1048576' },
      { name: 'disk.free/sda1', type: 'double', units: 'GB', val: '37.25' },
      { name: 'cpu.idle', type: 'int32', units: '', val: '1' },
      { name: 'cpu_idle', type: 'int32', units: '', val: '2' },
      { name: 'weird, name=x "q"', type: 'float', units: '', val: '3' },
      { name: 'os_name', type: 'string', units: '', val: 'Linux' },
      { name: 'broken', type: 'float', units: '', val: 'nan' },
      { name: 'expired', type: 'float', units: '', val: '7', tn: 100, dmax: 10 },
    ],
  },
  {
    name: 'node-2', up: true, metrics: [
      { name: 'load_one', type: 'float', units: ' ', val: '1.5' },
      { name: 'cpu_user', type: 'float', units: '%', val: '50' },
      { name: 'bytes_in', type: 'float', units: 'bytes/sec', val: '10' },
      { name: 'mem_free', type: 'uint32', units: 'KB', val: '2048' },
      { name: 'disk.free/sda1', type: 'double', units: 'GB', val: '1.75' },
      { name: 'cpu.idle', type: 'int32', units: '', val: '3' },
      { name: 'cpu_idle', type: 'int32', units: '', val: '-4' },
      { name: 'weird, name=x "q"', type: 'float', units: '', val: '5' },
      { name: 'os_name', type: 'string', units: '', val: 'Linux' },
    ],
  },
  { name: 'node-3', up: false, metrics: [{ name: 'load_one', type: 'float', units: '', val: '9' }] },
];

/** The cluster document a gmond would send (hosts' REPORTED/TN relative to any clock). */
export function clusterXml(nowSec: number): string {
  const hosts = HOSTS.map((h) => {
    const tn = h.up ? 5 : 1000;
    return `<HOST NAME="${h.name}" IP="10.0.0.${h.name.slice(-1)}" TAGS="" REPORTED="${nowSec - tn}" TN="${tn}" TMAX="20" DMAX="0" LOCATION="unspecified" GMOND_STARTED="0">\n`
      + h.metrics.map(metricXml).join('') + '</HOST>\n';
  }).join('');
  return '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n'
    + '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n'
    + `<CLUSTER NAME="${CLUSTER_NAME}" LOCALTIME="${nowSec}" OWNER="" LATLONG="" URL="">\n${hosts}</CLUSTER>\n</GANGLIA_XML>\n`;
}

/** A child gmetad's document: a grid of one cluster with two up hosts (load_one 2 and 4). */
export function gridXml(nowSec: number): string {
  const host = (name: string, load: string) =>
    `<HOST NAME="${name}" IP="10.1.0.1" TAGS="" REPORTED="${nowSec - 5}" TN="5" TMAX="20" DMAX="0" LOCATION="" GMOND_STARTED="0">\n`
    + metricXml({ name: 'load_one', type: 'float', units: ' ', val: load }) + '</HOST>\n';
  return '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n'
    + '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmetad">\n'
    + `<GRID NAME="${REMOTE_GRID}" AUTHORITY="http://remote/" LOCALTIME="${nowSec}">\n`
    + `<CLUSTER NAME="Inner" LOCALTIME="${nowSec}" OWNER="" LATLONG="" URL="">\n${host('r1', '2')}${host('r2', '4')}</CLUSTER>\n`
    + '</GRID>\n</GANGLIA_XML>\n';
}

/** host → Ganglia metric name → value: what must arrive for the hosts. */
export function expectedHostValues(): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const host of HOSTS) {
    if (!host.up) continue;
    const values = new Map<string, number>();
    for (const m of host.metrics) {
      if (m.type === 'string' || m.val === 'nan' || m.dmax) continue;
      values.set(m.name, Number(m.val));
    }
    out.set(host.name, values);
  }
  return out;
}

/**
 * The family name and factor the /metrics naming (src/plugins/prometheus/names) gives each
 * fixture metric: base units with conversion; "cpu_idle" is clean and keeps its name, "cpu.idle" gets
 * a hash of its name (HASH).
 */
export const PROMETHEUS_NAMES: ReadonlyMap<string, readonly [string, number]> = new Map([
  ['load_one', ['ganglia_load_one', 1]],
  ['cpu_user', ['ganglia_cpu_user_ratio', 0.01]],
  ['bytes_in', ['ganglia_bytes_in_per_second', 1]],
  ['mem_free', ['ganglia_mem_free_bytes', 1024]],
  ['disk.free/sda1', ['ganglia_disk_free_sda1_bytes', 1e9]],
  ['cpu.idle', ['ganglia_cpu_idle_HASH', 1]],
  ['cpu_idle', ['ganglia_cpu_idle', 1]],
  ['weird, name=x "q"', ['ganglia_weird_name_x_q', 1]],
]);

/** The metrics in the cluster's summary: numeric ones of up hosts, not past DMAX (whatever their VAL). */
export function summarisedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const host of HOSTS) {
    if (!host.up) continue;
    for (const m of host.metrics) if (m.type !== 'string' && !m.dmax) names.add(m.name);
  }
  return names;
}
