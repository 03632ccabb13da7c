/**
 * ShardedMap: a Map by string key spread over a fixed number of smaller Maps.
 *
 * Why: a JavaScript Map grows by copying its whole table into one twice the size, in one
 * synchronous step. At a few hundred thousand entries (one per RRD file of a 100k-host
 * tree) that step alone takes 20-30 ms, while the event loop must not be held more than a
 * few milliseconds at a time. With 64 shards each table holds a 64th of the entries and
 * grows in steps 64 times shorter.
 *
 * The shard of a key is a hash of all its characters (the keys that matter are paths,
 * which differ anywhere: host names in the middle, metric names at the end). Iteration is
 * shard by shard, each in insertion order.
 */
const SHARDS = 64;

function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (SHARDS - 1);
}

export class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map<string, V>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shards[shardOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.shards[shardOf(key)]!.has(key);
  }

  set(key: string, value: V): this {
    const shard = this.shards[shardOf(key)]!;
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
    return this;
  }

  delete(key: string): boolean {
    const deleted = this.shards[shardOf(key)]!.delete(key);
    if (deleted) this.count -= 1;
    return deleted;
  }

  clear(): void {
    for (const shard of this.shards) shard.clear();
    this.count = 0;
  }

  /** The oldest key in the shard `key` belongs to (what an insertion of `key` would evict), or undefined. */
  oldestBeside(key: string): string | undefined {
    return this.shards[shardOf(key)]!.keys().next().value;
  }

  *keys(): IterableIterator<string> {
    for (const shard of this.shards) yield* shard.keys();
  }

  *values(): IterableIterator<V> {
    for (const shard of this.shards) yield* shard.values();
  }

  *entries(): IterableIterator<[string, V]> {
    for (const shard of this.shards) yield* shard.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}
