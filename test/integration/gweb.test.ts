/**
 * The real Ganglia web frontend (gweb 3.7.5, PHP, test/helpers/gweb.ts) as a client of our
 * daemon: a real gmond -> our gmetad (2-s polls, the default RRD configuration) -> gweb
 * under `php -S`. Plain HTTP checks of the pages and APIs that show gweb understood our
 * interactive-port XML and read our RRDs, from a cold start: the pages are asked right after
 * the first poll (RRDs just created), and the graphs must have data two polls later. Time
 * is counted in polls (the cluster's LOCALTIME on our interactive port), not in seconds.
 * The cluster name has a space: gweb sends it raw ("/Gweb Test\n") and uses it as an RRD
 * directory name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { startGmond } from '../helpers/gmond';
import { startOurGmetad } from '../helpers/our-gmetad';
import type { GmetadHandle } from '../helpers/c-gmetad';
import { gwebMissing, startGweb, type GwebHandle, type HttpReply } from '../helpers/gweb';
import { ProcessRegistry, waitFor } from '../helpers/processes';
import { attr, findAll, parseGangliaXml } from '../helpers/xml-normalize';
import { lastUpdate } from './rrd-e2e-fixtures';

const GRID = 'GwebGrid';
const CLUSTER = 'Gweb Test';
const HOST = 'gweb-node1';
const C = encodeURIComponent(CLUSTER);
const H = encodeURIComponent(HOST);
const STEP = 2;
/** Rows of an hour at the RRD's own step. */
const HOUR_ROWS = 3600 / STEP;

/** Texts gweb prints when it cannot use gmetad's reply, and PHP's fatal error banner. */
const GWEB_ERROR_TEXTS = [
  'There was an error collecting ganglia data',
  'Ganglia cannot find a data source',
  'Fatal error',
  'Uncaught',
];

type Point = [number | string, number];
interface Series {
  readonly ds_name: string;
  readonly metric_name: string;
  readonly datapoints: Point[];
}

function assertPage(reply: HttpReply, what: string): string {
  assert.equal(reply.status, 200, `${what}: HTTP status`);
  for (const text of GWEB_ERROR_TEXTS) assert.ok(!reply.text.includes(text), `${what}: page contains "${text}"`);
  return reply.text;
}

function titleOf(html: string): string | undefined {
  return /<title>([^<]*)<\/title>/.exec(html)?.[1];
}

function parseSeries(reply: HttpReply, what: string): Series[] {
  assert.equal(reply.status, 200, `${what}: HTTP status`);
  const parsed = JSON.parse(reply.text) as Series[];
  assert.ok(Array.isArray(parsed) && parsed.length > 0, `${what}: a JSON array of series`);
  return parsed;
}

/** The numeric values of a series (gweb writes gaps as the string "NaN"). */
function numericValues(series: Series): number[] {
  return series.datapoints.map(([value]) => value).filter((v): v is number => typeof v === 'number');
}

describe('gweb 3.7.5 against our gmetad', { timeout: 90_000 }, () => {
  const registry = new ProcessRegistry();
  after(() => registry.cleanup());
  let gmetad: GmetadHandle;
  let gweb: GwebHandle;
  let rrdRootdir: string;

  /** The cluster's LOCALTIME on our interactive port: it moves once per poll. */
  async function clusterLocaltime(): Promise<number> {
    const xml = await gmetad.ask(`/${CLUSTER}\n`);
    const cluster = findAll(parseGangliaXml(xml), 'CLUSTER').find((c) => attr(c, 'NAME') === CLUSTER);
    assert.ok(cluster, `our XML lists CLUSTER ${CLUSTER}`);
    return Number(attr(cluster, 'LOCALTIME'));
  }

  /**
   * Waits for `polls` more polls (LOCALTIMEs seen on our port), then checks that the value
   * of the poll before the last is already in `files`: values reach the RRDs within a step.
   */
  async function waitForPolls(polls: number, files: readonly string[]): Promise<void> {
    const seen = [await clusterLocaltime()];
    while (seen.length <= polls) {
      const now = await waitFor(async () => {
        const t = await clusterLocaltime();
        return t > seen[seen.length - 1]! ? t : undefined;
      }, { timeoutMs: 30_000, intervalMs: 100, description: 'the next poll', process: gmetad.process });
      seen.push(now);
    }
    const previous = seen[seen.length - 2]!;
    for (const file of files) {
      const last = await lastUpdate(file);
      assert.ok(last >= previous, `${file}: last_update ${last}, but the poll of ${previous} was already followed by another`);
    }
  }

  /** Current attributes of one of the host's METRICs, from our interactive port. */
  async function ourMetric(name: string): Promise<{ val: string; units: string }> {
    const xml = await gmetad.ask(`/${CLUSTER}/${HOST}\n`);
    const metric = findAll(parseGangliaXml(xml), 'METRIC').find((m) => attr(m, 'NAME') === name);
    assert.ok(metric, `our XML lists METRIC ${name}`);
    return { val: attr(metric, 'VAL')!, units: attr(metric, 'UNITS')! };
  }

  before(() =>
    registry.explain(async () => {
      const missing = gwebMissing();
      // Not a skip: without gweb this test has nothing to prove, and must say so.
      assert.equal(missing, null, `gweb is not installed: ${missing}`);
      const gmond = await startGmond(registry, { cluster: CLUSTER, hostname: HOST });
      rrdRootdir = registry.tempDir('gweb-rrds');
      gmetad = await startOurGmetad(registry, {
        gridname: GRID,
        dataSources: [{ name: CLUSTER, step: STEP, addresses: [`127.0.0.1:${gmond.tcpPort}`] }],
        rrdRootdir,
        writeRrds: true,
        expectNames: [CLUSTER],
      });
      gweb = await startGweb(registry, { interactivePort: gmetad.interactivePort, rrdRootdir });
    }),
  );

  it('main page: grid title, a link to the cluster, no gweb error', () =>
    registry.explain(async () => {
      const html = assertPage(await gweb.get(''), 'main page');
      assert.equal(titleOf(html), `Ganglia:: ${GRID} Grid Report`);
      assert.ok(html.includes(`c=${C}&`), `main page links c=${C}&`);
      assert.match(html, /Hosts up:<\/td><td align="left"><B>1<\/B>/);
    }));

  it('cluster view: cluster title, a link to the host, hosts up > 0', () =>
    registry.explain(async () => {
      const html = assertPage(await gweb.get(`?c=${C}&m=load_one&r=hour`), 'cluster view');
      assert.equal(titleOf(html), `Ganglia:: ${CLUSTER} Cluster Report`);
      assert.ok(html.includes(`h=${H}&`), `cluster view links h=${H}&`);
      const up = /Hosts up:<\/td><td[^>]*><B>(\d+)<\/B>/.exec(html);
      assert.ok(up, 'cluster view shows "Hosts up:"');
      assert.ok(Number(up[1]) > 0, `hosts up ${up[1]} > 0`);
      assert.match(html, /Hosts down:<\/td><td[^>]*><B>0<\/B>/);
    }));

  it('host view: host title and metric graph links', () =>
    registry.explain(async () => {
      const html = assertPage(await gweb.get(`?c=${C}&h=${H}&m=load_one&r=hour`), 'host view');
      assert.equal(titleOf(html), `Ganglia:: ${HOST} Host Report`);
      assert.ok(html.includes(`graph.php?c=${C}&amp;h=${H}&amp;`), 'host view has graph links for the host');
      assert.ok(html.includes('m=load_one&'), 'host view has a load_one graph link');
    }));

  it('api/search.php finds the host in the cluster', () =>
    registry.explain(async () => {
      const reply = await gweb.get(`api/search.php?hostname=${H}&search_type=exact`);
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.text), { status: 'ok', message: [CLUSTER] });
    }));

  it('api/metrics.php returns the VAL and UNITS of our XML', () =>
    registry.explain(async () => {
      // cpu_num never changes: an exact comparison.
      const cpuNum = await ourMetric('cpu_num');
      const reply = await gweb.get(`api/metrics.php?host=${H}&metric_name=cpu_num`);
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.text), {
        status: 'ok',
        message: { metric_value: cpuNum.val, units: cpuNum.units },
      });
      // load_one may move between two polls: it must be the value before or after.
      const before = await ourMetric('load_one');
      const load = JSON.parse((await gweb.get(`api/metrics.php?host=${H}&metric_name=load_one`)).text) as {
        status: string;
        message: { metric_value: string; units: string };
      };
      const afterwards = await ourMetric('load_one');
      assert.equal(load.status, 'ok');
      assert.ok(
        [before.val, afterwards.val].includes(load.message.metric_value),
        `load_one ${load.message.metric_value} is our VAL (${before.val} / ${afterwards.val})`,
      );
      assert.equal(load.message.units, before.units);
    }));

  it('graph.php json: host metrics read from our RRDs', () =>
    registry.explain(async () => {
      // gweb's rrdtool command names our file (debug=3 prints it instead of running it).
      const command = await gweb.get(`graph.php?c=${C}&h=${H}&m=load_one&r=hour&debug=3`);
      assert.equal(command.status, 200);
      assert.ok(
        command.text.includes(path.join(rrdRootdir, CLUSTER, HOST, 'load_one.rrd')),
        `rrdtool command reads our RRD: ${command.text}`,
      );

      // Two polls after a cold start the hour view has numeric points. `maxrows` (a gweb
      // parameter) asks for the RRD's own resolution: by default rrdtool xport gives the
      // hour 400 rows (9 s, rounded up to 16 s here), whose newest is only complete later.
      await waitForPolls(2, [path.join(rrdRootdir, CLUSTER, HOST, 'load_one.rrd'), path.join(rrdRootdir, CLUSTER, HOST, 'cpu_num.rrd')]);
      const [load] = parseSeries(await gweb.get(`graph.php?c=${C}&h=${H}&m=load_one&r=hour&maxrows=${HOUR_ROWS}&json=1`), 'load_one');
      assert.ok(numericValues(load!).length > 0, `numeric load_one points: ${JSON.stringify(load!.datapoints.slice(-5))}`);
      assert.equal(load!.ds_name, 'sum');
      assert.ok(numericValues(load!).every((v) => Number.isFinite(v) && v >= 0), 'load_one points are loads');

      // A constant metric must come back exactly as our XML reported it.
      const cpuNum = Number((await ourMetric('cpu_num')).val);
      const [cpuSeries] = parseSeries(await gweb.get(`graph.php?c=${C}&h=${H}&m=cpu_num&r=hour&maxrows=${HOUR_ROWS}&json=1`), 'cpu_num');
      const cpuPoints = numericValues(cpuSeries!);
      assert.ok(cpuPoints.length > 0, 'numeric cpu_num points');
      assert.deepEqual([...new Set(cpuPoints)], [cpuNum]);
    }));

  it('graph.php json: the cluster load_report from our __SummaryInfo__ RRDs (sum and num)', () =>
    registry.explain(async () => {
      const cpuNum = Number((await ourMetric('cpu_num')).val);
      const summary = path.join(rrdRootdir, CLUSTER, '__SummaryInfo__');
      await waitForPolls(2, ['load_one', 'cpu_num', 'proc_total'].map((m) => path.join(summary, `${m}.rrd`)));
      const series = parseSeries(await gweb.get(`graph.php?c=${C}&g=load_report&r=hour&maxrows=${HOUR_ROWS}&json=1`), 'load_report');
      for (const s of series) assert.ok(numericValues(s).length > 0, `numeric points in ${s.metric_name}: ${JSON.stringify(s.datapoints.slice(-5))}`);
      const byName = new Map(series.map((s) => [s.metric_name.trim(), numericValues(s)]));
      assert.deepEqual([...byName.keys()], ['1-min', 'Nodes', 'CPUs', 'Procs']);
      // Nodes is load_one.rrd's num DS (hosts reporting), CPUs is cpu_num.rrd's sum DS.
      assert.deepEqual([...new Set(byName.get('Nodes'))], [1]);
      assert.deepEqual([...new Set(byName.get('CPUs'))], [cpuNum]);
      assert.ok(byName.get('1-min')!.every((v) => v >= 0));
    }));

  it('graph.php renders a PNG of a host metric', () =>
    registry.explain(async () => {
      const reply = await gweb.get(`graph.php?c=${C}&h=${H}&m=load_one&r=hour&z=medium`);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-type'], 'image/png');
      const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.deepEqual(reply.body.subarray(0, 8), signature, 'PNG signature');
      assert.equal(reply.body.subarray(12, 16).toString('latin1'), 'IHDR');
      const width = reply.body.readUInt32BE(16);
      const height = reply.body.readUInt32BE(20);
      assert.ok(width >= 300 && width <= 1000 && height >= 100 && height <= 600, `PNG ${width}x${height}`);
      assert.ok(reply.body.length > 2_000, `PNG of ${reply.body.length} bytes`);
    }));

  it('the main, cluster and host pages again, with data: no gweb error', () =>
    registry.explain(async () => {
      assertPage(await gweb.get(''), 'main page');
      assertPage(await gweb.get(`?c=${C}&m=load_one&r=hour`), 'cluster view');
      assertPage(await gweb.get(`?c=${C}&h=${H}&m=load_one&r=hour`), 'host view');
    }));

  it('PHP reported no errors while serving the pages', () => {
    const errors = gweb.log().split('\n').filter((line) => /PHP (Fatal|Parse) error|Uncaught/.test(line));
    assert.deepEqual(errors, []);
  });
});
