/**
 * The Prometheus exporters against the real receivers: the real Prometheus 2.42 scrapes
 * /metrics (fed by a real gmond and a scripted one) and the test reads every kind of family
 * back through its HTTP API, including hosts that go away and a source that dies; promtool
 * checks the exposition; node_exporter 1.5 serves the textfile plugin's .prom file.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { startFakeGmond } from '../helpers/fake-gmond';
import { startGmond } from '../helpers/gmond';
import { freePort } from '../helpers/net';
import { OUR_GMETAD_MAIN } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { promtoolCheck, startNodeExporter, startPrometheus, type PromSample } from '../helpers/prometheus';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ALPHA = fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'anchor', 'gmond.xml'), 'latin1');
/** The same document without FakeHost2: a host that went away. */
const ALPHA_WITHOUT_FAKEHOST2 = ALPHA.replace(/<HOST NAME="FakeHost2"[\s\S]*?<\/HOST>\n?/, '');

function gmetadConf(lines: readonly string[]): string[] {
  return ['setuid off', 'write_rrds off', 'gridname "PromGrid"', ...lines];
}

function values(samples: readonly PromSample[]): Map<string, number> {
  return new Map(samples.map((s) => [s.metric.host ?? s.metric.cluster ?? s.metric.source ?? '', Number(s.value[1])]));
}

function getGzip(port: number, urlPath: string): Promise<{ encoding: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: urlPath, headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('a real Prometheus scrapes /metrics: host metrics in base units, summaries, health; gone hosts and dead sources disappear', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const gmond = await startGmond(registry, { cluster: 'RealCluster', hostname: 'realhost' });
    const alpha = await startFakeGmond({ kind: 'serve', body: ALPHA });
    t.after(() => alpha.close());
    const promPort = await freePort();
    const dir = registry.tempDir('prom-exporter');
    const conf = path.join(dir, 'gmetad.conf');
    fs.writeFileSync(conf, gmetadConf([
      `data_source "real" 1 127.0.0.1:${gmond.tcpPort}`,
      `data_source "alpha" 1 127.0.0.1:${alpha.port}`,
      `xml_port ${await freePort()}`,
      `interactive_port ${await freePort()}`,
      'prometheus {',
      `  port ${promPort}`,
      '  address 127.0.0.1',
      '}',
    ]).join('\n'));
    const gmetad = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf]);
    const scrape = async () => (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
    const text = await waitFor(async () => {
      const body = await scrape().catch(() => '');
      return body.includes('host="realhost"') && body.includes('host="FakeHost2"') ? body : null;
    }, { process: gmetad, description: 'both sources in /metrics', timeoutMs: 30_000 });

    // The exposition passes promtool's parser and its lint (names, units, HELP, suffixes).
    assert.deepEqual(promtoolCheck(text), { status: 0, output: '' });
    const gz = await getGzip(promPort, '/metrics');
    assert.equal(gz.encoding, 'gzip');
    assert.match(zlib.gunzipSync(gz.body).toString('utf8'), /^ganglia_load_one\{grid="PromGrid",cluster="AlphaCluster",host="FakeHost2"\} /m);

    const prom = await startPrometheus(registry, [`127.0.0.1:${promPort}`]);
    const q = prom.query;
    const load = await waitFor(async () => {
      const r = await q('ganglia_load_one');
      return r.length === 4 ? r : null;
    }, { process: prom.process, timeoutMs: 60_000, description: 'ganglia_load_one of the 4 hosts in Prometheus' });
    const real = load.find((s) => s.metric.host === 'realhost')!;
    assert.deepEqual({ ...real.metric }, { __name__: 'ganglia_load_one', grid: 'PromGrid', cluster: 'RealCluster', host: 'realhost', job: 'gmetad', instance: `127.0.0.1:${promPort}` });
    assert.deepEqual([...values(load).keys()].sort(), ['DeadHost3', 'FakeHost2', 'localhost', 'realhost']);

    // Units: gmond's mem_total is in KB, cpu_user in %: bytes and a ratio in Prometheus.
    const xml = await gmond.dump();
    const kb = Number(/<METRIC NAME="mem_total" VAL="([^"]+)"/.exec(xml)![1]);
    const memTotal = await q('ganglia_mem_total_bytes{host="realhost"}');
    assert.equal(Number(memTotal[0].value[1]), kb * 1024);
    const cpuUser = Number((await q('ganglia_cpu_user_ratio{host="realhost"}'))[0].value[1]);
    assert.ok(cpuUser >= 0 && cpuUser <= 1, String(cpuUser));
    // Summaries: AlphaCluster has 3 hosts up and load_one summed to 10.63 (anchor capture).
    assert.equal(Number((await q('ganglia_cluster_hosts{cluster="AlphaCluster",state="up"}'))[0].value[1]), 3);
    assert.equal(Number((await q('ganglia_cluster_load_one{cluster="AlphaCluster"}'))[0].value[1]), 10.63);
    assert.equal(Number((await q('ganglia_cluster_metric_hosts{cluster="AlphaCluster",metric="load_one"}'))[0].value[1]), 3);
    assert.equal(Number((await q('ganglia_grid_hosts{grid="PromGrid",state="up"}'))[0].value[1]), 4);
    // The daemon's health.
    assert.ok(Number((await q('gmetad_polls_total{result="ok"}'))[0].value[1]) > 0);
    assert.deepEqual(values(await q('gmetad_source_up')), new Map([['real', 1], ['alpha', 1]]));
    assert.equal((await q('gmetad_plugin_events_total{plugin="prometheus"}')).length, 1);

    // A host that goes away disappears at the next scrape (Prometheus marks it stale).
    alpha.setBehaviour({ kind: 'serve', body: ALPHA_WITHOUT_FAKEHOST2 });
    await waitFor(async () => {
      const hosts = values(await q('ganglia_load_one{cluster="AlphaCluster"}'));
      return hosts.size === 2 && !hosts.has('FakeHost2') ? true : null;
    }, { process: gmetad, timeoutMs: 30_000, description: 'FakeHost2 gone from Prometheus' });

    // A source that dies: its hosts and summaries go, its gmetad_source_up turns 0.
    alpha.setBehaviour({ kind: 'reset' });
    await waitFor(async () => {
      const up = values(await q('gmetad_source_up'));
      const hosts = values(await q('ganglia_load_one'));
      return up.get('alpha') === 0 && hosts.size === 1 && hosts.has('realhost') ? true : null;
    }, { process: gmetad, timeoutMs: 30_000, description: 'the dead source\'s hosts gone' });
    assert.deepEqual(await q('ganglia_cluster_hosts{cluster="AlphaCluster"}'), []);

    process.kill(gmetad.pid, 'SIGTERM');
    assert.equal((await gmetad.exited).code, 0, gmetad.output());
  });
});

test('prometheus_textfile: an atomically replaced .prom file that node_exporter serves', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const alpha = await startFakeGmond({ kind: 'serve', body: ALPHA });
    t.after(() => alpha.close());
    const dir = registry.tempDir('prom-textfile');
    const textDir = path.join(dir, 'textfile');
    fs.mkdirSync(textDir);
    const conf = path.join(dir, 'gmetad.conf');
    fs.writeFileSync(conf, gmetadConf([
      `data_source "alpha" 1 127.0.0.1:${alpha.port}`,
      `xml_port ${await freePort()}`,
      `interactive_port ${await freePort()}`,
      'prometheus_textfile {',
      `  dir "${textDir}"`,
      '}',
    ]).join('\n'));
    const gmetad = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf]);
    const file = path.join(textDir, 'gmetad.prom');
    const text = await waitFor(() => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null),
      { process: gmetad, timeoutMs: 30_000, description: 'gmetad.prom written' });
    assert.deepEqual(promtoolCheck(text), { status: 0, output: '' });
    assert.doesNotMatch(text, /^process_/m, 'node_exporter has its own process_* metrics');

    const exporter = await startNodeExporter(registry, textDir);
    // node_exporter re-renders with labels sorted; every scrape while the file is rewritten
    // each second reads a whole file (a half-written one would be a parse error).
    for (let i = 0; i < 12; i++) {
      const metrics = await exporter.metrics();
      assert.match(metrics, /^node_textfile_scrape_error 0$/m);
      assert.match(metrics, /^ganglia_load_one\{cluster="AlphaCluster",grid="PromGrid",host="FakeHost2"\} 0\.\d+$/m);
      assert.match(metrics, /^ganglia_cluster_hosts\{cluster="AlphaCluster",grid="PromGrid",state="up"\} 3$/m);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Only the .prom file is left in the directory (the temporary one was renamed).
    assert.deepEqual(fs.readdirSync(textDir), ['gmetad.prom']);

    // A host that goes away is gone from the next file.
    alpha.setBehaviour({ kind: 'serve', body: ALPHA_WITHOUT_FAKEHOST2 });
    await waitFor(async () => (!(await exporter.metrics()).includes('host="FakeHost2"') ? true : null),
      { process: gmetad, timeoutMs: 30_000, description: 'FakeHost2 gone from node_exporter' });
    process.kill(gmetad.pid, 'SIGTERM');
    assert.equal((await gmetad.exited).code, 0, gmetad.output());
  });
});
