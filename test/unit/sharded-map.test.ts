import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShardedMap } from '../../src/util/sharded-map';

test('ShardedMap: Map semantics (set over a key, delete, size, iteration over every entry)', () => {
  const map = new ShardedMap<number>();
  const keys = Array.from({ length: 1000 }, (_, i) => `/rrds/Big/host${i}.example.org/load_one.rrd`);
  keys.forEach((k, i) => map.set(k, i));
  map.set(keys[7]!, 70);
  assert.equal(map.size, 1000);
  assert.equal(map.get(keys[7]!), 70);
  assert.equal(map.has(keys[8]!), true);
  assert.equal(map.delete(keys[8]!), true);
  assert.equal(map.delete(keys[8]!), false);
  assert.equal(map.has(keys[8]!), false);
  assert.equal(map.get(keys[8]!), undefined);
  assert.equal(map.size, 999);
  const seen = new Map(map.entries());
  assert.equal(seen.size, 999);
  assert.deepEqual([...map.keys()].sort(), keys.filter((_, i) => i !== 8).sort());
  assert.equal([...map.values()].reduce((a, b) => a + b, 0), (999 * 1000) / 2 - 7 - 8 + 70);
  // Deleting while iterating visits the rest, as with a Map.
  for (const [key, value] of map) if (value % 2 === 0) map.delete(key);
  assert.equal(map.size, [...map.values()].length);
  assert.ok([...map.values()].every((v) => v % 2 === 1));
  map.clear();
  assert.equal(map.size, 0);
  assert.deepEqual([...map], []);
});

test('ShardedMap: oldestBeside names the oldest key of the new key\'s shard', () => {
  const map = new ShardedMap<number>();
  const keys = Array.from({ length: 500 }, (_, i) => `/rrds/C/h${i}/m.rrd`);
  keys.forEach((k, i) => map.set(k, i));
  const probe = '/rrds/C/h9999/m.rrd';
  const oldest = map.oldestBeside(probe)!;
  // Among the keys sharing its shard (those that oldestBeside names as their own shard's
  // oldest once earlier ones are gone), it is the first inserted.
  const sameShard = keys.filter((k) => map.oldestBeside(k) === oldest);
  assert.equal(sameShard[0], oldest);
  map.delete(oldest);
  assert.equal(map.oldestBeside(probe), sameShard[1]);
  assert.equal(new ShardedMap<number>().oldestBeside(probe), undefined);
});

test('ShardedMap: paths of a 100k-host tree spread evenly (no shard holds twice its share)', () => {
  const map = new ShardedMap<number>();
  let n = 0;
  for (let h = 0; h < 25_000; h++) for (const m of ['load_one', 'cpu_user', 'mem_free', 'bytes_in']) map.set(`/var/lib/ganglia/rrds/Big/host${h}/${m}.rrd`, n++);
  const perShard = new Map<string, number>();
  // Count per shard through oldestBeside: keys of one shard share their shard's oldest key.
  for (const key of map.keys()) {
    const shard = map.oldestBeside(key)!;
    perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
  }
  assert.equal(perShard.size, 64);
  const largest = Math.max(...perShard.values());
  assert.ok(largest < (2 * n) / 64, `largest shard ${largest} of ${n}`);
});
