/** Hosts and metrics a source stops listing: kept, ageing, until DMAX, as the C gmetad does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SOURCE_LIMITS } from '../../src/config/limits';
import type { DataSourceConfig } from '../../src/config/types';
import type { Cluster, SourceSnapshot } from '../../src/store/model';
import { Store, type StoreUpdate } from '../../src/store/store';
import { fullDumpPieces } from '../../src/server/query';
import { cluster, host, metric, snapshot, T_NOW } from '../helpers/tree-builders';
import { encodeSnapshot } from '../helpers/encode-snapshot';
import { clusterRows, snapshotOfImage } from '../../src/store/image/views';

const SOURCE: DataSourceConfig = { name: 'alpha', step: 15, addresses: [], origin: 't:1', limits: DEFAULT_SOURCE_LIMITS };

function storeWith(config: DataSourceConfig = SOURCE): { store: Store; updates: StoreUpdate[] } {
  const store = new Store({ gridname: 'G', authority: 'http://g/' });
  store.setSources([config]);
  const updates: StoreUpdate[] = [];
  store.onUpdate((u) => updates.push(u));
  return { store, updates };
}

function served(store: Store, name = 'C'): Cluster {
  const node = store.view().nodes.get(name);
  assert.ok(node && node.kind === 'cluster');
  return node;
}

const poll = (at: number, hosts: ReturnType<typeof host>[]): SourceSnapshot => snapshot('alpha', [cluster('C', hosts)], at);

test('a host the source stops listing is kept with its last record: TN grows, summaries count only the polled hosts', () => {
  const { store, updates } = storeWith();
  const gone = host('gone', [metric('load_one', { t0: T_NOW - 5 })], { t0: T_NOW - 5, dmax: 86400 });
  store.publish(poll(T_NOW, [host('stays', [metric('load_one')], { t0: T_NOW - 2 }), gone]));
  store.publish(poll(T_NOW + 15, [host('stays', [metric('load_one')], { t0: T_NOW + 13 })]));
  const c = served(store);
  assert.deepEqual([...c.hosts.keys()], ['stays', 'gone']);
  assert.equal(c.hosts.get('gone')!.t0, T_NOW - 5, 'its t0 is kept: TN = now - t0 grows');
  assert.equal(c.hosts.get('gone')!.up, false);
  assert.deepEqual([c.summary.hostsUp, c.summary.hostsDown], [1, 0], 'HOSTS counts what the document listed (C: hosts_up/down per poll)');
  assert.equal(c.summary.metrics.get('load_one')!.num, 1);
  const doc = [...fullDumpPieces(store.view(), T_NOW + 100)].join('');
  assert.match(doc, /<HOST NAME="gone" [^>]* TN="105" /);
  // Plugins (RRDs, exporters) get what was polled: nothing is written for the absent host.
  const last = updates[updates.length - 1].snapshot.nodes[0] as Cluster;
  assert.deepEqual([...last.hosts.keys()], ['stays']);
});

test('absent hosts go once now - t0 > DMAX; with DMAX 0 they stay', () => {
  const { store } = storeWith();
  store.publish(poll(T_NOW, [host('short', [], { t0: T_NOW, dmax: 100 }), host('forever', [], { t0: T_NOW, dmax: 0 }), host('x')]));
  store.publish(poll(T_NOW + 100, [host('x')]));
  assert.deepEqual([...served(store).hosts.keys()], ['x', 'short', 'forever'], 'TN 100 = DMAX: still kept');
  store.publish(poll(T_NOW + 101, [host('x')]));
  assert.deepEqual([...served(store).hosts.keys()], ['x', 'forever'], 'TN 101 > DMAX: gone');
  store.publish(poll(T_NOW + 10 * 365 * 86400, [host('x')]));
  assert.deepEqual([...served(store).hosts.keys()], ['x', 'forever']);
});

test('a metric a host stops listing is kept until its own DMAX; a host that comes back is fresh again', () => {
  const { store } = storeWith();
  store.publish(poll(T_NOW, [host('h', [metric('a', { t0: T_NOW }), metric('gmetric', { t0: T_NOW, dmax: 60 }), metric('keep', { t0: T_NOW })])]));
  store.publish(poll(T_NOW + 30, [host('h', [metric('a', { t0: T_NOW + 30 })])]));
  let h = served(store).hosts.get('h')!;
  assert.deepEqual([...h.metrics.keys()], ['a', 'gmetric', 'keep']);
  assert.equal(h.metrics.get('gmetric')!.t0, T_NOW);
  store.publish(poll(T_NOW + 61, [host('h', [metric('a', { t0: T_NOW + 61 })])]));
  h = served(store).hosts.get('h')!;
  assert.deepEqual([...h.metrics.keys()], ['a', 'keep'], 'gmetric past its DMAX of 60');
  store.publish(poll(T_NOW + 70, [host('h', [metric('a'), metric('keep', { t0: T_NOW + 70, val: '2' })])]));
  assert.equal(served(store).hosts.get('h')!.metrics.get('keep')!.val, '2');
});

test('absent hosts are kept while the source is dead, and merged again when it answers', () => {
  const { store } = storeWith();
  store.publish(poll(T_NOW, [host('a'), host('b')]));
  store.fail('alpha', 'refused');
  assert.deepEqual([...served(store).hosts.keys()], ['a', 'b']);
  store.publish(poll(T_NOW + 60, [host('a', [], { t0: T_NOW + 60 })]));
  assert.deepEqual([...served(store).hosts.keys()], ['a', 'b']);
});

test('at most max_hosts per cluster: the hosts silent the longest go first (spoofed names cannot grow memory)', () => {
  const { store } = storeWith({ ...SOURCE, limits: { ...DEFAULT_SOURCE_LIMITS, maxHosts: 4 } });
  store.publish(poll(T_NOW, [host('old', [], { t0: T_NOW - 50, dmax: 0 }), host('mid', [], { t0: T_NOW - 20, dmax: 0 }),
    host('new', [], { t0: T_NOW - 1, dmax: 0 })]));
  store.publish(poll(T_NOW + 15, [host('p1'), host('p2')]));
  assert.deepEqual([...served(store).hosts.keys()].sort(), ['mid', 'new', 'p1', 'p2']);
});

test('at most max_metrics per source: absent metrics and hosts beyond it are dropped (spoofed metric names cannot grow memory)', () => {
  const { store } = storeWith({ ...SOURCE, limits: { ...DEFAULT_SOURCE_LIMITS, maxMetrics: 4 } });
  const m = (name: string) => metric(name, { t0: T_NOW, dmax: 0 });
  store.publish(poll(T_NOW, [host('h', [m('a'), m('b'), m('c')]), host('gone', [m('x'), m('y')], { dmax: 0 })]));
  store.publish(poll(T_NOW + 15, [host('h', [m('a'), m('b')])]));
  // 2 polled + 1 absent metric fit in 4; the absent host's 2 metrics would not.
  const c = served(store);
  assert.deepEqual([...c.hosts.keys()], ['h']);
  assert.deepEqual([...c.hosts.get('h')!.metrics.keys()], ['a', 'b', 'c']);
});

test('a cluster the source stops listing is kept as C keeps it: served, ageing, counted in the root grid, never given to plugins', () => {
  const { store, updates } = storeWith();
  const old = cluster('Old', [host('o1', [metric('load_one', { t0: T_NOW - 5 })], { t0: T_NOW - 5, dmax: 0 })]);
  store.publish(snapshot('alpha', [cluster('C', [host('c1')]), old], T_NOW));
  store.publish(snapshot('alpha', [cluster('C', [host('c1')])], T_NOW + 15));
  const kept = served(store, 'Old');
  assert.deepEqual([...kept.hosts.keys()], ['o1']);
  assert.equal(kept.hosts.get('o1')!.up, false);
  assert.deepEqual(kept.summary, old.summary, 'its summary is the one last polled (C keeps hosts_up/down of the last listing)');
  assert.equal(store.view().rootSummary.hostsUp, 2, 'C adds every cluster of an answering source to the root grid');
  const doc = [...fullDumpPieces(store.view(), T_NOW + 100)].join('');
  assert.match(doc, /<CLUSTER NAME="Old" [^]*<HOST NAME="o1" [^>]* TN="105" /);
  const last = updates[updates.length - 1].snapshot;
  assert.deepEqual(last.nodes.map((n) => n.name), ['C'], 'plugins get the poll as polled');
  assert.equal(last.absentNodes, undefined);
  // Still kept at later polls, and listed again it is the fresh one.
  store.publish(snapshot('alpha', [cluster('C', [host('c1')])], T_NOW + 30));
  assert.ok(store.view().nodes.has('Old'));
  store.publish(snapshot('alpha', [cluster('C', [host('c1')]), cluster('Old', [host('o2')])], T_NOW + 45));
  assert.deepEqual([...served(store, 'Old').hosts.keys()], ['o2', 'o1'], 'back: o1 is now an absent host of a listed cluster');
});

test('an absent cluster loses its hosts at their DMAX and then stays, empty (C never deletes a source)', () => {
  const { store } = storeWith();
  store.publish(snapshot('alpha', [cluster('C'), cluster('Old', [host('short', [], { t0: T_NOW, dmax: 20 }), host('long', [], { t0: T_NOW, dmax: 40 })])], T_NOW));
  store.publish(snapshot('alpha', [cluster('C')], T_NOW + 15));
  assert.deepEqual([...served(store, 'Old').hosts.keys()], ['short', 'long']);
  store.publish(snapshot('alpha', [cluster('C')], T_NOW + 30));
  assert.deepEqual([...served(store, 'Old').hosts.keys()], ['long']);
  store.publish(snapshot('alpha', [cluster('C')], T_NOW + 60));
  assert.deepEqual([...served(store, 'Old').hosts.keys()], []);
  const doc = [...fullDumpPieces(store.view(), T_NOW + 60)].join('');
  assert.match(doc, /<CLUSTER NAME="Old" [^>]*>\s*<\/CLUSTER>/);
});

test('an absent cluster yields to a source that lists its name, and is left out of the root grid while its source is dead', () => {
  const store = new Store({ gridname: 'G', authority: 'http://g/' });
  store.setSources([SOURCE, { ...SOURCE, name: 'beta' }]);
  store.publish(snapshot('alpha', [cluster('A', [host('a1')]), cluster('X', [host('from-alpha')])], T_NOW));
  store.publish(snapshot('beta', [cluster('X', [host('from-beta')])], T_NOW + 1));
  assert.equal(store.view().rootSummary.hostsUp, 1 + 1, 'a name two sources list counts once (the last poll wins it)');
  store.publish(snapshot('alpha', [cluster('A', [host('a1')])], T_NOW + 15));
  assert.deepEqual([...served(store, 'X').hosts.keys()], ['from-beta'], 'a listed cluster beats a kept one, whatever the poll times');
  assert.equal(store.view().rootSummary.hostsUp, 1 + 1, 'X counts once (beta), A once');
  store.setSources([SOURCE]);
  assert.deepEqual([...served(store, 'X').hosts.keys()], ['from-alpha'], 'beta removed: the kept one is served');
  assert.equal(store.view().rootSummary.hostsUp, 2);
  store.fail('alpha', 'down');
  assert.equal(store.view().rootSummary.hostsUp, 0);
  assert.ok(store.view().nodes.has('X'));
});

test('absent clusters are bounded: hosts in all within max_hosts (an empty one counts one), the ones absent the longest go first', () => {
  const { store } = storeWith({ ...SOURCE, limits: { ...DEFAULT_SOURCE_LIMITS, maxHosts: 4 } });
  const spoofed = (i: number) => cluster(`S${i}`, [host(`h${i}`, [], { dmax: 0 })]);
  for (let i = 0; i < 10; i += 1) store.publish(snapshot('alpha', [cluster('C', [host('c1')]), spoofed(i)], T_NOW + 15 * i));
  const names = [...store.view().nodes.keys()].sort();
  // c1 and S9 listed; room for 2 more absent hosts: the two most recently listed.
  assert.deepEqual(names, ['C', 'S7', 'S8', 'S9']);
});

test('an absent cluster read from a poll image is copied out of it, with its hosts and metrics intact', () => {
  const { store } = storeWith();
  const polled = snapshotOfImage(encodeSnapshot(snapshot('alpha', [cluster('C'), cluster('Old', [host('o1', [metric('load_one', { val: '1.5', t0: T_NOW, dmax: 0 })], { t0: T_NOW, dmax: 0 })])], T_NOW)));
  store.publish(polled);
  store.publish(snapshot('alpha', [cluster('C')], T_NOW + 15));
  const kept = served(store, 'Old');
  assert.equal(clusterRows(kept), undefined, 'not a view of the old image');
  const m = kept.hosts.get('o1')!.metrics.get('load_one')!;
  assert.deepEqual([m.val, m.t0, m.type], ['1.5', T_NOW, metric('load_one').type]);
  assert.equal(kept.hosts.get('o1')!.up, false);
});
