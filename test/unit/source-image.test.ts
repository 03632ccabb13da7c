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
import { DocumentError, LimitExceeded } from '../../src/readers/document';
import { gangliaDocuments, gangliaImageDocuments, inlineDocumentFactory } from '../../src/readers/ganglia-document';
import { ParsePool } from '../../src/readers/parse-pool';
import { type SourceImage, transferList } from '../../src/store/image/format';
import { clusterRows, snapshotOfImage } from '../../src/store/image/views';
import { keepAbsent } from '../../src/store/lifetime';
import type { Host, Metric, SourceSnapshot, TreeNode } from '../../src/store/model';
import { SUMMARIZE_ALL } from '../../src/store/summary';
import { PieceBatcher } from '../../src/server/chunked-output';
import { fullDumpPieces, queryPieces } from '../../src/server/query';
import { DaemonStats } from '../../src/util/stats';
import { Fuzz, mutateDocument, randomDocument, seededRandom } from '../helpers/hostile-docs';
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

test('parse pool: a document parsed in a worker equals the one parsed inline; errors and back-pressure', async (t) => {
  const pool = new ParsePool(2);
  t.after(() => pool.close());
  const stats = new DaemonStats();
  const settings = { scalable: true, summary: { unsummarizedMetrics: [], unsummarizedSflowVmMetrics: false, summarizedMetrics: [] } };
  const bytes = Buffer.from(fixture('gmetad-xmlport.xml'), 'latin1');

  const inline = inlineDocumentFactory({ source: 'a', scalable: true, policy: SUMMARIZE_ALL })(NOW);
  inline.write(bytes);
  const expected = await inline.finish();

  const factory = pool.factory({ source: 'a', settings, stats });
  for (let round = 0; round < 2; round++) { // the second poll reuses the worker's interner
    const parser = factory(NOW);
    for (let at = 0; at < bytes.length; at += 777) parser.write(bytes.subarray(at, at + 777));
    const snapshot = await parser.finish();
    assert.deepEqual(plain(snapshot), plain(expected));
  }
  assert.ok(stats.metricsReceived > 0);

  // Malformed: the error comes back (from a later write, or from finish) as a DocumentError.
  const bad = pool.factory({ source: 'b', settings })(NOW);
  bad.write(Buffer.from('<GANGLIA_XML><CLUSTER NAME="x" <<<', 'latin1'));
  await assert.rejects(bad.finish(), (err: unknown) => err instanceof DocumentError && !err.atEnd);
  // Truncated: found at the end.
  const truncated = pool.factory({ source: 'b', settings })(NOW);
  truncated.write(bytes.subarray(0, 5000));
  await assert.rejects(truncated.finish(), (err: unknown) => err instanceof DocumentError && err.atEnd);

  // A source limit crossed in the worker comes back as the same LimitExceeded.
  const limited = pool.factory({ source: 'd', settings: { ...settings, maxHosts: 1 } })(NOW);
  limited.write(Buffer.from(fixture('gmond.xml'), 'latin1'));
  await assert.rejects(limited.finish(), (err: unknown) => err instanceof LimitExceeded && err.limit === 'max_hosts'
    && /^max_hosts exceeded: the document lists more than 1 hosts/.test(err.message));

  // Back-pressure: past 8 MiB unparsed, write() says stop; onDrain says go on.
  const big = pool.factory({ source: 'c', settings })(NOW);
  let paused = false;
  for (let i = 0; i < 200 && !paused; i++) paused = !big.write(Buffer.alloc(64 * 1024, 0x20));
  assert.ok(paused, 'write() returned false with megabytes in flight');
  await new Promise<void>((resolve) => big.onDrain(resolve));
  big.abort();
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

test('parse pool: a worker that dies fails the polls in flight with a clear error; the next poll gets a new worker', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-pool-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A worker that dies on its first chunk, then (restarted) one that is the real worker.
  const flag = path.join(dir, 'died-once');
  const file = path.join(dir, 'worker.js');
  fs.writeFileSync(file, `
const fs = require('fs');
if (!fs.existsSync(${JSON.stringify(flag)})) {
  require('worker_threads').parentPort.on('message', (m) => { if (m.type === 'chunk') { fs.writeFileSync(${JSON.stringify(flag)}, ''); process.exit(3); } });
} else {
  require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'readers', 'parse-worker.js'))});
}
`);
  const pool = new ParsePool(1, file);
  t.after(() => pool.close());
  const settings = { scalable: true, summary: { unsummarizedMetrics: [], unsummarizedSflowVmMetrics: false, summarizedMetrics: [] } };
  const factory = pool.factory({ source: 'src', settings });
  const doomed = factory(NOW);
  doomed.write(Buffer.from(fixture('gmond.xml'), 'latin1'));
  await assert.rejects(doomed.finish(), (err: unknown) => err instanceof DocumentError && /parse worker exited with code 3/.test(err.message));
  const next = factory(NOW);
  next.write(Buffer.from(fixture('gmond.xml'), 'latin1'));
  assert.deepEqual(plain(await next.finish()), plain(parse(fixture('gmond.xml'))));
});

test('parse pool: after a large poll fails or is aborted its worker is replaced once idle (its memory goes back whole); small failures keep it', async (t) => {
  const pool = new ParsePool(1, undefined, 4096);
  t.after(() => pool.close());
  const settings = { scalable: true, summary: { unsummarizedMetrics: [], unsummarizedSflowVmMetrics: false, summarizedMetrics: [] } };
  // write() moves a buffer it owns whole to the worker: each write gets its own copy.
  const text = fixture('gmond.xml');
  const gmond = { get length() { return text.length; }, subarray: (a: number, b?: number) => Buffer.from(text.slice(a, b), 'latin1') };
  assert.ok(gmond.length > 4096);
  const expected = plain(parse(fixture('gmond.xml')));
  const good = pool.factory({ source: 'src', settings });
  assert.deepEqual(plain(await (async () => { const p = good(NOW); p.write(gmond.subarray(0)); return p.finish(); })()), expected);

  // A small broken document: the worker stays.
  const small = pool.factory({ source: 'bad', settings })(NOW);
  small.write(Buffer.from('<GANGLIA_XML><CLUSTER NAME="x" <<<', 'latin1'));
  await assert.rejects(small.finish(), DocumentError);
  small.abort();
  assert.equal(pool.recycledWorkers, 0);

  // A large one past a limit while another source's poll is in flight on the same worker:
  // that poll is not disturbed; the worker goes once it is done.
  const inFlight = good(NOW);
  inFlight.write(gmond.subarray(0, 1000));
  const limited = pool.factory({ source: 'bad', settings: { ...settings, maxHosts: 1 } })(NOW);
  limited.write(gmond.subarray(0));
  await assert.rejects(limited.finish(), (err: unknown) => err instanceof LimitExceeded);
  limited.abort();
  assert.equal(pool.recycledWorkers, 0, 'not while a poll is in flight');
  inFlight.write(gmond.subarray(1000));
  assert.deepEqual(plain(await inFlight.finish()), expected);
  assert.equal(pool.recycledWorkers, 1, 'replaced once idle');
  // The next polls run in the fresh worker, as before.
  assert.deepEqual(plain(await (async () => { const p = good(NOW); p.write(gmond.subarray(0)); return p.finish(); })()), expected);

  // A large poll aborted by the poller (document size, deadline) counts the same.
  const endless = pool.factory({ source: 'endless', settings })(NOW);
  endless.write(Buffer.from(fixture('gmond.xml').replace('</GANGLIA_XML>', ''), 'latin1'));
  endless.abort();
  assert.equal(pool.recycledWorkers, 2);
  assert.deepEqual(plain(await (async () => { const p = good(NOW); p.write(gmond.subarray(0)); return p.finish(); })()), expected);
});
