/**
 * Shared pieces of the end-to-end RRD tests (rrd-e2e*.test.ts): a fake gmond whose XML is
 * re-rendered with the current time (a fixed LOCALTIME would make every poll after the
 * first a stale RRD update), the cluster content it serves, and waiting on RRD files.
 */
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { startFakeGmond, type FakeGmond } from '../helpers/fake-gmond';
import { waitFor, type ManagedProcess } from '../helpers/processes';
import { listFiles, rrdFetch, rrdInfo } from './rrd-fixtures';

/** gmond's prolog and DTD, as captured from gmond 3.7.2. */
const DTD_HEADER = fsSync.readFileSync(
  path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor', 'dtd-header.txt'), 'latin1',
);

export interface FakeMetric {
  readonly name: string;
  /** The VAL attribute, or a function of the document's LOCALTIME (counters). */
  readonly val: string | ((localtime: number) => string);
  readonly type: string;
  readonly slope: string;
  readonly units?: string;
}

export interface FakeHost {
  readonly name: string;
  readonly metrics: readonly FakeMetric[];
}

export interface FakeCluster {
  readonly name: string;
  readonly hosts: readonly FakeHost[];
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A gmond-style document for one LOCALTIME. */
export function renderGmondXml(clusters: readonly FakeCluster[], localtime: number): string {
  const out: string[] = [DTD_HEADER, '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n'];
  for (const cluster of clusters) {
    out.push(`<CLUSTER NAME="${escapeAttr(cluster.name)}" LOCALTIME="${localtime}" OWNER="unspecified" `
      + `LATLONG="unspecified" URL="unspecified">\n`);
    cluster.hosts.forEach((host, i) => {
      out.push(`<HOST NAME="${escapeAttr(host.name)}" IP="10.9.0.${i + 1}" TAGS="" REPORTED="${localtime}" TN="0" `
        + `TMAX="20" DMAX="86400" LOCATION="unspecified" GMOND_STARTED="${localtime - 1000}">\n`);
      for (const m of host.metrics) {
        const val = typeof m.val === 'function' ? m.val(localtime) : m.val;
        out.push(`<METRIC NAME="${escapeAttr(m.name)}" VAL="${escapeAttr(val)}" TYPE="${m.type}" `
          + `UNITS="${escapeAttr(m.units ?? '')}" TN="0" TMAX="60" DMAX="0" SLOPE="${m.slope}" SOURCE="gmond">\n`
          + '</METRIC>\n');
      }
      out.push('</HOST>\n');
    });
    out.push('</CLUSTER>\n');
  }
  out.push('</GANGLIA_XML>\n');
  return out.join('');
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A counter that grows by `perSecond` every second: its COUNTER rate is exactly perSecond. */
export function counter(base: number, perSecond: number): (localtime: number) => string {
  return (localtime) => String(base + perSecond * (localtime - COUNTER_EPOCH));
}
/** Keeps counter values small (uint32) while still growing with time. */
const COUNTER_EPOCH = 1_700_000_000;

/**
 * The mixed content both daemons are fed: mixed-case host names, a string metric (no RRD),
 * a positive-slope counter (COUNTER DS), a metric name with a space, and a constant
 * float per host whose cluster summary is known (42.5 + 40.5 = 83 over 2 hosts).
 */
export const MIXED_CLUSTER: FakeCluster = {
  name: 'MixedCluster',
  hosts: [
    {
      name: 'FakeHost2',
      metrics: [
        { name: 'anchor_temp', val: '42.5', type: 'float', slope: 'both', units: 'Celsius' },
        { name: 'anchor_counter', val: counter(1000, 10), type: 'uint32', slope: 'positive' },
        { name: 'anchor_str', val: 'hello world', type: 'string', slope: 'zero' },
        { name: 'disk used pct', val: '12.25', type: 'float', slope: 'both' },
      ],
    },
    {
      name: 'Web.Example-01',
      metrics: [
        { name: 'anchor_temp', val: '40.5', type: 'float', slope: 'both', units: 'Celsius' },
        { name: 'anchor_counter', val: counter(5000, 10), type: 'uint32', slope: 'positive' },
        { name: 'anchor_str', val: 'bye', type: 'string', slope: 'zero' },
      ],
    },
  ],
};

export interface LiveFakeGmond {
  readonly port: number;
  readonly address: string;
  /** Connections served so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A fake gmond (test/helpers/fake-gmond) whose body is refreshed every 100 ms, so each
 * poll sees the current second as LOCALTIME, like a real gmond.
 */
export async function startLiveFakeGmond(clusters: readonly FakeCluster[]): Promise<LiveFakeGmond> {
  const body = () => renderGmondXml(clusters, nowSeconds());
  const fake: FakeGmond = await startFakeGmond({ kind: 'serve', body: body() });
  const timer = setInterval(() => fake.setBehaviour({ kind: 'serve', body: body() }), 100);
  return {
    port: fake.port,
    address: `127.0.0.1:${fake.port}`,
    get connections() {
      return fake.connections;
    },
    async close() {
      clearInterval(timer);
      await fake.close();
    },
  };
}

/** Every file below `root` (relative paths, sorted); [] while it does not exist. */
export async function filesUnder(root: string): Promise<string[]> {
  try {
    return await listFiles(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Waits until every one of `relativePaths` exists below `root`. */
export async function waitForFiles(
  root: string, relativePaths: readonly string[], daemon?: ManagedProcess, timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    async () => {
      for (const rel of relativePaths) {
        try {
          await fs.access(path.join(root, rel));
        } catch {
          return false;
        }
      }
      return true;
    },
    { timeoutMs, intervalMs: 200, description: `RRD files ${relativePaths.join(', ')} below ${root}`, ...(daemon ? { process: daemon } : {}) },
  );
}

/** `last_update` of an RRD (through rrdcached when `cachedDaemon` is given: it flushes first). */
export async function lastUpdate(file: string, cachedDaemon?: string): Promise<number> {
  return Number((await rrdInfo(file, cachedDaemon)).get('last_update'));
}

/**
 * Rows of `rrdtool fetch AVERAGE` between `start` and `end` whose values are all known.
 * (A COUNTER's first update has no rate yet: a summary's first row is `NaN num`.)
 */
export async function knownRows(
  file: string, start: number, end: number, cachedDaemon?: string,
): Promise<Array<[number, number[]]>> {
  const rows = await rrdFetch(file, start, end, cachedDaemon);
  return [...rows].filter(([, values]) => values.every((v) => !Number.isNaN(v)));
}

/** Waits until `file` has at least `count` known rows at or after `since`; returns them. */
export async function waitForRows(
  file: string, since: number, count: number, daemon?: ManagedProcess, cachedDaemon?: string, timeoutMs = 20_000,
): Promise<Array<[number, number[]]>> {
  return waitFor(
    async () => {
      const rows = await knownRows(file, since, nowSeconds() + 5, cachedDaemon);
      return rows.length >= count ? rows : false;
    },
    { timeoutMs, intervalMs: 250, description: `${count} known rows in ${file}`, ...(daemon ? { process: daemon } : {}) },
  );
}

/** The DS and RRA definition of an `rrdtool info` (nothing that depends on the data). */
export interface RrdDefinition {
  readonly step: number;
  readonly ds: ReadonlyArray<{ name: string; type: string; heartbeat: number }>;
  readonly rras: ReadonlyArray<{ cf: string; pdpPerRow: number; rows: number; xff: number }>;
}

export function definitionOf(info: Map<string, string>): RrdDefinition {
  const ds: Array<{ index: number; name: string; type: string; heartbeat: number }> = [];
  const rras: Array<{ index: number; cf: string; pdpPerRow: number; rows: number; xff: number }> = [];
  for (const [key, value] of info) {
    const dsMatch = /^ds\[(.+)\]\.index$/.exec(key);
    if (dsMatch) {
      const name = dsMatch[1]!;
      ds.push({
        index: Number(value), name,
        type: info.get(`ds[${name}].type`) ?? '?',
        heartbeat: Number(info.get(`ds[${name}].minimal_heartbeat`)),
      });
    }
    const rraMatch = /^rra\[(\d+)\]\.cf$/.exec(key);
    if (rraMatch) {
      const i = rraMatch[1]!;
      rras.push({
        index: Number(i), cf: value,
        pdpPerRow: Number(info.get(`rra[${i}].pdp_per_row`)),
        rows: Number(info.get(`rra[${i}].rows`)),
        xff: Number(info.get(`rra[${i}].xff`)),
      });
    }
  }
  ds.sort((a, b) => a.index - b.index);
  rras.sort((a, b) => a.index - b.index);
  return {
    step: Number(info.get('step')),
    ds: ds.map(({ name, type, heartbeat }) => ({ name, type, heartbeat })),
    rras: rras.map(({ cf, pdpPerRow, rows, xff }) => ({ cf, pdpPerRow, rows, xff })),
  };
}

/** The C gmetad's default archives, as `rrdtool info` reports them. */
export const DEFAULT_RRA_DEFINITION = [
  { cf: 'AVERAGE', pdpPerRow: 1, rows: 5856, xff: 0.5 },
  { cf: 'AVERAGE', pdpPerRow: 4, rows: 20160, xff: 0.5 },
  { cf: 'AVERAGE', pdpPerRow: 40, rows: 52704, xff: 0.5 },
];
