import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseInteractiveRequest, splitPath } from '../../src/server/request';

const DIR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor', 'interactive');

test('every captured request line gets the kind of answer 3.7.2 gave', () => {
  const rows = fs.readFileSync(path.join(DIR, 'INDEX.tsv'), 'latin1').trim().split('\n').slice(1)
    .map((l) => l.split('\t')).filter(([, req]) => req.startsWith("b'"));
  assert.ok(rows.length >= 50);
  for (const [file, req, size] of rows) {
    const bytes = req.slice(2, -1).replace(/\\(n|r)/g, (_, c: string) => (c === 'n' ? '\n' : '\r'));
    const line = bytes.split(/[\r\n]/)[0];
    if (line.length >= 2048) continue; // i27: rejected by the line reader, see the server tests
    const reply = fs.readFileSync(path.join(DIR, file), 'latin1');
    const parsed = parseInteractiveRequest(line);
    const expected = Number(size) === 0 ? 'malformed' : reply.includes('application/json') ? 'status' : 'query';
    assert.equal(parsed.kind, expected, `${file}: ${JSON.stringify(line)}`);
    if (parsed.kind === 'query') assert.equal(parsed.http, reply.startsWith('HTTP/'), file);
  }
});

test('query lines: path elements, filters, HTTP mode', () => {
  assert.deepEqual(parseInteractiveRequest('/'), { kind: 'query', http: false, path: [], filter: null, unknownFilter: null });
  assert.deepEqual(parseInteractiveRequest('/AlphaCluster/localhost/load_one'),
    { kind: 'query', http: false, path: ['AlphaCluster', 'localhost', 'load_one'], filter: null, unknownFilter: null });
  assert.deepEqual(parseInteractiveRequest('GET /A?filter=summary HTTP/1.1'),
    { kind: 'query', http: true, path: ['A'], filter: 'summary', unknownFilter: null });
  assert.deepEqual(parseInteractiveRequest('/?foo=summary'),
    { kind: 'query', http: false, path: [], filter: 'summary', unknownFilter: null });
  assert.deepEqual(parseInteractiveRequest('/A?filter=bogus'),
    { kind: 'query', http: false, path: ['A'], filter: null, unknownFilter: 'filter=bogus' });
  assert.deepEqual(parseInteractiveRequest('/?filter=summary&x=1'),
    { kind: 'query', http: false, path: [], filter: null, unknownFilter: 'filter=summary&x=1' });
  assert.deepEqual(parseInteractiveRequest('/Gweb Test'),
    { kind: 'query', http: false, path: ['Gweb Test'], filter: null, unknownFilter: null });
  assert.deepEqual(parseInteractiveRequest('/A '), { kind: 'query', http: false, path: ['A '], filter: null, unknownFilter: null });
});

test('path splitting: trailing / ends the path, inner empty elements stay', () => {
  assert.deepEqual(splitPath('/'), []);
  assert.deepEqual(splitPath('/A/'), ['A']);
  assert.deepEqual(splitPath('//A'), ['', 'A']);
  assert.deepEqual(splitPath('/A//h'), ['A', '', 'h']);
  assert.deepEqual(splitPath('/A//'), ['A', '']);
});

test('malformed lines', () => {
  for (const line of ['', 'garbage', '/a;b', '/a>b', '/a<b', "/a'b", '/a"b', '/a\\b', '/a|b', '/a`b', '/a!b', '/a@b',
    '/a#b', '/a$b', '/Alpha%43', 'GET /AlphaCluster', 'GET /AlphaCluster HTTP/2.0', 'get /A HTTP/1.0',
    'POST /A HTTP/1.0', '/A?filter', 'GET HTTP/1.0', 'GET  HTTP/1.0']) {
    assert.equal(parseInteractiveRequest(line).kind, 'malformed', JSON.stringify(line));
  }
  // short "GET " lines are not HTTP and do not start with /
  assert.equal(parseInteractiveRequest('GET /').kind, 'malformed');
});

test('status: case-insensitive prefix before the character filter, JSONP callback', () => {
  assert.deepEqual(parseInteractiveRequest('/status'), { kind: 'status', callback: null, http: false });
  assert.deepEqual(parseInteractiveRequest('/STATUSxyz'), { kind: 'status', callback: null, http: false });
  assert.deepEqual(parseInteractiveRequest('/status/whatever;x'), { kind: 'status', callback: null, http: false });
  assert.deepEqual(parseInteractiveRequest('GET /status?callback=cb HTTP/1.0'), { kind: 'status', callback: 'cb', http: true });
  assert.deepEqual(parseInteractiveRequest('/status?callback=jQuery.cb_1&_=2'), { kind: 'status', callback: 'jQuery.cb_1', http: false });
  assert.deepEqual(parseInteractiveRequest('/status?callback='), { kind: 'status', callback: null, http: false });
  // a callback is echoed into the reply: anything but an identifier is refused
  assert.equal(parseInteractiveRequest('/status?callback=<script>').kind, 'malformed');
});
