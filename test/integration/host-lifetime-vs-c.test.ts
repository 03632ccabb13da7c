/**
 * A host (and a metric) that a gmond stops listing, side by side with the C gmetad 3.7.2:
 * both daemons poll the same source, which first lists `stays-node` and `gone-node`, then
 * only `stays-node` (without its gmetric-style metric). The C gmetad keeps the absent host
 * and metric, ageing; so must we. Consumers must give the same answers against both: the
 * Nagios plugin check_ganglia_metric (test/helpers/check-ganglia-metric.ts) on the XML
 * port, and gweb's nagios/check_heartbeat.php (the real PHP, under php -S) on the
 * interactive port. The RRDs of the absent host stop being updated in both.
 * Only a fake source can do this on cue (a real gmond forgets a host after its DMAX).
 * Times in the documents are fixed numbers, not the clock.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCGmetad, type GmetadHandle } from '../helpers/c-gmetad';
import { checkGangliaMetric } from '../helpers/check-ganglia-metric';
import { startFakeGmond, type FakeGmond } from '../helpers/fake-gmond';
import { gwebMissing, startGweb, type GwebHandle } from '../helpers/gweb';
import { startOurGmetad } from '../helpers/our-gmetad';
import { ProcessRegistry, waitFor } from '../helpers/processes';
import { lastUpdate } from './rrd-e2e-fixtures';

const CLUSTER = 'LifeCluster';
const L0 = 1_795_250_000;
const L1 = L0 + 100;

interface DocHost {
  readonly name: string;
  readonly reported: number;
  readonly metrics: readonly { readonly name: string; readonly val: string }[];
}

function doc(localtime: number, hosts: readonly DocHost[], goneCluster = ''): string {
  const body = hosts.map((h) => `<HOST NAME="${h.name}" IP="10.0.0.1" REPORTED="${h.reported}" TN="${localtime - h.reported}" TMAX="20" DMAX="0" LOCATION="rack" GMOND_STARTED="${L0 - 1000}" TAGS="">\n`
    + h.metrics.map((m) => `<METRIC NAME="${m.name}" VAL="${m.val}" TYPE="float" UNITS="load" TN="${localtime - h.reported}" TMAX="70" DMAX="0" SLOPE="both">\n`
      + `<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="TITLE" VAL="Title of ${m.name}"/>\n</EXTRA_DATA>\n</METRIC>\n`).join('')
    + '</HOST>\n').join('');
  return '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n'
    + `<CLUSTER NAME="${CLUSTER}" LOCALTIME="${localtime}" OWNER="o" LATLONG="l" URL="u">\n${body}</CLUSTER>\n${goneCluster}</GANGLIA_XML>\n`;
}

/** A second cluster that only the first document lists: C keeps it (it never deletes a source). */
const GONE_CLUSTER = 'GoneCluster';
const GONE_CLUSTER_XML = `<CLUSTER NAME="${GONE_CLUSTER}" LOCALTIME="${L0}" OWNER="o2" LATLONG="l2" URL="u2">\n`
  + `<HOST NAME="gone-cluster-node" IP="10.0.0.2" REPORTED="${L0 - 4}" TN="4" TMAX="20" DMAX="0" LOCATION="rack" GMOND_STARTED="${L0 - 1000}" TAGS="">\n`
  + '<METRIC NAME="load_one" VAL="2.50" TYPE="float" UNITS="load" TN="4" TMAX="70" DMAX="0" SLOPE="both">\n'
  + '<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="TITLE" VAL="Title of load_one"/>\n</EXTRA_DATA>\n</METRIC>\n</HOST>\n</CLUSTER>\n';

const BEFORE = doc(L0, [
  { name: 'stays-node', reported: L0 - 2, metrics: [{ name: 'load_one', val: '0.50' }, { name: 'gmetric_once', val: '7.00' }] },
  { name: 'gone-node', reported: L0 - 3, metrics: [{ name: 'load_one', val: '1.25' }] },
], GONE_CLUSTER_XML);
const AFTER = doc(L1, [
  { name: 'stays-node', reported: L1 - 2, metrics: [{ name: 'load_one', val: '0.75' }] },
]);

describe('a host that disappeared: the same answers as the C gmetad', { skip: gwebMissing() ?? false }, () => {
  const registry = new ProcessRegistry();
  after(() => registry.cleanup());
  const daemons: { label: string; gmetad: GmetadHandle; gweb: GwebHandle }[] = [];
  let source: FakeGmond;

  before(async () => {
    await registry.explain(async () => {
      source = await startFakeGmond({ kind: 'serve', body: BEFORE });
      after(() => source.close());
      const opts = (gridname: string) => ({
        gridname, writeRrds: true, expectNames: [CLUSTER],
        dataSources: [{ name: 'life', step: 1, addresses: [`127.0.0.1:${source.port}`] }],
      });
      const c = await startCGmetad(registry, opts('CGrid'));
      const ours = await startOurGmetad(registry, opts('OurGrid'));
      for (const [label, gmetad] of [['C', c], ['ours', ours]] as const) {
        const gweb = await startGweb(registry, { interactivePort: gmetad.interactivePort, rrdRootdir: gmetad.rrdRootdir });
        daemons.push({ label, gmetad, gweb });
      }
      // Both have polled the first document and written the RRDs of both hosts.
      for (const { gmetad } of daemons) {
        await waitFor(async () => (await lastUpdate(rrd(gmetad, 'gone-node'))) === L0, { description: 'first RRD update', timeoutMs: 30_000 });
        await waitFor(async () => (await lastUpdate(rrd(gmetad, 'gone-cluster-node', 'load_one', GONE_CLUSTER))) === L0,
          { description: 'first RRD update of the other cluster', timeoutMs: 30_000 });
      }
      source.setBehaviour({ kind: 'serve', body: AFTER });
      for (const { gmetad } of daemons) {
        await waitFor(async () => (await gmetad.dump()).includes(`<CLUSTER NAME="${CLUSTER}" LOCALTIME="${L1}"`),
          { description: 'second document polled', timeoutMs: 30_000 });
      }
      // One more poll each, so that anything a poll would drop is gone.
      const polls = source.connections;
      await waitFor(() => source.connections >= polls + 4, { description: 'two more polls', timeoutMs: 30_000 });
    });
  });

  function rrd(gmetad: GmetadHandle, hostName: string, metric = 'load_one', cluster = CLUSTER): string {
    return path.join(gmetad.rrdRootdir, cluster, hostName, `${metric}.rrd`);
  }

  async function both<T>(probe: (d: (typeof daemons)[number]) => Promise<T>): Promise<{ c: T; ours: T }> {
    const [c, ours] = await Promise.all(daemons.map(probe));
    return { c, ours };
  }

  it('the absent host and the absent metric stay listed, with their last values, in both', async () => {
    const dumps = await both(({ gmetad }) => gmetad.dump());
    for (const [label, xml] of Object.entries(dumps)) {
      assert.match(xml, /<HOST NAME="gone-node" IP="10\.0\.0\.1" REPORTED="1795249997"/, `${label}: absent host kept`);
      assert.match(xml, /<METRIC NAME="load_one" VAL="1\.25"/, `${label}: its last value`);
      assert.match(xml, /<METRIC NAME="gmetric_once" VAL="7\.00"/, `${label}: absent metric kept`);
    }
  });

  it('cluster summaries count the same hosts and metrics', async (t) => {
    const summaries = await both(async ({ gmetad }) => {
      const xml = await gmetad.ask(`/${CLUSTER}?filter=summary\n`);
      return {
        hosts: /<HOSTS UP="(\d+)" DOWN="(\d+)"/.exec(xml)?.slice(1).join('/'),
        loadOne: /<METRICS NAME="load_one" SUM="([^"]*)" NUM="(\d+)"/.exec(xml)?.slice(1).join('/'),
      };
    });
    t.diagnostic(`HOSTS UP/DOWN and load_one SUM/NUM: C ${JSON.stringify(summaries.c)}, ours ${JSON.stringify(summaries.ours)}`);
    assert.deepEqual(summaries.ours, summaries.c);
  });

  it('a cluster the source stops listing stays served, with its host and its summary, in both; the grid counts the same', async (t) => {
    const dumps = await both(({ gmetad }) => gmetad.dump());
    for (const [label, xml] of Object.entries(dumps)) {
      assert.match(xml, new RegExp(`<CLUSTER NAME="${GONE_CLUSTER}" LOCALTIME="${L0}" OWNER="o2"`), `${label}: absent cluster kept`);
      assert.match(xml, /<HOST NAME="gone-cluster-node" IP="10\.0\.0\.2" REPORTED="1795249996"/, `${label}: its host kept`);
      assert.match(xml, /<METRIC NAME="load_one" VAL="2\.50"/, `${label}: its last value`);
    }
    const summaries = await both(async ({ gmetad }) => {
      const cluster = await gmetad.ask(`/${GONE_CLUSTER}?filter=summary\n`);
      const grid = await gmetad.ask('/?filter=summary\n');
      return {
        cluster: /<HOSTS UP="(\d+)" DOWN="(\d+)"/.exec(cluster)?.slice(1).join('/'),
        clusterLoad: /<METRICS NAME="load_one" SUM="([^"]*)" NUM="(\d+)"/.exec(cluster)?.slice(1).join('/'),
        grid: /<HOSTS UP="(\d+)" DOWN="(\d+)"/.exec(grid)?.slice(1).join('/'),
      };
    });
    t.diagnostic(`absent cluster and grid summaries: C ${JSON.stringify(summaries.c)}, ours ${JSON.stringify(summaries.ours)}`);
    assert.ok(summaries.c.cluster !== undefined && summaries.c.grid !== undefined);
    assert.deepEqual(summaries.ours, summaries.c);
    const answers = await both(({ gmetad }) => checkGangliaMetric(gmetad.xmlPort, 'gone-cluster-node', 'load_one'));
    assert.deepEqual(answers.ours, answers.c, 'check_ganglia_metric on its host');
  });

  it('check_ganglia_metric answers the same: the absent host is found with its last value', async () => {
    for (const [host, metric] of [['gone-node', 'load_one'], ['stays-node', 'gmetric_once'], ['stays-node', 'load_one'], ['never-node', 'load_one']]) {
      const answers = await both(({ gmetad }) => checkGangliaMetric(gmetad.xmlPort, host, metric));
      assert.deepEqual(answers.ours, answers.c, `${host} ${metric}`);
    }
    const gone = await checkGangliaMetric(daemons[1].gmetad.xmlPort, 'gone-node', 'load_one');
    assert.deepEqual(gone, { status: 0, text: 'OK: Title of load_one = 1.25 load' });
  });

  it("gweb's check_heartbeat answers the same: CRITICAL for the absent host, OK for the present one", async () => {
    for (const host of ['gone-node', 'stays-node', 'never-node']) {
      const answers = await both(async ({ gweb }) => (await gweb.get(`nagios/check_heartbeat.php?host=${host}&threshold=25`)).text.trim());
      assert.equal(answers.ours, answers.c, host);
    }
    const gone = await daemons[1].gweb.get('nagios/check_heartbeat.php?host=gone-node&threshold=25');
    assert.match(gone.text, /^CRITICAL\|Last beacon received/);
  });

  it('the RRDs of the absent host are no longer updated, in both', async () => {
    for (const { label, gmetad } of daemons) {
      assert.equal(await lastUpdate(rrd(gmetad, 'gone-node')), L0, `${label}: gone-node`);
      assert.equal(await lastUpdate(rrd(gmetad, 'stays-node', 'gmetric_once')), L0, `${label}: absent metric`);
      assert.equal(await lastUpdate(rrd(gmetad, 'stays-node')), L1, `${label}: stays-node`);
      assert.equal(await lastUpdate(rrd(gmetad, 'gone-cluster-node', 'load_one', GONE_CLUSTER)), L0, `${label}: host of the absent cluster`);
    }
  });
});
