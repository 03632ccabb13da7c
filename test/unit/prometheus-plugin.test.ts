/**
 * The prometheus plugin's HTTP side: /metrics (plain and gzip, HEAD), other paths and
 * methods, settings errors with file:line, a port already taken, and SIGHUP moving it to
 * another port (new one first; the old one closes).
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import type { GmetadConfig } from '../../src/config/types';
import { contextFor } from '../../src/plugins/loader';
import { createPrometheusPlugin } from '../../src/plugins/prometheus/plugin';
import { Store } from '../../src/store/store';
import { DaemonStats } from '../../src/util/stats';
import { freePort } from '../helpers/net';
import { cluster, host, metric, snapshot, T_NOW } from '../helpers/tree-builders';

const FILE = '/etc/ganglia/gmetad.conf';
const logger = pino({ level: 'silent' });

function config(section: string): GmetadConfig {
  return parseConfig(`data_source "a" 127.0.0.1:9\nwrite_rrds off\n${section}`, FILE).config;
}

function request(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function setup(c: GmetadConfig) {
  const store = new Store({ gridname: 'G', authority: 'a' });
  store.setSources(c.dataSources);
  store.publish(snapshot('a', [cluster('C', [host('h1', [metric('load_one', { val: '0.5', units: '' })])])]));
  const stats = new DaemonStats();
  const context = (cfg: GmetadConfig) => contextFor('prometheus', { config: cfg, logger, stats, currentView: () => store.view(), clock: () => T_NOW * 1000 });
  return { context };
}

test('/metrics in the text format, gzipped on request; HEAD, 404 and 405', async () => {
  const port = await freePort();
  const c = config(`prometheus {\n  port ${port}\n  address 127.0.0.1\n}`);
  const plugin = await createPrometheusPlugin(setup(c).context(c));
  try {
    const plain = await request(port, 'GET', '/metrics');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(Number(plain.headers['content-length']), plain.body.length);
    assert.match(plain.body.toString(), /^ganglia_load_one\{grid="G",cluster="C",host="h1"\} 0\.5$/m);
    assert.match(plain.body.toString(), /^gmetad_source_up\{source="a"\} 1$/m);
    const gz = await request(port, 'GET', '/metrics', { 'Accept-Encoding': 'gzip, deflate' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(zlib.gunzipSync(gz.body).toString(), /^ganglia_load_one\{grid="G",cluster="C",host="h1"\} 0\.5$/m);
    const head = await request(port, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal((await request(port, 'GET', '/nope')).status, 404);
    assert.equal((await request(port, 'POST', '/metrics')).status, 405);
    assert.match((await request(port, 'GET', '/')).body.toString(), /href="\/metrics"/);
    const status = plugin.status!();
    assert.equal(status.scrapes, 3); // GET, gzip GET, HEAD
    assert.ok(Number(status.renders) >= 1 && Number(status.renders) <= 3, `renders ${status.renders}`);
    assert.equal(status.port, port);
  } finally {
    await plugin.stop!();
  }
});

test('settings errors name file:line; a port already in use stops the plugin with one line', async () => {
  const cases: [string, string][] = [
    ['prometheus {\n  address 127.0.0.1\n}', `${FILE}:3: prometheus: "port" is required`],
    ['prometheus {\n  port 70000\n}', `${FILE}:4: prometheus { port }: expected a whole number from 1 to 65535, got "70000"`],
    ['prometheus {\n  port 9\n  prefix 9bad\n}', `${FILE}:5: prometheus { prefix }: not a valid metric name prefix: "9bad"`],
    ['prometheus {\n  port 9\n  path metrics\n}', `${FILE}:5: prometheus { path }: must start with "/": "metrics"`],
  ];
  for (const [section, message] of cases) {
    const c = config(section);
    await assert.rejects(createPrometheusPlugin(setup(c).context(c)), { message });
  }
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const c = config(`prometheus {\n  port ${port}\n  address 127.0.0.1\n}`);
    await assert.rejects(createPrometheusPlugin(setup(c).context(c)), { message: `port ${port}: address already in use` });
  } finally {
    taken.close();
  }
});

test('SIGHUP moves /metrics to its new port; a new port that is taken keeps the old one serving', async () => {
  const [first, second] = [await freePort(), await freePort()];
  const c1 = config(`prometheus {\n  port ${first}\n  address 127.0.0.1\n}`);
  const { context } = setup(c1);
  const plugin = await createPrometheusPlugin(context(c1));
  try {
    await plugin.reload!(context(config(`prometheus {\n  port ${second}\n  address 127.0.0.1\n  prefix gg_\n}`)));
    assert.match((await request(second, 'GET', '/metrics')).body.toString(), /^gg_load_one\{/m);
    await assert.rejects(request(first, 'GET', '/metrics'), /ECONNREFUSED/);
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(first, '127.0.0.1', r));
    try {
      await assert.rejects(async () => plugin.reload!(context(config(`prometheus {\n  port ${first}\n  address 127.0.0.1\n}`))), /address already in use/);
      assert.equal((await request(second, 'GET', '/metrics')).status, 200);
    } finally {
      taken.close();
    }
  } finally {
    await plugin.stop!();
  }
});

test('prometheus_textfile: settings errors name file:line', async () => {
  const { createPrometheusTextfilePlugin } = await import('../../src/plugins/prometheus/textfile');
  const cases: [string, string][] = [
    ['prometheus_textfile {\n}', `${FILE}:3: prometheus_textfile: "dir" is required`],
    ['prometheus_textfile {\n  dir relative/dir\n}', `${FILE}:4: prometheus_textfile { dir }: must be an absolute path: "relative/dir"`],
    ['prometheus_textfile {\n  dir /no/such/dir/here\n}', `${FILE}:4: prometheus_textfile { dir }: no such directory: "/no/such/dir/here"`],
    ['prometheus_textfile {\n  dir /tmp\n  file out.txt\n}', `${FILE}:5: prometheus_textfile { file }: must be a file name ending in .prom: "out.txt"`],
  ];
  for (const [section, message] of cases) {
    const c = config(section);
    assert.throws(() => createPrometheusTextfilePlugin(contextFor('prometheus_textfile', {
      config: c, logger, stats: new DaemonStats(), currentView: () => new Store({ gridname: 'G', authority: 'a' }).view(),
    })), { message });
  }
});
