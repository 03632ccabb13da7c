import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { defaultConfig } from '../../src/config/defaults';
import type { GmetadConfig } from '../../src/config/types';
import { loadPlugins, settingsOf } from '../../src/plugins/loader';
import { DaemonStats } from '../../src/util/stats';

const logger = pino({ level: 'silent' });

function pluginDir(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-ts-plugins-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  return dir;
}

function configWith(dir: string, sections: GmetadConfig['pluginSections'] = []): GmetadConfig {
  return { ...defaultConfig('/test/gmetad.conf'), writeRrds: false, pluginsDir: dir, pluginSections: sections };
}

test('plugins load in file-name order, each with its own section, ignoring other files', async (t) => {
  const dir = pluginDir(t, {
    'b.js': 'module.exports = { createPlugin: (c) => ({ name: "b:" + c.settings.get("greeting")[0][0], notify() {} }) };',
    'a.cjs': 'exports.name = "alpha"; exports.createPlugin = async (c) => ({ name: c.name, notify() {} });',
    'notes.txt': 'not a plugin',
  });
  const sections = [{ name: 'B', origin: 'x:1', directives: [{ key: 'Greeting', values: ['hello', 'world'], origin: 'x:2' }] }];
  const plugins = await loadPlugins({ config: configWith(dir, sections), logger, stats: new DaemonStats(), builtins: [] });
  assert.deepEqual(plugins.map((p) => p.name), ['alpha', 'b:hello']);
  assert.deepEqual([...settingsOf(sections, 'b')], [['greeting', [['hello', 'world']]]]);
});

test('a module without createPlugin, a throwing one and a hanging factory are refused by name', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['empty.js', 'module.exports = {};', /plugin .*empty\.js: does not export createPlugin/],
    ['syntax.js', 'module.exports = {', /plugin .*syntax\.js: /],
    ['hang.js', 'exports.createPlugin = () => new Promise(() => {});', /plugin hang: loading took longer than 50 ms/],
  ];
  for (const [file, body, expected] of cases) {
    const dir = pluginDir(t, { [file]: body });
    await assert.rejects(
      loadPlugins({ config: configWith(dir), logger, stats: new DaemonStats(), builtins: [], loadTimeoutMs: 50 }),
      expected,
    );
  }
});

test('built-ins come first and only when enabled', async () => {
  const made: string[] = [];
  const builtin = (name: string, on: boolean) => ({
    name, enabled: () => on, createPlugin: () => { made.push(name); return { name, notify() {} }; },
  });
  const plugins = await loadPlugins({
    config: { ...defaultConfig('/test/gmetad.conf'), pluginsDir: null },
    logger, stats: new DaemonStats(), builtins: [builtin('on', true), builtin('off', false)],
  });
  assert.deepEqual(plugins.map((p) => p.name), ['on']);
  assert.deepEqual(made, ['on']);
});
