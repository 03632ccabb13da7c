/**
 * SourceImage: what a parse worker sends to the main thread. The views must read back
 * exactly the object tree it was encoded from, dumps rendered from it must be byte-identical
 * to dumps rendered from the objects, and its buffers must survive a transfer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { gangliaDocuments, gangliaImageDocuments } from '../../src/readers/ganglia-document';
import { PollAbort, type AttemptResult, type DocumentFetcher } from '../../src/readers/fetch-document';
import { ParsePool } from '../../src/readers/parse-pool';
import { type SourceImage, transferList } from '../../src/store/image/format';
import { clusterRows, snapshotOfImage } from '../../src/store/image/views';
import { keepAbsent } from '../../src/store/lifetime';
import type { Host, Metric, SourceSnapshot, TreeNode } from '../../src/store/model';
import { SUMMARIZE_ALL } from '../../src/store/summary';
import { PieceBatcher } from '../../src/server/shared-dump-cache';
import { fullDumpPieces, queryPieces } from '../../src/server/query';
import { DaemonStats } from '../../src/util/stats';
import { Fuzz, mutateDocument, randomDocument, seededRandom } from '../helpers/hostile-docs';
import { startFakeGmond, type FakeGmond, type FakeGmondBehaviour } from '../helpers/fake-gmond';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/processes';
import { view } from '../helpers/tree-builders';

const ANCHOR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
const NOW = 1_795_255_613;

function fixture(relative: string): string {
  return fs.readFileSync(path.join(ANCHOR, relative), 'latin1').replace(/@NOW@/g, String(NOW));
}

/** `text` parsed into objects: the reference the image is compared with. */
function parse(text: string, pollTime = NOW, scalable = true): SourceSnapshot {
  const doc = gangliaDocuments({ source: 'src', scalable, policy: SUMMARIZE_ALL })(pollTime);
  doc.write(text);
  return doc.finish();
}

/** `text` parsed into an image, as the parse workers do. */
function parseImage(text: string, pollTime = NOW, scalable = true): SourceImage {
  const doc = gangliaImageDocuments({ source: 'src', scalable, policy: SUMMARIZE_ALL })(pollTime);
  doc.write(text);
  return doc.finish();
}

/** Everything a plugin can read, as plain data. */
function plainMetric(m: Metric): object {
  return {
    name: m.name, val: m.val, type: m.type, units: m.units, t0: m.t0, tmax: m.tmax, dmax: m.dmax, slope: m.slope,
    source: m.source, extra: m.extra.map((e) => ({ name: e.name, val: e.val })),
  };
}

function plainHost(h: Host): object {
  return {
    name: h.name, ip: h.ip, reported: h.reported, t0: h.t0, tmax: h.tmax, dmax: h.dmax, location: h.location,
    gmondStarted: h.gmondStarted, tags: h.tags, up: h.up,
    metrics: [...h.metrics.entries()].map(([k, m]) => [k, plainMetric(m)]),
  };
}

function plainNode(n: TreeNode): object {
  const summary = { up: n.summary.hostsUp, down: n.summary.hostsDown, metrics: [...n.summary.metrics.entries()] };
  if (n.kind === 'grid') return { kind: n.kind, name: n.name, authority: n.authority, localtime: n.localtime, summary };
  return {
    kind: n.kind, name: n.name, localtime: n.localtime, owner: n.owner, latlong: n.latlong, url: n.url, summary,
    hosts: [...n.hosts.entries()].map(([k, h]) => [k, plainHost(h)]),
  };
}

function plain(s: SourceSnapshot): object {
  return { source: s.source, polledAt: s.polledAt, nodes: s.nodes.map(plainNode) };
}

function text(pieces: Iterable<string | Uint8Array>): string {
  const batcher = new PieceBatcher(pieces[Symbol.iterator](), 1000); // small chunks: exercises splitting
  const out: Buffer[] = [];
  for (let b = batcher.next(); b !== null; b = batcher.next()) out.push(Buffer.from(b));
  return Buffer.concat(out).toString('latin1');
}

/** Sends the image through a real MessagePort with its buffers transferred. */
function transferred(image: SourceImage): SourceImage {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(image, transferList(image));
  assert.equal(image.metrics.byteLength, 0, 'the sender no longer holds the buffers');
  const received = receiveMessageOnPort(port2)!.message as SourceImage;
  port1.close();
  return received;
}

const DOCUMENTS = ['gmond.xml', 'gmetad-xmlport.xml', 'escaping/gmond-escaping.xml', 'crafted/escape.xml', 'crafted/grid-source.xml'];

for (const name of DOCUMENTS) {
  test(`image of ${name}: the views read back the object tree, dumps are byte-identical`, () => {
    const objects = parse(fixture(name));
    const image = transferred(parseImage(fixture(name)));
    const views = snapshotOfImage(image);
    assert.deepEqual(plain(views), plain(objects));
    assert.ok(views.nodes.some((n) => n.kind === 'grid') || views.nodes.every((n) => clusterRows(n as never) !== undefined));
    for (const later of [0, 100, 100_000]) {
      const now = NOW + later;
      assert.equal(text(fullDumpPieces(view(views.nodes), now)), text(fullDumpPieces(view(objects.nodes), now)), `at +${later} s`);
    }
    // Queries read the views through the same walker.
    for (const node of objects.nodes) {
      const q = { http: false, path: [node.name], filter: null } as const;
      assert.equal(text(queryPieces(view(views.nodes), q, NOW)), text(queryPieces(view(objects.nodes), q, NOW)));
      if (node.kind !== 'cluster') continue;
      const host = [...node.hosts.keys()].at(-1)!;
      const hq = { http: true, path: [node.name, host, '*'], filter: null } as const;
      assert.equal(text(queryPieces(view(views.nodes), hq, NOW)), text(queryPieces(view(objects.nodes), hq, NOW)));
    }
  });
}

/**
 * A document whose names repeat: metric names within a host, host names within a cluster,
 * cluster names, hosts inside grids, expired and unknown-type metrics, EXTRA_DATA that
 * changes between hosts. The later element of a repeated name replaces the earlier one in
 * its place; everything else follows the builder's rules.
 */
function repetitiveDocument(f: Fuzz, repeats: { hosts: number; metrics: number }): string {
  const out = ['<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">'];
  const nodes = 1 + f.int(4);
  for (let n = 0; n < nodes; n++) {
    const grid = f.chance(0.25);
    if (grid) out.push(`<GRID NAME="g${f.int(2)}" AUTHORITY="a" LOCALTIME="${NOW}">`);
    out.push(`<CLUSTER NAME="c${f.int(3)}" LOCALTIME="${NOW}" OWNER="o${f.int(2)}" LATLONG="l" URL="u">`);
    const hosts = f.int(6);
    const hostNames = new Set<number>();
    for (let h = 0; h < hosts; h++) {
      const tn = f.pick([0, 5, 90]);
      const hostName = f.int(4);
      if (hostNames.has(hostName)) repeats.hosts++;
      hostNames.add(hostName);
      out.push(`<HOST NAME="h${hostName}" IP="10.0.0.${f.int(9)}" REPORTED="${NOW - tn}" TN="${tn}" TMAX="20" DMAX="${f.pick([0, 60])}"`
        + `${f.chance(0.8) ? ` LOCATION="r${f.int(3)}"` : ''} GMOND_STARTED="1"${f.chance(0.5) ? ' TAGS="t&amp;u"' : ''}>`);
      const metrics = f.int(7);
      const metricNames = new Set<number>();
      for (let m = 0; m < metrics; m++) {
        const type = f.pick(['float', 'uint32', 'string', 'double', 'int64']);
        const metricName = f.int(5);
        if (metricNames.has(metricName)) repeats.metrics++;
        metricNames.add(metricName);
        const val = type === 'string' ? f.pick(['a &lt;b&gt;', 'Linux 5.10.0-1-amd64 and more', '']) : String(f.int(1000) / 10);
        out.push(`<METRIC NAME="m${metricName}" VAL="${val}" TYPE="${type}" UNITS="${f.pick(['', 'KB', '%'])}" TN="${f.int(40)}"`
          + ` TMAX="60" DMAX="${f.pick([0, 0, 30])}" SLOPE="${f.pick(['both', 'zero'])}"${f.chance(0.2) ? ' SOURCE="gmetric"' : ''}>`);
        if (f.chance(0.7)) {
          out.push(`<EXTRA_DATA><EXTRA_ELEMENT NAME="GROUP" VAL="g${f.int(2)}"/>`
            + `${f.chance(0.3) ? `<EXTRA_ELEMENT NAME="SPOOF_HOST" VAL="x:h${h}"/>` : ''}</EXTRA_DATA>`);
        }
        out.push('</METRIC>');
      }
      out.push('</HOST>');
    }
    out.push('</CLUSTER>');
    if (grid) out.push('</GRID>');
  }
  out.push('</GANGLIA_XML>');
  return out.join('\n');
}

test('property: documents written straight into an image read and dump exactly as the same documents built as objects', () => {
  const f = new Fuzz(seededRandom(11));
  let compared = 0;
  /** Repeated names the generator wrote: it must write many, or this proves little. */
  const repeats = { hosts: 0, metrics: 0 };
  for (let i = 0; i < 400; i++) {
    const kind = i % 4;
    const doc = kind < 2 ? repetitiveDocument(f, repeats) : kind === 2 ? randomDocument(f, NOW) : mutateDocument(f, randomDocument(f, NOW));
    const scalable = f.chance(0.7);
    let objects: SourceSnapshot;
    try {
      objects = parse(doc, NOW, scalable);
    } catch (err) {
      assert.throws(() => parseImage(doc, NOW, scalable), { message: (err as Error).message }, `document ${i}`);
      continue;
    }
    const views = snapshotOfImage(transferred(parseImage(doc, NOW, scalable)));
    assert.deepEqual(plain(views), plain(objects), `document ${i}`);
    for (const later of [0, 45]) {
      assert.equal(text(fullDumpPieces(view(views.nodes), NOW + later)), text(fullDumpPieces(view(objects.nodes), NOW + later)), `document ${i}`);
    }
    compared++;
  }
  assert.ok(compared >= 250, `compared ${compared}`);
  assert.ok(repeats.hosts > 50 && repeats.metrics > 50, JSON.stringify(repeats));
});

test('image: a repeated metric name in a host and a repeated host name in a cluster replace the earlier one in its place', () => {
  const doc = '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="C" LOCALTIME="1" OWNER="o" LATLONG="l" URL="u">'
    + `<HOST NAME="a" IP="1" REPORTED="${NOW}" TN="1" TMAX="20" DMAX="0" LOCATION="l" GMOND_STARTED="1" TAGS="">`
    + '<METRIC NAME="x" VAL="1" TYPE="uint32" UNITS="" TN="1" TMAX="60" DMAX="0" SLOPE="both"/>'
    + '<METRIC NAME="y" VAL="2" TYPE="uint32" UNITS="" TN="1" TMAX="60" DMAX="0" SLOPE="both"/>'
    + '<METRIC NAME="x" VAL="three" TYPE="string" UNITS="" TN="2" TMAX="60" DMAX="0" SLOPE="zero"/>'
    + `</HOST><HOST NAME="b" IP="2" REPORTED="${NOW}" TN="1" TMAX="20" DMAX="0" LOCATION="l" GMOND_STARTED="1" TAGS=""/>`
    + `<HOST NAME="a" IP="3" REPORTED="${NOW}" TN="4" TMAX="20" DMAX="0" LOCATION="l2" GMOND_STARTED="1" TAGS="">`
    + '<METRIC NAME="z" VAL="4" TYPE="float" UNITS="" TN="1" TMAX="60" DMAX="0" SLOPE="both"/>'
    + '</HOST></CLUSTER></GANGLIA_XML>';
  const c = snapshotOfImage(transferred(parseImage(doc))).nodes[0];
  assert.ok(c.kind === 'cluster');
  assert.deepEqual([...c.hosts.keys()], ['a', 'b']);
  const a = c.hosts.get('a')!;
  assert.deepEqual([a.ip, a.location, [...a.metrics.keys()], a.metrics.get('z')!.val], ['3', 'l2', ['z'], '4']);
  const first = parseImage(doc.replace(/<HOST NAME="a" IP="3"[^]*<\/HOST>/, ''));
  const x = snapshotOfImage(first).nodes[0];
  assert.ok(x.kind === 'cluster');
  const metrics = x.hosts.get('a')!.metrics;
  assert.deepEqual([...metrics.keys()], ['x', 'y']);
  assert.deepEqual([metrics.get('x')!.val, metrics.get('x')!.type, metrics.get('x')!.slope, metrics.get('x')!.t0], ['three', 'string', 'zero', NOW - 2]);
  // Both values of x were summed as they streamed past (as the C gmetad does), the string not.
  assert.deepEqual([x.summary.metrics.get('x')!.sum, x.summary.metrics.get('x')!.num], [1, 1]);
});

test('image: DMAX expiry of hosts and metrics at dump time follows the one rule', () => {
  const doc = '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="C" LOCALTIME="1" OWNER="o" LATLONG="l" URL="u">'
    + '<HOST NAME="keep" IP="1" REPORTED="1" TN="5" TMAX="20" DMAX="0" LOCATION="l" GMOND_STARTED="1" TAGS="">'
    + '<METRIC NAME="short" VAL="1" TYPE="uint32" UNITS="" TN="10" TMAX="60" DMAX="30" SLOPE="both"/>'
    + '<METRIC NAME="forever" VAL="2.5" TYPE="float" UNITS="" TN="10" TMAX="60" DMAX="0" SLOPE="both"/>'
    + '</HOST><HOST NAME="brief" IP="2" REPORTED="1" TN="5" TMAX="20" DMAX="50" LOCATION="l" GMOND_STARTED="1" TAGS=""/>'
    + '</CLUSTER></GANGLIA_XML>';
  const views = snapshotOfImage(parseImage(doc));
  const dump = (later: number) => text(fullDumpPieces(view(views.nodes), NOW + later));
  assert.match(dump(20), /NAME="short"/); // TN 30: not past DMAX 30
  assert.doesNotMatch(dump(21), /NAME="short"/);
  assert.match(dump(21), /NAME="forever"[^\n]* TN="31"/);
  assert.match(dump(45), /NAME="brief"/);
  assert.doesNotMatch(dump(46), /NAME="brief"/);
  assert.equal(dump(21), text(fullDumpPieces(view(parse(doc).nodes), NOW + 21)));
});

test('image views are maps: lookups, sizes, iteration order, absent keys', () => {
  const views = snapshotOfImage(parseImage(fixture('gmond.xml')));
  const objects = parse(fixture('gmond.xml'));
  const c = views.nodes[0];
  const o = objects.nodes[0];
  assert.ok(c.kind === 'cluster' && o.kind === 'cluster');
  assert.equal(c.hosts.size, o.hosts.size);
  assert.deepEqual([...c.hosts.keys()], [...o.hosts.keys()]);
  for (const [name, host] of o.hosts) {
    const v: Host = c.hosts.get(name)!;
    assert.equal(v.name, name);
    assert.equal(v.metrics.size, host.metrics.size);
    for (const metricName of host.metrics.keys()) assert.equal(v.metrics.get(metricName)!.val, host.metrics.get(metricName)!.val);
    assert.equal(v.metrics.get('no such metric'), undefined);
    assert.equal(v.metrics.has('no such metric'), false);
  }
  assert.equal(c.hosts.get('no such host'), undefined);
  let seen = 0;
  c.hosts.forEach((h, k, map) => { assert.equal(h.name, k); assert.equal(map, c.hosts); seen++; });
  assert.equal(seen, c.hosts.size);
});

test('image views through keepAbsent: a host and a metric the next poll omits are kept, dumps equal the objects\'', () => {
  const first = fixture('gmond.xml');
  const objects1 = parse(first);
  const c = objects1.nodes[0];
  assert.ok(c.kind === 'cluster');
  const [gone, other] = [...c.hosts.keys()];
  const dropMetric = [...c.hosts.get(other)!.metrics.values()].find((m) => m.dmax === 0)!.name;
  // The next poll: one host fewer, one metric of another host fewer.
  const second = first
    .replace(new RegExp(`<HOST NAME="${gone}"[^]*?</HOST>\\n`), '')
    .replace(new RegExp(`(<HOST NAME="${other}"[^]*?)<METRIC NAME="${dropMetric}"[^]*?</METRIC>\\n`), '$1');
  assert.notEqual(second, first);
  const later = NOW + 15;
  const fromObjects = keepAbsent(objects1, parse(second, later), Infinity);
  const fromImages = keepAbsent(snapshotOfImage(parseImage(first)), snapshotOfImage(parseImage(second, later)), Infinity);
  const kept = fromImages.nodes[0];
  assert.ok(kept.kind === 'cluster');
  assert.ok(kept.hosts.has(gone));
  assert.ok(kept.hosts.get(other)!.metrics.has(dropMetric));
  const fromObjectsCluster = fromObjects.nodes[0];
  assert.ok(fromObjectsCluster.kind === 'cluster' && fromObjectsCluster.hosts.get(other)!.metrics.has(dropMetric));
  assert.equal(text(fullDumpPieces(view(fromImages.nodes), later + 5)), text(fullDumpPieces(view(fromObjects.nodes), later + 5)));
});

const POOL_SETTINGS = { scalable: true, summary: { unsummarizedMetrics: [], unsummarizedSflowVmMetrics: false, summarizedMetrics: [] } };

/** One attempt through a pool fetcher at a fake gmond's port. */
function fetchFrom(fetcher: DocumentFetcher, port: number, signal = new AbortController().signal, onConnected: () => void = () => undefined): Promise<AttemptResult> {
  return fetcher.fetch({ address: { host: '127.0.0.1', port }, pollTime: NOW, connectMs: 2000, idleMs: 5000, maxDocumentBytes: 64 * 1024 * 1024 },
    signal, onConnected);
}

function snapshotOf(result: AttemptResult): SourceSnapshot {
  assert.equal(result.kind, 'ok', JSON.stringify(result));
  return (result as Extract<AttemptResult, { kind: 'ok' }>).snapshot;
}

async function gmond(t: { after(fn: () => Promise<void>): void }, behaviour: FakeGmondBehaviour): Promise<FakeGmond> {
  const g = await startFakeGmond(behaviour);
  t.after(() => g.close());
  return g;
}

test('parse pool: the worker reads the socket itself; its document equals the one parsed inline; failures come back as the poller words them', async (t) => {
  const stats = new DaemonStats();
  const pool = new ParsePool(2, { stats });
  t.after(() => pool.close());
  const bytes = Buffer.from(fixture('gmetad-xmlport.xml'), 'latin1');
  const expected = parse(fixture('gmetad-xmlport.xml'));

  const served = await gmond(t, { kind: 'serve', body: bytes, chunkSize: 7777 });
  const fetcher = pool.fetcher({ source: 'src', settings: POOL_SETTINGS });
  for (let round = 0; round < 2; round++) { // the second poll reuses the worker's interner
    let connected = 0;
    const result = await fetchFrom(fetcher, served.port, undefined, () => { connected++; });
    assert.deepEqual(plain(snapshotOf(result)), plain(expected));
    assert.equal((result as { bytes: number }).bytes, bytes.length);
    assert.equal(connected, 1);
  }
  assert.ok(stats.metricsReceived > 0);
  const gzipped = await gmond(t, { kind: 'gzip', body: bytes });
  assert.deepEqual(plain(snapshotOf(await fetchFrom(fetcher, gzipped.port))), plain(expected));

  // Nothing received: the poller may try the next address.
  const closed = await freePort();
  assert.deepEqual(await fetchFrom(fetcher, closed), { kind: 'unusable', reason: 'connection refused' });
  // Malformed, truncated, over a limit: the poll fails.
  const bad = await gmond(t, { kind: 'serve', body: '<GANGLIA_XML><CLUSTER NAME="x" <<<' });
  const malformed = await fetchFrom(pool.fetcher({ source: 'b', settings: POOL_SETTINGS }), bad.port);
  assert.equal(malformed.kind, 'failed');
  assert.match((malformed as { reason: string }).reason, /^(parse error|incomplete document): /);
  const cut = await gmond(t, { kind: 'serve', body: bytes.subarray(0, 5000) });
  const truncated = await fetchFrom(pool.fetcher({ source: 'b', settings: POOL_SETTINGS }), cut.port);
  assert.equal(truncated.kind, 'failed');
  assert.match((truncated as { reason: string }).reason, /^incomplete document: /);
  const many = await gmond(t, { kind: 'serve', body: fixture('gmond.xml') });
  const limited = await fetchFrom(pool.fetcher({ source: 'd', settings: { ...POOL_SETTINGS, maxHosts: 1 } }), many.port);
  assert.equal(limited.kind, 'failed');
  assert.match((limited as { reason: string }).reason,
    /^max_hosts exceeded: the document lists more than 1 hosts.*; poll aborted, last good data kept$/);

  // The poller's abort (its deadline, stop()) ends the read in the worker, with the bytes it had.
  const hung = await gmond(t, { kind: 'hang', body: bytes, afterBytes: 1000 });
  const controller = new AbortController();
  const pending = fetchFrom(fetcher, hung.port, controller.signal, () => setTimeout(() => controller.abort(new PollAbort('deadline', false)), 100));
  const abortedResult = await pending;
  assert.deepEqual(abortedResult, { kind: 'aborted', reason: 'deadline', bytes: 1000, stopped: false });
  await waitFor(() => hung.active === 0);
});

test('parse pool: a worker that dies fails the attempts in flight with a clear error; the next poll gets a new worker', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-pool-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A worker that dies on its first attempt, then (restarted) one that is the real worker.
  const flag = path.join(dir, 'died-once');
  const file = path.join(dir, 'worker.js');
  fs.writeFileSync(file, `
const fs = require('fs');
if (!fs.existsSync(${JSON.stringify(flag)})) {
  require('worker_threads').parentPort.on('message', (m) => { if (m.type === 'fetch') { fs.writeFileSync(${JSON.stringify(flag)}, ''); process.exit(3); } });
} else {
  require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'readers', 'parse-worker.js'))});
}
`);
  const pool = new ParsePool(1, { file });
  t.after(() => pool.close());
  const g = await gmond(t, { kind: 'serve', body: fixture('gmond.xml') });
  const fetcher = pool.fetcher({ source: 'src', settings: POOL_SETTINGS });
  assert.deepEqual(await fetchFrom(fetcher, g.port), { kind: 'failed', reason: 'parse worker exited with code 3', bytes: 0 });
  assert.deepEqual(plain(snapshotOf(await fetchFrom(fetcher, g.port))), plain(parse(fixture('gmond.xml'))));
});

test('parse pool: a worker that does not answer an abort is replaced, and the poll ends anyway', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-pool-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'deaf-worker.js');
  fs.writeFileSync(file, "require('worker_threads').parentPort.on('message', () => undefined);\n");
  const pool = new ParsePool(1, { file, abortAnswerMs: 50 });
  t.after(() => pool.close());
  const controller = new AbortController();
  const pending = fetchFrom(pool.fetcher({ source: 'src', settings: POOL_SETTINGS }), 9);
  const other = fetchFrom(pool.fetcher({ source: 'src', settings: POOL_SETTINGS }), 9, controller.signal);
  controller.abort(new PollAbort('poller stopped', true));
  assert.deepEqual(await other, { kind: 'aborted', reason: 'poller stopped', bytes: 0, stopped: true });
  assert.deepEqual(await pending, { kind: 'failed', reason: 'parse worker did not answer an abort and was replaced', bytes: 0 });
});

test('parse pool: after a large attempt fails or is aborted its worker is replaced once idle (its memory goes back whole); small failures keep it', async (t) => {
  const pool = new ParsePool(1, { recycleAfterBytes: 4096 });
  t.after(() => pool.close());
  const text = fixture('gmond.xml');
  assert.ok(text.length > 4096);
  const expected = plain(parse(text));
  const good = pool.fetcher({ source: 'src', settings: POOL_SETTINGS });
  const served = await gmond(t, { kind: 'serve', body: text });
  assert.deepEqual(plain(snapshotOf(await fetchFrom(good, served.port))), expected);

  // A small broken document: the worker stays.
  const bad = await gmond(t, { kind: 'serve', body: '<GANGLIA_XML><CLUSTER NAME="x" <<<' });
  assert.equal((await fetchFrom(pool.fetcher({ source: 'bad', settings: POOL_SETTINGS }), bad.port)).kind, 'failed');
  assert.equal(pool.recycledWorkers, 0);

  // A large one past a limit while another source's poll is in flight on the same worker:
  // that poll is not disturbed; the worker goes once it is done.
  const slow = await gmond(t, { kind: 'serve', body: text, chunkSize: Math.ceil(text.length / 4), gapMs: 150 });
  const inFlight = fetchFrom(good, slow.port);
  const limited = await fetchFrom(pool.fetcher({ source: 'bad', settings: { ...POOL_SETTINGS, maxHosts: 1 } }), served.port);
  assert.equal(limited.kind, 'failed');
  assert.equal(pool.recycledWorkers, 0, 'not while a poll is in flight');
  assert.deepEqual(plain(snapshotOf(await inFlight)), expected);
  assert.equal(pool.recycledWorkers, 1, 'replaced once idle');
  // The next polls run in the fresh worker, as before.
  assert.deepEqual(plain(snapshotOf(await fetchFrom(good, served.port))), expected);

  // A large attempt aborted by the poller (its deadline, say) counts the same.
  const endless = await gmond(t, { kind: 'endless', head: '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="c" LOCALTIME="1">', unit: '<HOST NAME="h{n}" IP="1" REPORTED="1" TN="0" TMAX="20" DMAX="0" LOCATION="" GMOND_STARTED="0"></HOST>' });
  const controller = new AbortController();
  const result = await fetchFrom(pool.fetcher({ source: 'endless', settings: POOL_SETTINGS }), endless.port, controller.signal,
    () => setTimeout(() => controller.abort(new PollAbort('max_poll_seconds exceeded', false)), 200));
  assert.equal(result.kind, 'aborted');
  assert.equal(pool.recycledWorkers, 2);
  assert.deepEqual(plain(snapshotOf(await fetchFrom(good, served.port))), expected);
});
