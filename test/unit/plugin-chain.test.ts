import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { GmetadPlugin, PluginEvent } from '../../src/plugins/api';
import { PluginChain } from '../../src/plugins/chain';
import type { SourceSnapshot } from '../../src/store/model';
import { Store } from '../../src/store/store';
import { DaemonStats } from '../../src/util/stats';

const logger = pino({ level: 'silent' });

function event(n: number): PluginEvent {
  const snapshot: SourceSnapshot = { source: `s${n}`, polledAt: n, nodes: [] };
  const view = new Store({ gridname: 'g', authority: 'a' }).view();
  return { kind: 'source', snapshot, step: 15, view };
}

function recorder(name: string, delayMs = 0): GmetadPlugin & { seen: string[]; flushed: boolean; stopped: boolean } {
  const plugin = {
    name,
    seen: [] as string[],
    flushed: false,
    stopped: false,
    async notify(e: PluginEvent) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (e.kind === 'source') plugin.seen.push(e.snapshot.source);
    },
    async flush() { plugin.flushed = true; },
    stop() { plugin.stopped = true; },
  };
  return plugin;
}

test('events reach every plugin in order, and shutdown delivers what was queued', async () => {
  const stats = new DaemonStats();
  const a = recorder('a', 5);
  const b = recorder('b');
  const chain = new PluginChain([a, b], logger, stats);
  await chain.start();
  for (let i = 0; i < 5; i++) chain.notify(event(i));
  await chain.shutdown();
  assert.deepEqual(a.seen, ['s0', 's1', 's2', 's3', 's4']);
  assert.deepEqual(b.seen, ['s0', 's1', 's2', 's3', 's4']);
  assert.ok(a.flushed && a.stopped && b.flushed && b.stopped);
  assert.equal(stats.plugins.get('a')!.notified, 5);
  chain.notify(event(9));
  assert.equal(a.seen.length, 5, 'no events after shutdown');
});

test('a plugin that throws is counted and does not affect the others', async () => {
  const stats = new DaemonStats();
  const bad: GmetadPlugin = { name: 'bad', notify() { throw new Error('boom'); } };
  const good = recorder('good');
  const chain = new PluginChain([bad, good], logger, stats);
  await chain.start();
  chain.notify(event(1));
  chain.notify(event(2));
  await chain.forceFlush();
  assert.equal(stats.plugins.get('bad')!.errors, 2);
  assert.deepEqual(good.seen, ['s1', 's2']);
});

test('a hanging plugin hits its deadline; a slow one drops beyond its queue, counted', async () => {
  const stats = new DaemonStats();
  const hang: GmetadPlugin = { name: 'hang', notify: () => new Promise(() => undefined) };
  const good = recorder('good');
  // The deadline is far longer than the loop below takes even on a loaded machine, so the
  // hanging plugin holds its first event for the whole loop: the counts are exact.
  const chain = new PluginChain([hang, good], logger, stats, { queueCapacity: 3, notifyTimeoutMs: 1_000 });
  await chain.start();
  for (let i = 0; i < 6; i++) {
    chain.notify(event(i)); // returns at once although 'hang' never settles
    // the good plugin keeps up (its queue never fills); the hanging one cannot
    while (good.seen.length < i + 1) await new Promise((r) => setImmediate(r));
  }
  assert.equal(stats.plugins.get('hang')!.errors, 0, 'no deadline passed during the loop');
  await chain.forceFlush();
  const counters = stats.plugins.get('hang')!;
  // The first event is taken off the queue at once; three wait; two find the queue full.
  assert.equal(counters.dropped, 2);
  assert.equal(counters.errors, 4);
  assert.deepEqual(good.seen, ['s0', 's1', 's2', 's3', 's4', 's5']);
});

test('a plugin whose start fails is disabled, the rest run', async () => {
  const stats = new DaemonStats();
  const broken: GmetadPlugin = { name: 'broken', start() { throw new Error('no'); }, notify() { throw new Error('never'); } };
  const good = recorder('good');
  const chain = new PluginChain([broken, good], logger, stats);
  await chain.start();
  assert.deepEqual(chain.names, ['good']);
  chain.notify(event(1));
  await chain.shutdown();
  assert.deepEqual(good.seen, ['s1']);
});
