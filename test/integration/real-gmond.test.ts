/**
 * Our daemon polling a real gmond 3.7.2: the XML port dump and the five requests gweb
 * sends to the interactive port (see /work/shared/gweb: `/?filter=summary`, `/`, `/C`,
 * `/C?filter=summary`, `/C/H`), plus /status.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startGmond, type GmondHandle } from '../helpers/gmond';
import { startOurGmetad } from '../helpers/our-gmetad';
import type { GmetadHandle } from '../helpers/c-gmetad';
import { ProcessRegistry, waitFor } from '../helpers/processes';
import { rawRequest } from '../helpers/net';
import {
  attr,
  attributeLayout,
  findAll,
  normalizeXml,
  parseGangliaXml,
  pick,
  prologOf,
  splitHttp,
  type XmlElement,
} from '../helpers/xml-normalize';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
const DTD_HEADER = fs.readFileSync(path.join(FIXTURES, 'dtd-header.txt'), 'latin1');
/** The C gmetad's element/attribute layout, from its captured XML port dump. */
const C_LAYOUT = attributeLayout(parseGangliaXml(fs.readFileSync(path.join(FIXTURES, 'gmetad-xmlport.xml'), 'latin1')));

const CLUSTER = 'RealGmondCluster';
const GRID = 'RealGrid';

describe('our gmetad polling a real gmond', () => {
  const registry = new ProcessRegistry();
  after(() => registry.cleanup());
  let gmond: GmondHandle;
  let gmetad: GmetadHandle;
  /** The HOST NAME gmond reports for this machine. */
  let hostName: string;

  before(() =>
    registry.explain(async () => {
      gmond = await startGmond(registry, {
        cluster: CLUSTER,
        owner: 'Real Owner',
        latlong: 'N1 E2',
        url: 'http://real.example/',
        location: '0,1,2',
      });
      const gmondHosts = findAll(parseGangliaXml(await gmond.dump()), 'HOST');
      assert.equal(gmondHosts.length, 1, 'gmond lists exactly its own host');
      hostName = attr(gmondHosts[0]!, 'NAME')!;
      gmetad = await startOurGmetad(registry, {
        gridname: GRID,
        dataSources: [{ name: 'real-ds', step: 2, addresses: [`127.0.0.1:${gmond.tcpPort}`] }],
        expectNames: [CLUSTER],
      });
    }),
  );

  /** Interactive request; asserts gweb's expectation that the server closes after answering. */
  async function ask(request: string): Promise<string> {
    const reply = await rawRequest(gmetad.interactivePort, request);
    assert.equal(reply.ended, 'eof', `${JSON.stringify(request)}: server must answer and close`);
    return reply.data.toString('latin1');
  }

  function metricNames(host: XmlElement | undefined): string[] {
    return (host?.children ?? []).filter((c) => c.name === 'METRIC').map((m) => attr(m, 'NAME')!).sort();
  }

  it('serves the full tree on the XML port with the C prolog and layout', () =>
    registry.explain(async () => {
      const dump = await gmetad.dump();
      assert.equal(prologOf(dump), DTD_HEADER, 'prolog + DTD byte-identical to the C gmetad');
      assert.ok(dump.endsWith('</GRID>\n</GANGLIA_XML>\n'));
      const root = parseGangliaXml(dump);
      assert.deepEqual(root.attrs, [['VERSION', '3.7.2'], ['SOURCE', 'gmetad']]);
      const grid = pick(root, `GRID:${GRID}`);
      assert.ok(grid, 'root GRID named after gridname');
      const cluster = pick(grid, `CLUSTER:${CLUSTER}`);
      assert.ok(cluster, 'CLUSTER named after the gmond cluster, not the data_source');
      assert.equal(attr(cluster, 'OWNER'), 'Real Owner');
      assert.equal(attr(cluster, 'LATLONG'), 'N1 E2');
      assert.equal(attr(cluster, 'URL'), 'http://real.example/');
      // On the XML port local clusters carry hosts, never HOSTS/METRICS summaries.
      assert.deepEqual([...new Set(cluster.children.map((c) => c.name))], ['HOST']);
      const host = pick(cluster, `HOST:${hostName}`);
      assert.ok(host);
      assert.equal(attr(host, 'LOCATION'), '0,1,2');
      assert.ok(metricNames(host).includes('load_one'));
      // Every element type prints its attributes in the C gmetad's order.
      const layout = attributeLayout(root);
      for (const [element, layouts] of Object.entries(layout)) {
        assert.deepEqual(layouts, C_LAYOUT[element], `attribute order of ${element}`);
      }
    }));

  it('keeps every metric gmond reports', () =>
    registry.explain(async () => {
      // gmond may gain a metric between two polls, so wait for a poll that has caught up.
      await waitFor(
        async () => {
          const ours = metricNames(pick(parseGangliaXml(await gmetad.dump()), `GRID:${GRID}`, `CLUSTER:${CLUSTER}`, `HOST:${hostName}`));
          const theirs = metricNames(pick(parseGangliaXml(await gmond.dump()), `CLUSTER:${CLUSTER}`, `HOST:${hostName}`));
          return JSON.stringify(ours) === JSON.stringify(theirs) || undefined;
        },
        { timeoutMs: 10_000, intervalMs: 500, description: 'the gmetad host to list the same metrics as gmond' },
      );
    }));

  it('answers /?filter=summary with root and cluster summaries (gweb main view)', () =>
    registry.explain(async () => {
      // The root summary is recomputed periodically, so it may lag the first poll.
      const root = await waitFor(
        async () => {
          const reply = await ask('/?filter=summary\n');
          const doc = parseGangliaXml(reply);
          const hosts = pick(doc, `GRID:${GRID}`, 'HOSTS');
          return hosts && attr(hosts, 'UP') === '1' ? { reply, doc } : undefined;
        },
        { timeoutMs: 10_000, description: 'root HOSTS UP=1' },
      );
      assert.ok(!root.reply.startsWith('HTTP/'), 'plain requests get no HTTP header');
      assert.equal(prologOf(root.reply), DTD_HEADER);
      const grid = pick(root.doc, `GRID:${GRID}`)!;
      assert.deepEqual(grid.children[0]!.attrs, [['UP', '1'], ['DOWN', '0'], ['SOURCE', 'gmetad']]);
      const cluster = pick(grid, `CLUSTER:${CLUSTER}`)!;
      assert.ok(cluster, 'cluster listed under the root summary');
      assert.equal(findAll(cluster, 'HOST').length, 0, 'summary form has no hosts');
      assert.deepEqual(pick(cluster, 'HOSTS')!.attrs, [['UP', '1'], ['DOWN', '0'], ['SOURCE', 'gmetad']]);
      for (const level of [grid, cluster]) {
        const loadOne = level.children.find((c) => c.name === 'METRICS' && attr(c, 'NAME') === 'load_one');
        assert.ok(loadOne, `load_one summary under ${level.name}`);
        assert.equal(attr(loadOne, 'NUM'), '1');
        assert.equal(attr(loadOne, 'TYPE'), 'double');
        assert.match(attr(loadOne, 'SUM')!, /^\d+\.\d\d$/, 'SUM printed with the VAL precision (2 decimals)');
      }
    }));

  it('answers / with the same tree as the XML port (gweb search/compare views)', () =>
    registry.explain(async () => {
      // Values and TN may move between the two reads; the structure must not.
      const options = {
        maskAttributes: ['TN', 'LOCALTIME', 'VAL', 'REPORTED'],
      };
      await waitFor(
        async () => normalizeXml(await ask('/\n'), options) === normalizeXml(await gmetad.dump(), options) || undefined,
        { timeoutMs: 8_000, intervalMs: 500, description: '/ and the XML port dump to agree' },
      );
    }));

  it('answers /CLUSTER with only that cluster and its hosts (gweb cluster view)', () =>
    registry.explain(async () => {
      const doc = parseGangliaXml(await ask(`/${CLUSTER}\n`));
      const grid = pick(doc, `GRID:${GRID}`)!;
      assert.deepEqual(grid.children.map((c) => `${c.name}:${attr(c, 'NAME')}`), [`CLUSTER:${CLUSTER}`]);
      const cluster = grid.children[0]!;
      assert.ok(pick(cluster, `HOST:${hostName}`), 'hosts included');
      assert.ok(metricNames(pick(cluster, `HOST:${hostName}`)).includes('load_one'));
    }));

  it('answers /CLUSTER?filter=summary with HOSTS and METRICS only', () =>
    registry.explain(async () => {
      const doc = parseGangliaXml(await ask(`/${CLUSTER}?filter=summary\n`));
      const cluster = pick(doc, `GRID:${GRID}`, `CLUSTER:${CLUSTER}`)!;
      assert.ok(cluster);
      const kinds = new Set(cluster.children.map((c) => c.name));
      assert.deepEqual([...kinds].sort(), ['HOSTS', 'METRICS']);
      assert.equal(attr(pick(cluster, 'HOSTS')!, 'UP'), '1');
      assert.equal(attr(pick(cluster, 'METRICS:load_one')!, 'NUM'), '1');
    }));

  it('answers /CLUSTER/HOST with that host and all its metrics (gweb host view)', () =>
    registry.explain(async () => {
      const doc = parseGangliaXml(await ask(`/${CLUSTER}/${hostName}\n`));
      const cluster = pick(doc, `GRID:${GRID}`, `CLUSTER:${CLUSTER}`)!;
      assert.deepEqual(cluster.children.map((c) => `${c.name}:${attr(c, 'NAME')}`), [`HOST:${hostName}`]);
      const host = cluster.children[0]!;
      for (const key of ['REPORTED', 'GMOND_STARTED', 'IP', 'LOCATION', 'TN', 'TMAX']) {
        assert.ok(attr(host, key) !== undefined, `HOST ${key} (read by gweb)`);
      }
      assert.ok(Number(attr(host, 'TN')) < 4 * Number(attr(host, 'TMAX')), 'host is up by gweb\'s rule');
      assert.ok(metricNames(host).length >= 10, 'all metrics of the host');
    }));

  it('answers /status with the C JSON shape and counts successful polls', () =>
    registry.explain(async () => {
      const { header, body } = splitHttp(await ask('/status\n'));
      assert.ok(header, '/status always has an HTTP header');
      assert.match(header, /^HTTP\/1\.0 200 OK\r\n/);
      assert.match(header, /Content-Type: application\/json\r\n/);
      const status = JSON.parse(body) as Record<string, unknown>;
      assert.equal(status.gridname, GRID);
      assert.equal(status.version, '3.7.2-1');
      // As in 3.7.2, everything but the identity fields is nested under "metrics" (keys
      // added after these are our extensions).
      assert.deepEqual(
        Object.keys(status).slice(0, 8),
        ['host', 'gridname', 'version', 'stattime', 'boottime', 'uptime', 'uptimeMillis', 'metrics'],
      );
      const metrics = status.metrics as Record<string, unknown>;
      for (const key of ['received', 'sent', 'summarize', 'requests', 'polls', 'cpu', 'load', 'memory']) {
        assert.ok(key in metrics, `/status metrics.${key} in ${body}`);
      }
      const polls = metrics.polls as { ok: { num: number } };
      assert.ok(polls.ok.num > 0, `polls.ok.num = ${polls.ok.num}`);
    }));

  // Last: it stops the daemon the other tests use.
  it('exits 0 on SIGTERM', () =>
    registry.explain(async () => {
      const status = await gmetad.process.stop(5_000);
      assert.deepEqual(status, { code: 0, signal: null }, 'clean exit, not killed');
    }));
});
