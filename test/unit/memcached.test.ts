/** memcached_parameters (libmemcached's option string), key placement, and the C key rules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config';
import { oneAtATime, parseMemcachedParameters, serverIndexFor } from '../../src/config/memcached-parameters';
import { memcachedSetsForHost } from '../../src/plugins/memcached/memcached-sets';
import { cluster, host, metric } from '../helpers/tree-builders';

test('servers, ports, weights, sockets, namespace, timeouts; client-only options accepted', () => {
  assert.deepEqual(parseMemcachedParameters('--SERVER=10.0.0.1 --SERVER=cache:11311/?5 --server=[::1]:11212 --POOL-MIN=10 --POOL-MAX=32 --BINARY-PROTOCOL'), {
    servers: [{ host: '10.0.0.1', port: 11211 }, { host: 'cache', port: 11311 }, { host: '::1', port: 11212 }],
    namespace: '', connectTimeoutMs: 4000,
  });
  assert.deepEqual(parseMemcachedParameters('--SOCKET="/run/mc.sock" --NAMESPACE=gm: --CONNECT-TIMEOUT=250'), {
    servers: [{ host: 'localhost', port: 0, path: '/run/mc.sock' }], namespace: 'gm:', connectTimeoutMs: 250,
  });
});

test('a bad memcached_parameters stops loading with file:line and the option named', () => {
  const cases: [string, string][] = [
    ['--SERVER=a --DISTRIBUTION=consistent', '--DISTRIBUTION: not supported by gmetad-ts'],
    ['--SERVER=a --FROBNICATE', '--FROBNICATE: unknown libmemcached option'],
    ['--POOL-MIN=1', 'no --SERVER or --SOCKET given'],
    ['--SERVER=a:99999', '--SERVER=a:99999: port out of range'],
  ];
  for (const [value, reason] of cases) {
    assert.throws(() => parseConfig(`data_source "a" 127.0.0.1:1\nmemcached_parameters "${value}"\n`, '/etc/g.conf', { env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.line, 2);
      assert.equal(err.directive, 'memcached_parameters');
      assert.ok(err.message.startsWith(`/etc/g.conf:2: memcached_parameters: ${reason}`), err.message);
      return true;
    });
  }
});

test('one-at-a-time as libhashkit computes it (signed chars), modulo the server count', () => {
  // Reference values computed by hand from libhashkit's one_at_a_time.cc.
  assert.equal(oneAtATime(Buffer.from('')), 0);
  assert.equal(oneAtATime(Buffer.from('a')), 0xca2e9442);
  assert.equal(serverIndexFor(Buffer.from('anything'), 1), 0);
  const k = Buffer.from('host/load_one');
  assert.equal(serverIndexFor(k, 3), oneAtATime(k) % 3);
  assert.notEqual(oneAtATime(Buffer.from([0xe9])), oneAtATime(Buffer.from([0x69])));
});

test('keys: HOST/METRIC or CLUSTER/HOST/METRIC, the C length rule, unsafe keys skipped, expiry = DMAX', () => {
  const out: string[] = [];
  const counts = { sets: 0, badKeys: 0 };
  const long = 'x'.repeat(247); // 1 + 247 + 3 > 250
  const c = cluster('C', [
    host('h', [metric('m', { val: 'v 1', dmax: 60 }), metric('with space'), metric(long), metric('ok', { val: '\xe9' })]),
    host('down', [metric('m')], { up: false }),
  ]);
  for (const h of c.hosts.values()) {
    memcachedSetsForHost(c, h, { includeCluster: false, namespace: '', serverCount: 1 }, { add: (_s, cmd) => out.push(cmd) }, counts);
  }
  assert.deepEqual(out, ['set h/m 0 60 3 noreply\r\nv 1\r\n', 'set h/ok 0 0 1 noreply\r\n\xe9\r\n']);
  assert.deepEqual(counts, { sets: 2, badKeys: 2 });
  // With the cluster: 2 + 1 + 244 + 3 = 250 fits, 2 + 1 + 245 + 3 = 251 does not.
  const edge = cluster('CC', [host('h', [metric('y'.repeat(244)), metric('z'.repeat(245))])]);
  const keys: string[] = [];
  memcachedSetsForHost(edge, edge.hosts.get('h')!, { includeCluster: true, namespace: '', serverCount: 1 },
    { add: (_s, cmd) => keys.push(cmd.split(' ')[1]) }, { sets: 0, badKeys: 0 });
  assert.deepEqual(keys, [`CC/h/${'y'.repeat(244)}`]);
});
