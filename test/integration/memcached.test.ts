/**
 * memcached export into the real memcached: the keys, values and expiry of the C gmetad's
 * write_data_to_memcached for the crafted document (strings included; down hosts, expired
 * metrics and child grids left out), memcached_include_cluster_in_key, a --NAMESPACE, and
 * two servers, where libmemcached's own memccat finds every key on the server it picks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeGmond } from '../helpers/fake-gmond';
import { memccat, startMemcached } from '../helpers/memcached';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { ANCHOR, CHILD_GRID, CRAFTED } from './exporter-fixtures';

/** Every metric of the up hosts of CRAFTED that memcached must hold: [key without cluster, value, DMAX]. */
const EXPECTED: readonly (readonly [string, string, number])[] = [
  ['Web01.Example.COM/load_one', '1.25', 0],
  ['Web01.Example.COM/cpu_num', '4', 0],
  ['Web01.Example.COM/temp', '-3', 0],
  ['Web01.Example.COM/os_name', 'Linux', 0],
  ['Web01.Example.COM/boottime', '1795200000', 0],
  ['Web01.Example.COM/app.requests', '99', 0],
  ['Web01.Example.COM/kernel', '6.1.0 #1 SMP', 3600],
  ['OldStyle/load_one', '0.5', 0],
];
const ABSENT = ['Web01.Example.COM/gone', 'DownHost/load_one', 'inner1/load_one'];

async function sources(t: { after(fn: () => unknown): void }) {
  const docs = await Promise.all([CRAFTED, CHILD_GRID].map((body) => startFakeGmond({ kind: 'serve', body })));
  t.after(() => Promise.all(docs.map((d) => d.close())));
  return docs.map((d, i) => ({ name: `s${i}`, step: 1, addresses: [`127.0.0.1:${d.port}`] }));
}

test('keys HOST/METRIC, VAL as received, expiry = DMAX; strings included, down/expired/child-grid hosts not', async (t) => {
  const registry = registryFor(t);
  const mc = await startMemcached(registry);
  const daemon = await startOurGmetad(registry, {
    dataSources: await sources(t), gridname: 'G', expectNames: ['Web Farm', 'ChildGrid'],
    extra: [`memcached_parameters "--SERVER=127.0.0.1:${mc.port} --POOL-MIN=2 --POOL-MAX=4"`],
  });
  for (const [key, value, dmax] of EXPECTED) {
    const item = await registry.explain(() => waitFor(() => mc.get(key), { description: `memcached key ${key}` }));
    assert.equal(item.value, value, key);
    if (dmax === 0) assert.equal(item.ttl, -1, key);
    else assert.ok(item.ttl > dmax - 30 && item.ttl <= dmax, `${key} ttl ${item.ttl}`);
  }
  for (const key of ABSENT) assert.equal(await mc.get(key), null, key);
  // "bytes in" cannot be a text-protocol key: skipped and counted, nothing else disturbed.
  const status = JSON.parse((await daemon.ask('/status\n')).split('\r\n\r\n')[1]) as {
    metrics: { sent: Record<string, { num: number }> };
    plugins: Record<string, Record<string, number | string>>;
  };
  assert.ok(Number(status.plugins.memcached.badKeys) >= 1, JSON.stringify(status.plugins.memcached));
  assert.equal(status.plugins.memcached.serverErrors, 0, JSON.stringify(status.plugins.memcached));
  assert.ok(status.metrics.sent.memcached.num >= EXPECTED.length);
});

test('memcached_include_cluster_in_key and --NAMESPACE: gm:CLUSTER/HOST/METRIC', async (t) => {
  const registry = registryFor(t);
  const mc = await startMemcached(registry);
  const anchor = await startFakeGmond({ kind: 'serve', body: ANCHOR });
  t.after(() => anchor.close());
  await startOurGmetad(registry, {
    dataSources: [{ name: 'a', step: 1, addresses: [`127.0.0.1:${anchor.port}`] }], gridname: 'G', expectNames: ['AlphaCluster'],
    extra: [`memcached_parameters "--SERVER=127.0.0.1:${mc.port} --NAMESPACE=gm:"`, 'memcached_include_cluster_in_key 1'],
  });
  const expected: [string, string][] = [
    ['gm:AlphaCluster/FakeHost2/anchor_counter', '700'],
    ['gm:AlphaCluster/FakeHost2/anchor_str', 'hello world'],
    ['gm:AlphaCluster/FakeHost2/anchor_int', '-7'],
  ];
  for (const [key, value] of expected) {
    const item = await registry.explain(() => waitFor(() => mc.get(key), { description: `memcached key ${key}` }));
    assert.equal(item.value, value, key);
  }
  // anchor_short: TN 69 > DMAX 30, expired.
  assert.equal(await mc.get('gm:AlphaCluster/FakeHost2/anchor_short'), null);
  assert.equal(await mc.get('FakeHost2/anchor_counter'), null);
});

test('two servers: every key is where libmemcached (memccat) looks for it, and only there', async (t) => {
  const registry = registryFor(t);
  const [a, b] = await Promise.all([startMemcached(registry), startMemcached(registry)]);
  const servers = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
  await startOurGmetad(registry, {
    dataSources: await sources(t), gridname: 'G', expectNames: ['Web Farm'],
    extra: [`memcached_parameters "--SERVER=127.0.0.1:${a.port} --SERVER=127.0.0.1:${b.port}"`],
  });
  const placed = { a: 0, b: 0 };
  for (const [key, value] of EXPECTED) {
    const found = await registry.explain(() => waitFor(() => memccat(servers, key), { description: `memccat ${key}` }));
    assert.equal(found, value, key);
    const [onA, onB] = await Promise.all([a.get(key), b.get(key)]);
    assert.ok((onA === null) !== (onB === null), `${key} on exactly one server`);
    placed[onA ? 'a' : 'b'] += 1;
  }
  assert.ok(placed.a > 0 && placed.b > 0, `keys spread over both servers: ${JSON.stringify(placed)}`);
});
