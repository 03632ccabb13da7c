import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { BUILTIN_PLUGINS } from '../../src/plugins/builtins';

const pluginsDir = path.resolve(__dirname, '../../src/plugins');
/** Each built-in's module and the name it calls itself. */
const MODULES: Record<string, readonly [string, string]> = {
  rrd: ['rrd/plugin', 'RRD_PLUGIN_NAME'],
  graphite: ['graphite/plugin', 'GRAPHITE_PLUGIN_NAME'],
  remote_write: ['remote-write/plugin', 'REMOTE_WRITE_PLUGIN_NAME'],
  memcached: ['memcached/plugin', 'MEMCACHED_PLUGIN_NAME'],
  prometheus: ['prometheus/plugin', 'PROMETHEUS_PLUGIN_NAME'],
  prometheus_textfile: ['prometheus/textfile', 'PROMETHEUS_TEXTFILE_PLUGIN_NAME'],
  influxdb: ['influxdb/plugin', 'INFLUXDB_PLUGIN_NAME'],
  riemann: ['riemann/plugin', 'RIEMANN_PLUGIN_NAME'],
};

const loaded = (): string[] => Object.keys(require.cache).filter((f) => Object.values(MODULES).some(([m]) => f === path.join(pluginsDir, `${m}.js`)));

test('built-in plugins: their modules load only when a configuration turns them on, under the names they give themselves', () => {
  assert.deepEqual(loaded(), [], 'loading the list loads no plugin module');
  assert.deepEqual(BUILTIN_PLUGINS.map((b) => b.name).sort(), Object.keys(MODULES).sort());
  for (const [name, [file, constant]] of Object.entries(MODULES)) {
    const module = require(path.join(pluginsDir, file)) as Record<string, unknown>;
    assert.equal(module[constant], name, `${file}.${constant}`);
  }
  assert.equal(loaded().length, Object.keys(MODULES).length);
});
