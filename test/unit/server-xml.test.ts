import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { SharedDumpCache } from '../../src/server/shared-dump-cache';
import type { StructuredLogger } from '../../src/util/logging';
import { startXmlPort } from '../../src/server/xml-port';
import { fullDumpPieces } from '../../src/server/query';
import { fixedClock } from '../../src/util/clock';
import { DaemonStats } from '../../src/util/stats';
import { rawRequest } from '../helpers/net';
import { bigView, cluster, grid, host, metric, T_NOW, view } from '../helpers/tree-builders';

/** The trees below are built at T_NOW: render them then, whatever today's date. */
const clock = fixedClock(T_NOW * 1000);

const quiet: StructuredLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

test('XML port: full dump on accept, remote grids in summary form, counted', async (t) => {
  const v = view([cluster('C', [host('h', [metric('load_one')])]), grid('Remote', { summary: cluster('x', [host('y', [metric('load_one')])]).summary })]);
  const stats = new DaemonStats();
  const server = await startXmlPort({ port: 0, host: '127.0.0.1', getView: () => v, access: { isTrusted: () => true }, stats, logger: quiet, clock });
  t.after(() => server.close());
  const reply = await rawRequest(server.port, null);
  assert.equal(reply.ended, 'eof');
  const expected = [...fullDumpPieces(v, T_NOW)].join('');
  assert.equal(reply.data.toString('latin1'), expected);
  assert.match(expected, /<GRID NAME="Remote"[^\n]*>\n<HOSTS UP="1" DOWN="0" SOURCE="gmetad"\/>\n<METRICS NAME="load_one"/);
  assert.equal(stats.requests.xml.num, 1);
  assert.equal(stats.requests.all.num, 1);
});

test('XML port: a client that sends bytes still gets the whole dump (no reset)', async (t) => {
  const v = bigView(1, 200, 40);
  const server = await startXmlPort({ port: 0, host: '127.0.0.1', getView: () => v, access: { isTrusted: () => true }, stats: new DaemonStats(), logger: quiet, clock });
  t.after(() => server.close());
  const reply = await rawRequest(server.port, '/AlphaCluster\n');
  assert.equal(reply.ended, 'eof');
  assert.ok(reply.data.toString('latin1').endsWith('</GRID>\n</GANGLIA_XML>\n'));
});

test('XML port: a stalled reader does not delay other dumps; concurrent dumps are identical', async (t) => {
  const v = bigView(2, 250, 50);
  const stats = new DaemonStats();
  const server = await startXmlPort({
    port: 0, host: '127.0.0.1', getView: () => v, access: { isTrusted: () => true }, stats, logger: quiet, clock,
    limits: { idleWriteMs: 60_000 },
  });
  t.after(() => server.close());
  const slow = net.connect(server.port, '127.0.0.1');
  slow.pause();
  slow.on('error', () => undefined);
  t.after(() => slow.destroy());
  await new Promise((r) => slow.once('connect', r));
  const replies = await Promise.all(Array.from({ length: 8 }, () => rawRequest(server.port, null)));
  // All eight were served while the stalled reader's dump was still pending (its write
  // deadline is a minute away): it delayed none of them.
  assert.equal(stats.requests.xml.num, 8);
  for (const r of replies) {
    assert.equal(r.ended, 'eof');
    assert.equal(r.data.toString('latin1'), replies[0].data.toString('latin1'));
  }
  assert.ok(replies[0].data.length > 5_000_000);
});

test('XML port: untrusted clients get nothing; port in use names the port', async (t) => {
  const server = await startXmlPort({ port: 0, host: '127.0.0.1', getView: () => view([]), access: { isTrusted: () => false }, stats: new DaemonStats(), logger: quiet });
  t.after(() => server.close());
  assert.equal((await rawRequest(server.port, null)).data.length, 0);
  await assert.rejects(
    startXmlPort({ port: server.port, host: '127.0.0.1', getView: () => view([]), access: { isTrusted: () => true }, stats: new DaemonStats(), logger: quiet }),
    { message: `xml_port ${server.port}: address already in use` },
  );
});

test('shared dumps: readers of the same view in the same second share one rendering', () => {
  let second = 100;
  const cache = new SharedDumpCache(10, () => second);
  let renders = 0;
  const pieces = function* () { renders += 1; for (let i = 0; i < 5; i++) yield `piece-${i}-padding`; };
  const key = {};
  const a = cache.acquire(key, 100, pieces);
  const b = cache.acquire(key, 100, pieces);
  const read = (s: ReturnType<SharedDumpCache['acquire']>) => {
    const out: string[] = [];
    for (let c = s.next(); c !== null; c = s.next()) out.push(c.toString('latin1'));
    return out.join('');
  };
  const textA = read(a);
  assert.equal(read(b), textA);
  assert.equal(renders, 1);
  assert.equal(textA, [...pieces()].join(''));
  a.close();
  b.close();
  // another view, or a later second, renders anew
  read(cache.acquire({}, 100, pieces));
  second = 101;
  read(cache.acquire(key, 101, pieces));
  assert.equal(renders, 4); // a+b shared, the check above, the other view, the next second
});
