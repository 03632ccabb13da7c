/**
 * The plugin API's additions: typed settings with file:line errors, per-plugin queue size
 * and deadline, the pull side (currentView), source-down/up events, plugin status counters,
 * SIGHUP reload (reload() or restart), and .mjs modules. The tiny plugin under test/typing
 * is compiled against src/index.ts only (the type test) and run here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import type { GmetadConfig } from '../../src/config/types';
import type { GmetadPlugin, PluginContext, PluginEvent } from '../../src/plugins/api';
import { BUILTIN_PLUGINS, RRD_NOTIFY_DEADLINE_MS } from '../../src/plugins/builtins';
import { deliveryOf, loadPlugins, settingsOf, type BuiltinPlugin } from '../../src/plugins/loader';
import { PluginManager } from '../../src/plugins/manager';
import { parseDuration } from '../../src/plugins/settings';
import { StatusReporter } from '../../src/server/status';
import { Store } from '../../src/store/store';
import { DaemonStats } from '../../src/util/stats';
import * as tiny from '../typing/tiny-plugin';
import { cluster, host, metric, snapshot } from '../helpers/tree-builders';

const logger = pino({ level: 'silent' });
const FILE = '/etc/ganglia/gmetad.conf';

function config(text: string): GmetadConfig {
  return parseConfig(`data_source "a" 127.0.0.1:9\nwrite_rrds off\n${text}`, FILE).config;
}

test('typed settings: values, defaults, and one located line for each kind of mistake', () => {
  const c = config([
    'exp {',             // line 3
    '  port 9100',
    '  url "http://x/"',
    '  ratio 0.25',
    '  interval 2m',
    '  gzip off',
    '  mode FAST',
    '  labels a b c',
    '  port_bad 99999',
    '  two 1 2',
    '  flag maybe',
    '  wait 5 parsecs',
    '  wait2 soon',
    '}',
  ].join('\n'));
  const s = settingsOf(c.pluginSections, 'exp', c.file);
  assert.equal(s.present, true);
  assert.equal(s.origin, `${FILE}:3`);
  assert.equal(s.integer('port', { min: 1, max: 65535 }), 9100);
  assert.equal(s.string('url'), 'http://x/');
  assert.equal(s.number('ratio', { max: 1 }), 0.25);
  assert.equal(s.duration('interval'), 120_000);
  assert.equal(s.boolean('gzip'), false);
  assert.equal(s.string('mode', { oneOf: ['fast', 'safe'] }), 'fast');
  assert.deepEqual(s.strings('labels'), ['a', 'b', 'c']);
  assert.equal(s.integer('absent'), undefined);
  assert.equal(s.integer('absent', { default: 7 }), 7);
  assert.equal(s.get('labels')?.[0]?.[1], 'b'); // still the map plugins had before
  const cases: [() => unknown, string][] = [
    [() => s.integer('port_bad', { min: 1, max: 65535 }), `${FILE}:11: exp { port_bad }: expected a whole number from 1 to 65535, got "99999"`],
    [() => s.integer('ratio'), `${FILE}:6: exp { ratio }: expected a whole number, got "0.25"`],
    [() => s.string('two'), `${FILE}:12: exp { two }: expected one value, got 2`],
    [() => s.boolean('flag'), `${FILE}:13: exp { flag }: expected on or off, got "maybe"`],
    [() => s.duration('wait2'), `${FILE}:15: exp { wait2 }: expected a duration (30, 30s, 500ms, 2m, 1h), got "soon"`],
    [() => s.string('mode', { oneOf: ['slow'] }), `${FILE}:9: exp { mode }: expected one of slow, got "FAST"`],
    [() => s.string('missing', { required: true }), `${FILE}:3: exp: "missing" is required`],
  ];
  for (const [read, message] of cases) {
    assert.throws(read, (err: Error) => {
      assert.equal(err.name, 'ConfigError');
      assert.equal((err as { code?: string }).code, 'GMETAD_CONFIG_INVALID');
      assert.equal(err.message, message);
      return true;
    });
  }
  // No section at all: the error names the file.
  const none = settingsOf(c.pluginSections, 'other', c.file);
  assert.equal(none.present, false);
  assert.throws(() => none.string('url', { required: true }), { message: `${FILE}: other: "url" is required` });
  assert.throws(() => (s as unknown as Map<string, unknown>).set('x', []), TypeError);
  assert.deepEqual(['30', '30s', '500ms', '2m', '1h', '1.5s', 'x', '-1'].map(parseDuration),
    [30_000, 30_000, 500, 120_000, 3_600_000, 1500, null, null]);
});

interface Recorder extends GmetadPlugin {
  readonly seen: string[];
  readonly lifecycle: string[];
}

/** A built-in whose instances record what they get; `withReload` adds reload(). */
function recorderBuiltin(name: string, lifecycle: string[], options: { withReload?: boolean; enabled?: (c: GmetadConfig) => boolean } = {}): BuiltinPlugin & { instances: Recorder[] } {
  const instances: Recorder[] = [];
  return {
    name,
    instances,
    enabled: options.enabled ?? (() => true),
    createPlugin(context: PluginContext): GmetadPlugin {
      const greeting = context.settings.string('greeting', { required: true });
      const id = instances.length + 1;
      const seen: string[] = [];
      let current = greeting;
      const plugin: Recorder = {
        name,
        seen,
        lifecycle,
        events: ['source', 'source-down', 'source-up'],
        start() { lifecycle.push(`${name}#${id} start ${current}`); },
        notify(e: PluginEvent) {
          seen.push(e.kind === 'source' ? `source ${e.snapshot.source}` : e.kind === 'source-down' ? `down ${e.source}: ${e.error}` : e.kind === 'root' ? 'root' : `up ${e.source}`);
        },
        stop() { lifecycle.push(`${name}#${id} stop ${current}`); },
        status: () => ({ greeting: current }),
        ...(options.withReload ? {
          reload(next: PluginContext) {
            current = next.settings.string('greeting', { required: true });
            lifecycle.push(`${name}#${id} reload ${current}`);
          },
        } : {}),
      };
      instances.push(plugin);
      return plugin;
    },
  };
}

function storeFor(c: GmetadConfig): Store {
  const store = new Store({ gridname: 'G', authority: 'http://g/' });
  store.setSources(c.dataSources);
  return store;
}

/** Wires a store to a manager the way the daemon does. */
function wire(store: Store, manager: PluginManager): void {
  store.onUpdate(({ snapshot: s, view }) => manager.notify({ kind: 'source', snapshot: s, step: 15, view }));
  store.onSourceStatus(({ source, up, error }) => manager.notify(
    up ? { kind: 'source-up', source, time: 1 } : { kind: 'source-down', source, error: error ?? '', time: 1 },
  ));
}

test('source-down once per outage, source-up before the returning poll; currentView pulls the tree', async () => {
  const c = config('tiny {\n  port 9300\n}\nrec {\n  greeting hi\n}');
  const store = storeFor(c);
  const stats = new DaemonStats();
  const lifecycle: string[] = [];
  const rec = recorderBuiltin('rec', lifecycle);
  const manager = new PluginManager({
    logger, stats, currentView: () => store.view(),
    builtins: [{ name: 'tiny', enabled: () => true, createPlugin: tiny.createPlugin }, rec],
  });
  wire(store, manager);
  await manager.load(c);
  await manager.start();
  const hosts = [host('h1', [metric('load_one'), metric('os_name', { type: 'string', val: 'Linux' })]), host('h2', [metric('load_one')])];
  store.publish(snapshot('a', [cluster('C', hosts)]));
  store.fail('a', 'connection refused');
  store.fail('a', 'connection refused');   // still down: no second event
  store.publish(snapshot('a', [cluster('C', hosts)]));
  await manager.forceFlush();
  assert.deepEqual(rec.instances[0].seen, ['source a', 'down a: connection refused', 'up a', 'source a']);
  // The tiny plugin pulls the tree in status(): 2 numeric metrics of up hosts.
  const status = stats.plugins.get('tiny')!.status!();
  assert.deepEqual(status, {
    source: 2, root: 0, 'source-down': 1, 'source-up': 1, numericMetrics: 2, sources: 1, lastDown: '', port: 9300, mode: 'safe',
  });
  const doc = JSON.parse(new StatusReporter({ stats }).body(store.view(), null)) as { plugins: Record<string, Record<string, unknown>> };
  assert.equal(doc.plugins.tiny.numericMetrics, 2);
  assert.equal(doc.plugins.rec.greeting, 'hi');
  await manager.shutdown();
});

test('queue_size and deadline are each plugin\'s own, from its section', async () => {
  const c = config('slow {\n  greeting x\n  queue_size 2\n  deadline 50ms\n}\nfast {\n  greeting y\n}');
  const stats = new DaemonStats();
  const store = storeFor(c);
  let release: () => void = () => undefined;
  const slow: BuiltinPlugin = {
    name: 'slow', enabled: () => true,
    createPlugin: () => ({ name: 'slow', notify: () => new Promise<void>((r) => { release = r; }) }),
  };
  const lifecycle: string[] = [];
  const fast = recorderBuiltin('fast', lifecycle);
  const manager = new PluginManager({ logger, stats, currentView: () => store.view(), builtins: [slow, fast] });
  wire(store, manager);
  await manager.load(c);
  await manager.start();
  for (let i = 0; i < 6; i++) store.publish(snapshot('a', [], i));
  // slow: one in notify, two queued, three dropped; fast (default 64) gets all six.
  assert.equal(stats.plugins.get('slow')!.capacity, 2);
  assert.equal(stats.plugins.get('slow')!.dropped, 3);
  assert.equal(stats.plugins.get('fast')!.capacity, 64);
  await manager.forceFlush(); // the 50 ms deadline abandons each hung notify
  release();
  assert.equal(stats.plugins.get('slow')!.errors, 3);
  assert.equal(fast.instances[0].seen.length, 6);
  await manager.shutdown();

  const bad = config('slow {\n  queue_size 0\n}');
  const m2 = new PluginManager({ logger, stats: new DaemonStats(), currentView: () => store.view(), builtins: [slow] });
  await assert.rejects(m2.load(bad), { message: `${FILE}:4: slow { queue_size }: expected a whole number from 1 to 1000000, got "0"` });
});

test('the RRD plugin may take 15 minutes per notify (a first poll creates all its files), unless its section says otherwise', () => {
  const rrd = BUILTIN_PLUGINS.find((p) => p.name === 'rrd')!;
  const byDefault = config('');
  assert.equal(RRD_NOTIFY_DEADLINE_MS, 900_000);
  assert.deepEqual(deliveryOf(settingsOf(byDefault.pluginSections, 'rrd', byDefault.file), rrd.delivery), { queueSize: 64, deadlineMs: 900_000 });
  const set = config('rrd {\n  deadline 2m\n}');
  assert.equal(deliveryOf(settingsOf(set.pluginSections, 'rrd', set.file), rrd.delivery).deadlineMs, 120_000);
  // Other plugins keep the 60 s default.
  const graphite = BUILTIN_PLUGINS.find((p) => p.name === 'graphite')!;
  assert.equal(deliveryOf(settingsOf(byDefault.pluginSections, 'graphite', byDefault.file), graphite.delivery).deadlineMs, 60_000);
});

test('SIGHUP: reload() gets the new settings, others restart only if changed, plugins turn on and off, bad settings keep the old', async () => {
  const lifecycle: string[] = [];
  const withReload = recorderBuiltin('hot', lifecycle, { withReload: true });
  const restarted = recorderBuiltin('cold', lifecycle);
  const optional = recorderBuiltin('opt', lifecycle, { enabled: (c) => c.pluginSections.some((s) => s.name === 'opt') });
  const c1 = config('hot {\n  greeting a\n}\ncold {\n  greeting b\n}');
  const store = storeFor(c1);
  const stats = new DaemonStats();
  const manager = new PluginManager({ logger, stats, currentView: () => store.view(), builtins: [withReload, restarted, optional] });
  wire(store, manager);
  await manager.load(c1);
  await manager.start();
  assert.deepEqual(lifecycle.splice(0), ['hot#1 start a', 'cold#1 start b']);

  // Same sections, other data sources: nothing restarts; reload() is still told.
  await manager.reload(config('hot {\n  greeting a\n}\ncold {\n  greeting b\n}\ndata_source "b" 127.0.0.1:10'));
  assert.deepEqual(lifecycle.splice(0), ['hot#1 reload a']);

  // New values, and the optional plugin's section appears.
  await manager.reload(config('hot {\n  greeting a2\n}\ncold {\n  greeting b2\n}\nopt {\n  greeting c\n}'));
  assert.deepEqual(lifecycle.splice(0), ['hot#1 reload a2', 'cold#1 stop b', 'cold#2 start b2', 'opt#1 start c']);
  assert.deepEqual(manager.names, ['hot', 'cold', 'opt']);
  store.publish(snapshot('a', []));
  await manager.forceFlush();
  assert.deepEqual(restarted.instances[1].seen, ['source a']);
  assert.deepEqual(restarted.instances[0].seen, []);

  // Bad new settings (greeting missing): both keep running as they were; opt turned off.
  await manager.reload(config('hot {\n}\ncold {\n}'));
  assert.deepEqual(lifecycle.splice(0), ['opt#1 stop c']);
  assert.deepEqual(manager.names, ['hot', 'cold']);
  assert.equal(stats.plugins.get('hot')!.status!().greeting, 'a2');
  assert.equal(stats.plugins.get('cold')!.status!().greeting, 'b2');
  assert.equal(stats.plugins.has('opt'), false);
  await manager.shutdown();
  assert.deepEqual(lifecycle.splice(0), ['hot#1 stop a2', 'cold#2 stop b2']);
});

test('.mjs modules load with import(), as ES modules', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-ts-mjs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'esm.mjs'),
    'export const name = "esm-one";\nexport function createPlugin(c) { return { name: c.name + ":" + c.settings.string("x"), notify() {} }; }\n');
  fs.writeFileSync(path.join(dir, 'dflt.mjs'), 'export default { createPlugin: (c) => ({ name: c.name, notify() {} }) };\n');
  const c = { ...config('esm-one {\n  x 1\n}'), pluginsDir: dir };
  const plugins = await loadPlugins({ config: c, logger, stats: new DaemonStats(), builtins: [] });
  assert.deepEqual(plugins.map((p) => p.name), ['dflt', 'esm-one:1']);
});
