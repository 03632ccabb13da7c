/**
 * Daemon life through the real command line: config check, start-up errors, pid file,
 * SIGTERM, SIGHUP reload, and detaching at debug level 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { startFakeGmond, type FakeGmond } from '../helpers/fake-gmond';
import { freePort, rawRequest } from '../helpers/net';
import { OUR_GMETAD_MAIN } from '../helpers/our-gmetad';
import { canConnect, registryFor, waitFor, waitForPort } from '../helpers/processes';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
const ALPHA = fs.readFileSync(path.join(FIXTURES, 'gmond.xml'));
const BETA = fs.readFileSync(path.join(FIXTURES, 'gmond-beta.xml'));

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [OUR_GMETAD_MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function conf(dir: string, body: string): string {
  const file = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(file, body);
  return file;
}

async function dump(port: number): Promise<string> {
  return (await rawRequest(port, null)).data.toString('latin1');
}

async function fake(t: { after(fn: () => unknown): void }, body: Buffer): Promise<FakeGmond> {
  const server = await startFakeGmond({ kind: 'serve', body });
  t.after(() => server.close());
  return server;
}

test('-t prints the effective configuration and exits 0', (t) => {
  const dir = registryFor(t).tempDir('cli');
  const file = conf(dir, 'data_source "a" 127.0.0.1:9\ngridname "Checked"\n');
  const r = runCli(['-t', '-c', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^data_source "a" 15 127\.0\.0\.1:9$/m);
  assert.match(r.stdout, /^gridname "Checked"$/m);
  assert.match(r.stdout, /^xml_port 8651$/m, 'defaults are filled in');
  assert.match(r.stderr, /test is successful/);
});

test('a malformed line names the file, the line and the directive; exit 1, no stack trace', (t) => {
  const dir = registryFor(t).tempDir('cli');
  const file = conf(dir, '# comment\ngridname "x"\ndata_source "a" 15 127.0.0.1:99999\n');
  for (const args of [['-t', '-c', file], ['-f', '-c', file]]) {
    const r = runCli(args);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: data_source "a"`));
    assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('an unreadable config and a bad option are one-line errors with exit 1', (t) => {
  const dir = registryFor(t).tempDir('cli');
  const missing = path.join(dir, 'nope.conf');
  const r = runCli(['-f', '-c', missing]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nope\.conf/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const bad = runCli(['--no-such-option']);
  assert.equal(bad.status, 1);
  assert.ok(!/\n\s+at /.test(bad.stderr), bad.stderr);
});

test('a port already taken is a one-line error naming it; exit 1', async (t) => {
  const dir = registryFor(t).tempDir('cli');
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, resolve));
  t.after(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  const file = conf(dir, `data_source "a" 127.0.0.1:9\nxml_port ${taken}\ninteractive_port ${await freePort()}\nsetuid off\nwrite_rrds off\n`);
  const r = runCli(['-f', '-c', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`xml_port ${taken}`));
  assert.match(r.stderr, /in use/);
  assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
});

test('pid file, SIGTERM exits 0 promptly and removes it', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('life');
  const source = await fake(t, ALPHA);
  const xmlPort = await freePort();
  const interactivePort = await freePort();
  const pidFile = path.join(dir, 'gmetad.pid');
  const file = conf(dir, `data_source "alpha" 1 127.0.0.1:${source.port}\nxml_port ${xmlPort}\ninteractive_port ${interactivePort}\nsetuid off\nwrite_rrds off\n`);
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-d', '1', '-p', pidFile, '-c', file]);
  await waitForPort(interactivePort, '127.0.0.1', 10_000, child);
  await waitFor(async () => (await dump(xmlPort)).includes('<CLUSTER NAME="AlphaCluster"'), { process: child, description: 'first poll' });
  assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(child.pid));
  process.kill(child.pid, 'SIGTERM');
  const status = await child.exited;
  // 0, not the 1 of the 30 s shutdown deadline: it stopped by itself.
  assert.equal(status.code, 0, child.output());
  assert.ok(!fs.existsSync(pidFile), 'pid file removed');
  assert.ok(!(await canConnect(xmlPort)), 'ports closed');
});

test('SIGHUP applies added and removed sources, keeps unchanged ones, survives a bad file', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('reload');
  const alpha = await fake(t, ALPHA);
  const beta = await fake(t, BETA);
  const xmlPort = await freePort();
  const interactivePort = await freePort();
  const head = `xml_port ${xmlPort}\ninteractive_port ${interactivePort}\nsetuid off\nwrite_rrds off\n`;
  const alphaLine = `data_source "alpha" 1 127.0.0.1:${alpha.port}\n`;
  const file = conf(dir, head + alphaLine);
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', file]);
  await waitFor(async () => (await dump(xmlPort)).includes('NAME="AlphaCluster"'), { process: child, description: 'alpha polled' });

  // Add beta: it appears; alpha keeps being served all along.
  conf(dir, head + alphaLine + `data_source "beta" 1 127.0.0.1:${beta.port}\n`);
  process.kill(child.pid, 'SIGHUP');
  await waitFor(async () => {
    const xml = await dump(xmlPort);
    return xml.includes('NAME="BetaCluster"') && xml.includes('NAME="AlphaCluster"');
  }, { process: child, description: 'beta added' });

  // A broken file is logged and ignored: both sources stay.
  conf(dir, head + 'data_source "broken" 15 127.0.0.1:notaport\n');
  process.kill(child.pid, 'SIGHUP');
  await waitFor(() => /reload failed/.test(child.output()), { process: child, description: 'reload error logged' });
  const alphaPolls = alpha.connections;
  await waitFor(() => alpha.connections > alphaPolls + 1, { process: child, description: 'alpha still polled' });
  assert.match(await dump(xmlPort), /NAME="BetaCluster"/);

  // Remove alpha: beta goes on, alpha's poller stops.
  conf(dir, head + `data_source "beta" 1 127.0.0.1:${beta.port}\n`);
  process.kill(child.pid, 'SIGHUP');
  await waitFor(async () => !(await dump(xmlPort)).includes('NAME="AlphaCluster"'), { process: child, description: 'alpha removed' });
  const after = alpha.connections;
  const betaPolls = beta.connections;
  await waitFor(() => beta.connections > betaPolls + 1, { process: child, description: 'beta still polled' });
  assert.ok(alpha.connections <= after + 1, 'alpha no longer polled');
});

test('SIGHUP with a port taken keeps the old ports serving; the next SIGHUP tries again', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('reload-ports');
  const alpha = await fake(t, ALPHA);
  const xmlPort = await freePort();
  const interactivePort = await freePort();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
  const taken = (blocker.address() as net.AddressInfo).port;
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const tail = `setuid off\nwrite_rrds off\ndata_source "alpha" 1 127.0.0.1:${alpha.port}\n`;
  const file = conf(dir, `xml_port ${xmlPort}\ninteractive_port ${interactivePort}\n${tail}`);
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', file]);
  await waitFor(async () => (await dump(xmlPort)).includes('NAME="AlphaCluster"'), { process: child, description: 'alpha polled' });

  // The new interactive port is taken, the new XML port is free: neither is switched to.
  const newXml = await freePort();
  conf(dir, `xml_port ${newXml}\ninteractive_port ${taken}\ngridname "Reloaded"\n${tail}`);
  process.kill(child.pid, 'SIGHUP');
  await waitFor(() => new RegExp(`reload failed: interactive_port ${taken}: address already in use; still serving`).test(child.output()),
    { process: child, description: 'failed reload logged' });
  assert.match(await dump(xmlPort), /<GRID NAME="unspecified"[^\n]*\n<CLUSTER NAME="AlphaCluster"/, 'old XML port, old config');
  const answer = await rawRequest(interactivePort, '/?filter=summary\n');
  assert.match(answer.data.toString('latin1'), /<HOSTS UP="\d+"/, 'old interactive port still answers');
  assert.equal(await canConnect(newXml), false, 'the new XML port bound for the attempt was released');

  // Freed: the same file applies at the next SIGHUP; the old ports close after the new ones serve.
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  process.kill(child.pid, 'SIGHUP');
  await waitFor(() => /configuration reloaded/.test(child.output()), { process: child, description: 'reload applied' });
  assert.match(await dump(newXml), /<GRID NAME="Reloaded"[^\n]*\n<CLUSTER NAME="AlphaCluster"/, 'data kept across the reload');
  assert.match((await rawRequest(taken, '/?filter=summary\n')).data.toString('latin1'), /<HOSTS UP=/);
  assert.equal(await canConnect(xmlPort), false, 'old XML port closed');
  assert.equal(await canConnect(interactivePort), false, 'old interactive port closed');
});

test('a source past a limit: one error naming the limit and the source, its last good data still served', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('limits');
  const alpha = await fake(t, ALPHA);
  const xmlPort = await freePort();
  const interactivePort = await freePort();
  const file = conf(dir, `xml_port ${xmlPort}\ninteractive_port ${interactivePort}\nsetuid off\nwrite_rrds off\n`
    + `data_source "alpha" 1 127.0.0.1:${alpha.port}\nlimits {\n  max_document_bytes "alpha" 1MiB\n}\n`);
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-d', '1', '-c', file]);
  await waitFor(async () => (await dump(xmlPort)).includes('NAME="AlphaCluster"'), { process: child, description: 'alpha polled' });
  // Now the source never ends its document (a gmond can't do this; the fake can).
  alpha.setBehaviour({ kind: 'gzip-bomb', head: ALPHA.toString('latin1').slice(0, 3000), unit: ' '.repeat(4096) });
  const line = `data_source "alpha": 127.0.0.1:${alpha.port}: max_document_bytes exceeded: the document is larger than 1048576 bytes (after gunzip); poll aborted, last good data kept`;
  await waitFor(() => child.output().includes(line), { process: child, description: 'limit error logged' });
  const xml = await dump(xmlPort);
  assert.match(xml, /<CLUSTER NAME="AlphaCluster"[^]*<HOST NAME="localhost"/, 'last good data served');
});

test('debug level 0 detaches: the parent exits 0 once the daemon listens', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('detach');
  const source = await fake(t, ALPHA);
  const xmlPort = await freePort();
  const interactivePort = await freePort();
  const pidFile = path.join(dir, 'gmetad.pid');
  const logFile = path.join(dir, 'gmetad.log');
  const file = conf(dir, `data_source "alpha" 1 127.0.0.1:${source.port}\nxml_port ${xmlPort}\ninteractive_port ${interactivePort}\nsetuid off\nwrite_rrds off\ndebug_level 0\n`);
  const r = runCli(['-c', file, '-p', pidFile, '-l', logFile]);
  const pid = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : NaN);
  t.after(() => {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Number.isInteger(pid) && pid > 0, 'pid file names the detached daemon');
  assert.ok(await canConnect(xmlPort), 'listening when the parent returned');
  await waitFor(async () => (await dump(xmlPort)).includes('NAME="AlphaCluster"'), { description: 'detached daemon polls' });
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !fs.existsSync(pidFile), { description: 'detached daemon removed its pid file' });
  assert.match(fs.readFileSync(logFile, 'utf8'), /gmetad-ts started/);
});

test('as root with setuid on, the daemon runs as setuid_username once the ports are bound', async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test must run as root (CI and developer machines are root)');
  const registry = registryFor(t);
  const dir = registry.tempDir('setuid');
  const xmlPort = await freePort();
  const interactivePort = await freePort();
  const file = conf(dir, `data_source "a" 127.0.0.1:9\nxml_port ${xmlPort}\ninteractive_port ${interactivePort}\nsetuid on\nsetuid_username "nobody"\nwrite_rrds off\n`);
  fs.chmodSync(dir, 0o755);
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', file]);
  await waitFor(() => /dropped privileges/.test(child.output()), { process: child, description: 'privileges dropped' });
  const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  assert.equal(uid?.[1], '65534', 'real uid is nobody');
  assert.equal(uid?.[2], '65534', 'effective uid is nobody');
  assert.ok(await canConnect(xmlPort), 'still serving');
});

// rrdtool 1.7 creates its files 0644 whatever the umask, under the C gmetad too: the umask
// shows on the directories the daemon makes.
test('umask applies to the RRD directories', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('umask');
  const rrds = path.join(dir, 'rrds');
  fs.mkdirSync(rrds);
  const source = await fake(t, ALPHA);
  const file = conf(dir, [
    `data_source "alpha" 1 127.0.0.1:${source.port}`, `xml_port ${await freePort()}`, `interactive_port ${await freePort()}`,
    'setuid off', `rrd_rootdir "${rrds}"`, 'umask 027', 'rrd {', '  write_behind 0', '}',
  ].join('\n'));
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', file]);
  const host = path.join(rrds, 'AlphaCluster', 'localhost');
  await waitFor(() => fs.existsSync(path.join(host, 'load_one.rrd')), { process: child, description: 'RRDs written' });
  assert.equal(fs.statSync(path.join(rrds, 'AlphaCluster')).mode & 0o777, 0o750);
  assert.equal(fs.statSync(host).mode & 0o777, 0o750);
});
