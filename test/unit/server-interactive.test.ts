import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import type { AccessPolicy } from '../../src/server/access';
import { startInteractivePort } from '../../src/server/interactive-port';
import type { StructuredLogger } from '../../src/util/logging';
import type { PortOptions, RunningPort } from '../../src/server/port-options';
import { fixedClock } from '../../src/util/clock';
import { DaemonStats } from '../../src/util/stats';
import { rawRequest } from '../helpers/net';
import { bigView, T_NOW, treeFromGmetadXml } from '../helpers/tree-builders';

const DIR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor', 'interactive');
const fixture = (f: string) => fs.readFileSync(path.join(DIR, f));
const captured = treeFromGmetadXml(fixture('i01-root.xml').toString('latin1'), fixture('i05-root-summary.xml').toString('latin1'));
const anchor = captured.view;
/** Replies are rendered at the capture's time, whatever today's date. */
const CAPTURE_CLOCK = fixedClock(captured.now * 1000);

const TRUST_ALL: AccessPolicy = { isTrusted: () => true };

function recordingLogger(): StructuredLogger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (fields: object | string, msg?: string) => { lines.push(`${level} ${msg ?? String(fields)}`); };
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

async function start(t: { after(fn: () => Promise<void>): void }, over: Partial<PortOptions> = {}): Promise<RunningPort & { stats: DaemonStats; logger: ReturnType<typeof recordingLogger> }> {
  const stats = new DaemonStats();
  const logger = recordingLogger();
  const port = await startInteractivePort({
    port: 0, host: '127.0.0.1', getView: () => anchor, access: TRUST_ALL, stats, logger, clock: CAPTURE_CLOCK, ...over,
  });
  t.after(() => port.close());
  return { ...port, stats, logger };
}

/** TN and LOCALTIME depend on the clock: compare everything else. */
const mask = (b: Buffer) => b.toString('latin1').replace(/(TN|LOCALTIME)="\d+"/g, '$1=""');

test('every captured request gets the same reply as 3.7.2 (clock fields aside)', async (t) => {
  const server = await start(t);
  const rows = fixture('INDEX.tsv').toString('latin1').trim().split('\n').slice(1).map((l) => l.split('\t'))
    .filter(([file, req]) => file.startsWith('i') && req.startsWith("b'"));
  for (const [file, req, , , outcome] of rows) {
    const bytes = Buffer.from(req.slice(2, -1).replace(/\\(n|r)/g, (_, c: string) => (c === 'n' ? '\n' : '\r')), 'latin1');
    // the capture half-closed after a request without a line end (i26)
    const reply = bytes.includes(0x0a) ? await rawRequest(server.port, bytes) : await requestThenEnd(server.port, bytes);
    const expected = fixture(file);
    if (expected.length === 0) {
      assert.equal(reply.data.length, 0, file);
      if (outcome === 'eof') assert.equal(reply.ended, 'eof', file);
      else assert.notEqual(reply.ended, 'timeout', file);
    } else if (expected.includes('application/json')) {
      const [head, body] = splitHttp(reply.data);
      assert.equal(head, splitHttp(expected)[0], file);
      const jsonp = /^cb\(/.test(body);
      assert.equal(jsonp, /^cb\(/.test(splitHttp(expected)[1]), file);
      const doc = JSON.parse(jsonp ? body.slice(3, -3) : body) as Record<string, unknown>;
      assert.equal(doc.gridname, 'AnchorGrid', file);
    } else {
      assert.equal(reply.ended, 'eof', file);
      assert.equal(mask(reply.data), mask(expected), file);
    }
  }
  assert.equal(server.stats.requests.interactive.num, rows.length);
  assert.ok(server.logger.lines.some((l) => /^debug malformed request from 127\.0\.0\.1/.test(l)));
  // A client chooses its request lines: none of them may reach the log above debug.
  assert.deepEqual(server.logger.lines.filter((l) => !l.startsWith('debug ')), []);
});

/** Sends `bytes`, half-closes, and collects the reply until the server closes. */
function requestThenEnd(port: number, bytes: Buffer): Promise<{ data: Buffer; ended: 'eof' }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.end(bytes));
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => { socket.destroy(); resolve({ data: Buffer.concat(chunks), ended: 'eof' }); });
    socket.on('error', reject);
  });
}

function splitHttp(b: Buffer): [string, string] {
  const s = b.toString('latin1');
  const i = s.indexOf('\r\n\r\n');
  return [s.slice(0, i + 4), s.slice(i + 4)];
}

test('too long a request line: closed with nothing sent', async (t) => {
  const server = await start(t);
  const reply = await rawRequest(server.port, `/${'a'.repeat(3000)}\n`);
  assert.equal(reply.data.length, 0);
  // 2047 bytes before the newline are still accepted
  const ok = await rawRequest(server.port, `/${'a'.repeat(2046)}\n`);
  assert.ok(ok.data.toString('latin1').endsWith('</GANGLIA_XML>\n'));
  assert.ok(server.logger.lines.some((l) => /could not read request/.test(l)));
});

test('idle and half-line clients do not delay a normal request; they time out', async (t) => {
  const server = await start(t, { limits: { requestLineMs: 3000 } });
  const idle: net.Socket[] = [];
  t.after(() => { for (const s of idle) s.destroy(); });
  for (let i = 0; i < 20; i++) idle.push(net.connect(server.port, '127.0.0.1'));
  const half = net.connect(server.port, '127.0.0.1', () => half.write('/AlphaClus'));
  idle.push(half);
  await Promise.all(idle.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r) : r(null)))));
  let halfClosed = false;
  let got = 0;
  half.on('data', () => { got += 1; });
  const closed = new Promise((resolve) => half.on('close', () => { halfClosed = true; resolve(null); }));
  const reply = await rawRequest(server.port, '/AlphaCluster\n');
  // Served while the idle and half-line clients still held their connections.
  assert.equal(halfClosed, false, 'the normal request waited for the line deadline of the others');
  assert.match(reply.data.toString('latin1'), /<CLUSTER NAME="AlphaCluster"/);
  // the line deadline closes them, with nothing sent
  await closed;
  assert.equal(got, 0);
});

test('a client that does not read is dropped at the write deadline and does not block others', async (t) => {
  const big = bigView(1, 300, 50);
  const server = await start(t, { getView: () => big, clock: fixedClock(T_NOW * 1000), limits: { idleWriteMs: 3000 } });
  const dropped = () => server.logger.lines.some((l) => /reply to .* stalled, dropped/.test(l));
  const slow = net.connect({ port: server.port, host: '127.0.0.1' }, () => slow.write('/\n'));
  slow.pause();
  slow.on('error', () => undefined);
  t.after(() => slow.destroy());
  await waitUntil(() => server.stats.requests.interactive.num === 0 && slow.bytesWritten > 0);
  const reply = await rawRequest(server.port, '/\n');
  // Served in full while the server still waited on the slow reader.
  assert.equal(dropped(), false, 'the second reply waited for the slow reader to be dropped');
  assert.ok(reply.data.toString('latin1').endsWith('</GANGLIA_XML>\n'));
  // past the deadline the server gives up on the slow reader: it gets a truncated reply
  await waitUntil(dropped);
  let received = 0;
  slow.on('data', (c: Buffer) => { received += c.length; });
  slow.resume();
  await new Promise((r) => slow.on('close', r));
  assert.ok(received < reply.data.length, `${received} of ${reply.data.length}`);
});

test('untrusted clients are closed with nothing sent', async (t) => {
  const server = await start(t, { access: { isTrusted: () => false } });
  const reply = await rawRequest(server.port, '/\n');
  assert.equal(reply.data.length, 0);
  assert.ok(server.logger.lines.some((l) => /^debug .*not a trusted host/.test(l)));
});

test('HTTP reply header bytes and status header', async (t) => {
  const server = await start(t);
  const xml = (await rawRequest(server.port, 'GET / HTTP/1.0\r\n\r\n')).data.toString('latin1');
  assert.ok(xml.startsWith('HTTP/1.0 200 OK\r\nServer: gmetad/3.7.2-1\r\nAccess-Control-Allow-Origin: *\n'
    + 'Content-Type: application/xml\r\nConnection: close\r\n\r\n<?xml version="1.0" encoding="ISO-8859-1"'));
  const status = (await rawRequest(server.port, '/status\n')).data.toString('utf8');
  assert.ok(status.startsWith('HTTP/1.0 200 OK\r\nServer: gmetad/3.7.2-1\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{'));
  assert.ok(status.endsWith('}\r\n'));
});

test('port in use: the error names the port; close() ends open connections', async (t) => {
  const server = await start(t);
  await assert.rejects(startInteractivePort({
    port: server.port, host: '127.0.0.1', getView: () => anchor, access: TRUST_ALL, stats: new DaemonStats(), logger: recordingLogger(),
  }), new RegExp(`^Error: interactive_port ${server.port}: address already in use$`));
  const idle = net.connect(server.port, '127.0.0.1');
  await new Promise((r) => idle.once('connect', r));
  await new Promise((r) => setTimeout(r, 50));
  const closed = new Promise((r) => idle.once('close', r));
  await server.close();
  await closed;
});

/** Waits for a condition the server reaches on its own (no wall-clock budget). */
async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}
