/**
 * The influxdb exporter through the real daemon into real servers: InfluxDB 1.6 (v1 write
 * API, with authentication) read back with InfluxQL, and VictoriaMetrics' InfluxDB v2 write
 * API (configured by the INFLUXDB_* environment variables alone, and by a section) read
 * back with PromQL. Every numeric value of every up host arrives, with the summaries; the
 * SIGTERM flush delivers every poll; two polls within one second stay two points; a refused
 * write (bad password) is not retried.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { BUILTIN_PLUGINS } from '../../src/plugins/builtins';
import { PluginManager } from '../../src/plugins/manager';
import { Store } from '../../src/store/store';
import { DaemonStats } from '../../src/util/stats';
import { startFakeGmond } from '../helpers/fake-gmond';
import { freePort, rawRequest } from '../helpers/net';
import { OUR_GMETAD_MAIN } from '../helpers/our-gmetad';
import { registryFor, waitFor, type ProcessRegistry } from '../helpers/processes';
import { cluster, host, metric, snapshot, T_NOW } from '../helpers/tree-builders';
import { promQuery, startInfluxdb1, startVictoriaMetrics, victoriaFlush, type Receiver } from '../helpers/receivers';
import { CLUSTER_NAME, clusterXml, expectedHostValues, GRIDNAME, gridXml, REMOTE_GRID, summarisedMetrics } from './push-fixtures';

interface Status {
  metrics: { polls: { ok: { num: number } } };
  plugins: Record<string, Record<string, number | string>>;
}

/** Environment of a daemon: ours without any INFLUXDB_* variable, plus `extra`. */
function daemonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFLUXDB_')));
  return { ...env, ...extra };
}

async function startDaemon(registry: ProcessRegistry, sources: string[], section: string[], env = daemonEnv()) {
  const dir = registry.tempDir('influxdb-conf');
  const interactivePort = await freePort();
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, [
    ...sources, `gridname "${GRIDNAME}"`, `xml_port ${await freePort()}`, `interactive_port ${interactivePort}`,
    'setuid off', 'write_rrds off', ...section, '',
  ].join('\n'));
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-d', '1', '-c', conf], { env });
  const status = async (): Promise<Status> =>
    JSON.parse((await rawRequest(interactivePort, '/status\n')).data.toString('latin1').split('\r\n\r\n')[1]) as Status;
  return { child, status, conf };
}

test('influxdb v1 into InfluxDB 1.6 with a password: every host value and summary, every poll, read back with InfluxQL', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const influx = await startInfluxdb1(registry, { databases: ['ganglia'], admin: { user: 'gmetad', password: 's3cret' } });
    const now = Math.floor(Date.now() / 1000);
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(now) });
    t.after(() => cluster.close());
    const { child, status } = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], [
      'influxdb {',
      `  url "${influx.base}"`,
      '  database "ganglia"',
      '  username "gmetad"',
      '  password "s3cret"',
      '  batch_size 10', // several requests per poll
      '}',
    ]);
    await waitFor(async () => (await status()).metrics.polls.ok.num >= 3, { process: child, description: 'three polls' });
    cluster.setBehaviour({ kind: 'reset' }); // no more polls: polls.ok is final
    await new Promise((r) => setTimeout(r, 1_500));
    const polls = (await status()).metrics.polls.ok.num;
    process.kill(child.pid, 'SIGTERM');
    assert.equal((await child.exited).code, 0, child.output());

    const expected = expectedHostValues();
    const hostSeries = await influx.query('ganglia', 'SELECT * FROM "ganglia" GROUP BY *');
    assert.deepEqual(hostSeries.map((s) => s.tags?.host).sort(), [...expected.keys()].sort());
    for (const series of hostSeries) {
      assert.deepEqual(series.tags, { cluster: CLUSTER_NAME, grid: GRIDNAME, host: series.tags!.host });
      const want = expected.get(series.tags!.host)!;
      assert.deepEqual([...series.columns].sort(), ['time', ...want.keys()].sort());
      assert.equal(series.values.length, polls, 'one point per poll');
      for (const row of series.values) {
        const got = new Map(series.columns.map((c, i) => [c, row[i]] as const).filter(([c]) => c !== 'time'));
        assert.deepEqual(got, want, series.tags!.host);
      }
    }
    // Two summary series: the cluster's, and the root's (no cluster tag).
    const summaries = await influx.query('ganglia', 'SELECT * FROM "ganglia_summary" GROUP BY *');
    assert.deepEqual(summaries.map((s) => s.tags), [{ cluster: '', grid: GRIDNAME }, { cluster: CLUSTER_NAME, grid: GRIDNAME }]);
    const summary = summaries.filter((s) => s.tags?.cluster === CLUSTER_NAME);
    assert.equal(summary[0].values.length, polls);
    const last = new Map(summary[0].columns.map((c, i) => [c, summary[0].values[0][i]] as const));
    assert.equal(last.get('hosts_up'), 2);
    assert.equal(last.get('hosts_down'), 1);
    assert.equal(last.get('load_one_sum'), 2);
    assert.equal(last.get('load_one_num'), 2);
    assert.equal(summary[0].columns.length, 1 + 2 + 2 * summarisedMetrics().size);
    // The root summary: everything this daemon holds (while the source answered; a dead one leaves it).
    const root = await influx.query('ganglia', `SELECT MAX(hosts_up), MAX(load_one_sum) FROM "ganglia_summary" WHERE "cluster" = '' AND "grid" = '${GRIDNAME}'`);
    assert.equal(root.length, 1);
    assert.deepEqual(root[0].values[0].slice(1), [2, 2]);
  });
});

test('two polls of a source that start within one second stay two points, the second 1 ms later', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const influx = await startInfluxdb1(registry, { databases: ['ganglia'] });
    // The plugin chain as the daemon wires it, fed two polls whose start times share a second
    // (a 1 s step with its jitter can do that; the real poller cannot be made to on demand).
    const { config } = parseConfig(['data_source "a" 1 127.0.0.1:9', 'write_rrds off',
      'influxdb {', `  url "${influx.base}"`, '  database "ganglia"', '}', ''].join('\n'), 'gmetad.conf');
    const store = new Store({ gridname: GRIDNAME, authority: 'http://g/' });
    store.setSources(config.dataSources);
    const manager = new PluginManager({
      logger: pino({ level: 'silent' }), stats: new DaemonStats(), currentView: () => store.view(), builtins: BUILTIN_PLUGINS,
    });
    store.onUpdate(({ snapshot: s, view }) => manager.notify({ kind: 'source', snapshot: s, step: 1, view }));
    await manager.load(config);
    await manager.start();
    const poll = (val: string, polledAt: number) =>
      store.publish(snapshot('a', [cluster('C', [host('h1', [metric('load_one', { val })])])], polledAt));
    poll('0.5', T_NOW + 0.02);
    poll('0.7', T_NOW + 0.97);
    poll('0.9', T_NOW + 1.5);
    await manager.shutdown(); // flushes the queue into InfluxDB

    const [series] = await influx.query('ganglia', 'SELECT load_one FROM "ganglia"', 'ms');
    assert.deepEqual(series.values, [[T_NOW * 1000, 0.5], [T_NOW * 1000 + 1, 0.7], [(T_NOW + 1) * 1000, 0.9]]);
  });
});

test('influxdb v1 with a wrong password: the 401 is counted as rejected, not retried', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const influx = await startInfluxdb1(registry, { databases: ['ganglia'], admin: { user: 'gmetad', password: 's3cret' } });
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(Math.floor(Date.now() / 1000)) });
    t.after(() => cluster.close());
    const { child, status } = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], [
      'influxdb {', `  url "${influx.base}"`, '  database "ganglia"', '  username "gmetad"', '  password "wrong"', '}',
    ]);
    const counters = await waitFor(async () => {
      const c = (await status()).plugins.influxdb;
      return Number(c.requests) >= 2 ? c : null;
    }, { process: child, description: 'two write requests' });
    assert.equal(counters.retries, 0);
    assert.equal(counters.sent, 0);
    assert.ok(Number(counters.rejected) > 0);
    assert.match(String(counters.lastError), /^HTTP 401/);
    assert.deepEqual(await influx.query('ganglia', 'SELECT * FROM "ganglia"'), []);
  });
});

test('influxdb v2 from the environment alone (INFLUXDB_URL, _ORG, _BUCKET, _TOKEN) into VictoriaMetrics /api/v2/write', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const vm = await startVictoriaMetrics(registry);
    const now = Math.floor(Date.now() / 1000);
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(now) });
    t.after(() => cluster.close());
    const grid = await startFakeGmond({ kind: 'serve', body: gridXml(now) });
    t.after(() => grid.close());
    const { child, status } = await startDaemon(registry, [
      `data_source "exp" 1 127.0.0.1:${cluster.port}`, `data_source "remote" 1 127.0.0.1:${grid.port}`,
    ], [], daemonEnv({ INFLUXDB_URL: vm.base, INFLUXDB_ORG: 'my-org', INFLUXDB_BUCKET: 'ganglia', INFLUXDB_TOKEN: 'tok' }));

    await waitFor(async () => {
      await victoriaFlush(vm);
      return (await promQuery(vm, 'ganglia_load_one')).length === 2
        && (await promQuery(vm, `ganglia_summary_hosts_up{grid="${GRIDNAME}", cluster=""}`)).length === 1;
    }, { process: child, timeoutMs: 30_000, description: 'points in VictoriaMetrics' });

    for (const [host, values] of expectedHostValues()) {
      const series = await promQuery(vm, `{__name__=~"ganglia_.*", host="${host}"}`);
      const got = new Map<string, number>();
      for (const s of series) {
        const { __name__: name, ...labels } = s.metric;
        assert.deepEqual(labels, { cluster: CLUSTER_NAME, grid: GRIDNAME, host }, JSON.stringify(s.metric));
        got.set(name.slice('ganglia_'.length), Number(s.value[1]));
      }
      assert.deepEqual(got, values, host);
    }
    const c = `cluster="${CLUSTER_NAME}", grid="${GRIDNAME}"`;
    const one = async (q: string) => Number((await promQuery(vm, q))[0]?.value[1]);
    assert.equal(await one(`ganglia_summary_load_one_sum{${c}}`), 2);
    assert.equal(await one(`ganglia_summary_hosts_down{${c}}`), 1);
    assert.equal(await one(`ganglia_summary_load_one_sum{grid="${REMOTE_GRID}", cluster=""}`), 6);
    assert.equal(await one(`ganglia_summary_hosts_up{grid="${GRIDNAME}", cluster=""}`), 4);

    const counters = (await status()).plugins.influxdb;
    assert.equal(counters.version, 2);
    assert.equal(counters.droppedValues, 0);
    assert.equal(counters.rejected, 0);
    assert.ok(Number(counters.sent) > 0);
    assert.match(child.output(), /influxdb: writing line protocol.*url=http:\/\/127\.0\.0\.1:\d+\/api\/v2\/write.*version=2.*org my-org, bucket ganglia/);
    process.kill(child.pid, 'SIGTERM');
    assert.equal((await child.exited).code, 0, child.output());
  });
});

test('influxdb v2 from a section, without gzip, into VictoriaMetrics; the section wins over the environment', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const vm = await startVictoriaMetrics(registry);
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(Math.floor(Date.now() / 1000)) });
    t.after(() => cluster.close());
    const { child } = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], [
      'influxdb {', `  url "${vm.base}"`, '  org "o"', '  bucket "metrics"', '  token "t"', '  measurement "gmetad"', '  gzip off', '}',
    ], daemonEnv({ INFLUXDB_URL: 'http://127.0.0.1:9/', INFLUXDB_BUCKET: 'ignored' }));
    await waitFor(async () => {
      await victoriaFlush(vm);
      return (await promQuery(vm, 'gmetad_load_one')).length === 2;
    }, { process: child, timeoutMs: 30_000, description: 'points in VictoriaMetrics' });
    assert.equal(Number((await promQuery(vm, 'gmetad_load_one{host="node-2"}'))[0].value[1]), 1.5);
  });
});

test('INFLUXDB_URL without INFLUXDB_BUCKET stops start-up with one line saying what is missing', (t) => {
  const dir = registryFor(t).tempDir('influx-env-bad');
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, 'data_source "a" 127.0.0.1:9\nsetuid off\nwrite_rrds off\n');
  const r = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], {
    encoding: 'utf8', timeout: 20_000, env: daemonEnv({ INFLUXDB_URL: 'http://127.0.0.1:9', INFLUXDB_ORG: 'o' }),
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'gmetad: plugin influxdb: INFLUXDB_URL is set but INFLUXDB_BUCKET is not: '
    + 'set bucket in the influxdb section or INFLUXDB_BUCKET in the environment (for example "ganglia"), or database for InfluxDB 1.x');
});

test('SIGHUP: a new measurement and a new server take effect without losing the counters', async (t) => {
  const registry = registryFor(t);
  await registry.explain(async () => {
    const [first, second] = await Promise.all([startVictoriaMetrics(registry), startVictoriaMetrics(registry)]);
    const cluster = await startFakeGmond({ kind: 'serve', body: clusterXml(Math.floor(Date.now() / 1000)) });
    t.after(() => cluster.close());
    const section = (url: string, measurement: string) => ['influxdb {', `  url "${url}"`, '  org "o"', '  bucket "b"', `  measurement "${measurement}"`, '}'];
    const { child, status, conf } = await startDaemon(registry, [`data_source "exp" 1 127.0.0.1:${cluster.port}`], section(first.base, 'before'));
    const hosts = async (r: Receiver, q: string) => {
      await victoriaFlush(r);
      return (await promQuery(r, q)).length;
    };
    await waitFor(async () => (await hosts(first, 'before_load_one')) === 2, { process: child, description: 'points in the first server' });
    const sentBefore = Number((await status()).plugins.influxdb.sent);
    const text = fs.readFileSync(conf, 'utf8');
    fs.writeFileSync(conf, text.replace(first.base, second.base).replace('"before"', '"after"'));
    process.kill(child.pid, 'SIGHUP');
    await waitFor(async () => (await hosts(second, 'after_load_one')) === 2, { process: child, description: 'points in the second server' });
    assert.ok(Number((await status()).plugins.influxdb.sent) > sentBefore);
    assert.equal(await hosts(second, 'before_load_one'), 0);
    process.kill(child.pid, 'SIGTERM');
    assert.equal((await child.exited).code, 0, child.output());
  });
});
