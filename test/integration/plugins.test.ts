/**
 * Plugins from plugins_dir through the real daemon: the example plugin under examples/ is
 * loaded with its own gmetad.conf section and sees every poll; a broken plugin stops
 * start-up with one line naming it; plugin counters show in /status.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { startFakeGmond } from '../helpers/fake-gmond';
import { freePort, rawRequest } from '../helpers/net';
import { OUR_GMETAD_MAIN } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';

const REPO = path.resolve(__dirname, '..', '..', '..');
const EXAMPLES = path.join(REPO, 'dist', 'examples');
const ALPHA = fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'anchor', 'gmond.xml'));

test('the example plugin is loaded from plugins_dir with its section and sees each poll', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('plugins');
  const source = await startFakeGmond({ kind: 'serve', body: ALPHA });
  t.after(() => source.close());
  const out = path.join(dir, 'summaries.jsonl');
  const interactivePort = await freePort();
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, [
    `data_source "alpha" 1 127.0.0.1:${source.port}`,
    `xml_port ${await freePort()}`,
    `interactive_port ${interactivePort}`,
    'setuid off',
    'write_rrds off',
    `plugins_dir "${EXAMPLES}"`,
    'summary-log {',
    `  path "${out}"`,
    '  metric load_one',
    '}',
  ].join('\n'));
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf]);
  const lines = await waitFor(() => {
    const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim() : '';
    const parsed = text ? text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    return parsed.length >= 2 ? parsed : null;
  }, { process: child, description: 'two polls logged by the example plugin' });
  // AlphaCluster in the anchor capture: 3 hosts up, load_one summed to 10.63.
  assert.deepEqual(lines[0], {
    source: 'alpha', cluster: 'AlphaCluster', polledAt: lines[0].polledAt, up: 3, down: 0, load_one: '10.63',
  });
  const status = JSON.parse((await rawRequest(interactivePort, '/status\n')).data.toString('latin1').split('\r\n\r\n')[1]) as {
    plugins: Record<string, { notified: number; dropped: number; errors: number }>;
  };
  assert.ok(status.plugins['summary-log'].notified >= 2, JSON.stringify(status.plugins));
  assert.equal(status.plugins['summary-log'].errors, 0);
  process.kill(child.pid, 'SIGTERM');
  assert.equal((await child.exited).code, 0, child.output());
});

async function pluginStatus(port: number): Promise<Record<string, Record<string, unknown>>> {
  const reply = (await rawRequest(port, '/status\n')).data.toString('latin1');
  return (JSON.parse(reply.split('\r\n\r\n')[1]) as { plugins: Record<string, Record<string, unknown>> }).plugins;
}

test('an .mjs plugin hears sources go down and come back, shows its counters, and takes new settings on SIGHUP', async (t) => {
  const registry = registryFor(t);
  const dir = registry.tempDir('plugins-mjs');
  const pluginDir = path.join(dir, 'plugins');
  fs.mkdirSync(pluginDir);
  fs.copyFileSync(path.join(REPO, 'examples', 'source-alerts.mjs'), path.join(pluginDir, 'source-alerts.mjs'));
  const source = await startFakeGmond({ kind: 'serve', body: ALPHA });
  t.after(() => source.close());
  const first = path.join(dir, 'first.log');
  const second = path.join(dir, 'second.log');
  const interactivePort = await freePort();
  const xmlPort = await freePort();
  const conf = path.join(dir, 'gmetad.conf');
  const write = (log: string) => fs.writeFileSync(conf, [
    `data_source "alpha" 1 127.0.0.1:${source.port}`,
    `xml_port ${xmlPort}`,
    `interactive_port ${interactivePort}`,
    'setuid off',
    'write_rrds off',
    `plugins_dir "${pluginDir}"`,
    'source-alerts {',
    `  path "${log}"`,
    '  queue_size 8',
    '}',
  ].join('\n'));
  write(first);
  const child = await registry.spawn('gmetad-ts', process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf]);
  const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  const outage = async (file: string) => {
    await waitFor(async () => (await pluginStatus(interactivePort).catch(() => null))?.['source-alerts'] ?? null,
      { process: child, description: '/status answering' });
    source.setBehaviour({ kind: 'reset' });
    await waitFor(() => (/ alpha down: /.test(read(file)) ? true : null), { process: child, description: `down line in ${file}` });
    source.setBehaviour({ kind: 'serve', body: ALPHA });
    await waitFor(() => (/ alpha up\n/.test(read(file)) ? true : null), { process: child, description: `up line in ${file}` });
  };
  await outage(first);
  // One line per transition, down before up, however many polls failed in between.
  assert.deepEqual(read(first).trim().split('\n').map((l) => l.split(' ').slice(1, 3).join(' ')), ['alpha down:', 'alpha up']);
  const status = (await pluginStatus(interactivePort))['source-alerts'];
  assert.equal(status.down, 1);
  assert.equal(status.up, 1);
  assert.equal(status.sourcesDown, 0);
  assert.equal(status.queueSize, 8);
  assert.equal(status.file, first);

  write(second);
  process.kill(child.pid, 'SIGHUP');
  await waitFor(async () => ((await pluginStatus(interactivePort))['source-alerts']?.file === second ? true : null),
    { process: child, description: 'the new path after SIGHUP' });
  await outage(second);
  assert.equal(read(first).trim().split('\n').length, 2);
  process.kill(child.pid, 'SIGTERM');
  assert.equal((await child.exited).code, 0, child.output());
});

test('a bad plugin setting stops start-up with one line naming its file:line', (t) => {
  const dir = registryFor(t).tempDir('plugins-bad-setting');
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, [
    'data_source "a" 127.0.0.1:9', 'setuid off', 'write_rrds off', `plugins_dir "${EXAMPLES}"`,
    'summary-log {', '  metric load_one', '  deadline soon', '}',
  ].join('\n'));
  const r = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `gmetad: ${conf}:7: summary-log { deadline }: expected a duration (30, 30s, 500ms, 2m, 1h) from 1 ms to 86400000 ms, got "soon"`);
  fs.writeFileSync(conf, [
    'data_source "a" 127.0.0.1:9', 'setuid off', 'write_rrds off', `plugins_dir "${EXAMPLES}"`,
    'summary-log {', '  metric load_one', '}',
  ].join('\n'));
  const r2 = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r2.status, 1);
  assert.equal(r2.stderr.trim(), `gmetad: ${conf}:5: summary-log: "path" is required`);
});

test('a plugin that cannot load stops start-up with one line naming it', (t) => {
  const dir = registryFor(t).tempDir('plugins-bad');
  const pluginDir = path.join(dir, 'plugins');
  fs.mkdirSync(pluginDir);
  fs.writeFileSync(path.join(pluginDir, 'broken.js'), 'module.exports = { createPlugin() { throw new Error("no path configured"); } };\n');
  const conf = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(conf, `data_source "a" 127.0.0.1:9\nsetuid off\nwrite_rrds off\nplugins_dir "${pluginDir}"\n`);
  const r = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'gmetad: plugin broken: no path configured');
});

test('a missing rrd_rootdir stops start-up with one line naming it', (t) => {
  const dir = registryFor(t).tempDir('rrd-missing');
  const conf = path.join(dir, 'gmetad.conf');
  const missing = path.join(dir, 'no-such-dir');
  fs.writeFileSync(conf, `data_source "a" 127.0.0.1:9\nsetuid off\nrrd_rootdir "${missing}"\n`);
  const r = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `gmetad: plugin rrd: rrd_rootdir ${missing}: no such directory`);
});
