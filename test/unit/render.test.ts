import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as sax from 'sax';
import { fullDumpPieces, queryPieces } from '../../src/server/query';
import { parseInteractiveRequest } from '../../src/server/request';
import {
  DTD_HEADER, escapeAttr, hostXml, metricXml, summaryXml,
} from '../../src/server/xml-render';
import {
  cluster, grid, host, metric, T_NOW, treeFromGmetadXml, view,
} from '../helpers/tree-builders';

const ANCHOR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
const read = (rel: string) => fs.readFileSync(path.join(ANCHOR, rel), 'latin1');

interface IndexRow { file: string; line: string }

/** Rows of an anchor INDEX.tsv with the request line (python repr decoded, up to \r or \n). */
export function indexRows(dir: string): IndexRow[] {
  return read(`${dir}/INDEX.tsv`).trim().split('\n').slice(1).map((l) => l.split('\t'))
    .filter(([, req]) => req.startsWith("b'"))
    .map(([file, req]) => ({ file, line: pyBytes(req).split(/[\r\n]/)[0] }));
}

function pyBytes(repr: string): string {
  return repr.slice(2, -1).replace(/\\(n|r|t|\\|')/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'" })[c]!);
}

const rootLocaltime = (xml: string) => Number(/<GRID NAME="[^"]*" AUTHORITY="[^"]*" LOCALTIME="(\d+)"/.exec(xml)![1]);

function render(v: ReturnType<typeof view>, line: string, now: number): string {
  const req = parseInteractiveRequest(line);
  assert.equal(req.kind, 'query');
  if (req.kind !== 'query') throw new Error('unreachable');
  return [...queryPieces(v, req, now)].join('');
}

test('DTD header is byte-identical to the captured one', () => {
  assert.equal(DTD_HEADER, read('dtd-header.txt'));
  assert.equal(Buffer.byteLength(DTD_HEADER, 'latin1'), 2531);
});

test('every anchor interactive XML reply is reproduced byte for byte from the same tree', () => {
  const { view: v } = treeFromGmetadXml(read('interactive/i01-root.xml'), read('interactive/i05-root-summary.xml'));
  let exact = 0;
  for (const { file, line } of indexRows('interactive')) {
    if (!file.startsWith('i') || !/\.(xml|http)$/.test(file)) continue;
    const fixture = read(`interactive/${file}`);
    if (!fixture.includes('<GANGLIA_XML')) continue;
    const ours = render(v, line, rootLocaltime(fixture));
    // BetaCluster was polled again at 1795255527 during the capture: those replies differ
    // only in its LOCALTIME and TNs.
    if (fixture.includes('<CLUSTER NAME="BetaCluster" LOCALTIME="1795255527"')) {
      const mask = (s: string) => s.replace(/(TN|LOCALTIME)="\d+"/g, '$1=""');
      assert.equal(mask(ours), mask(fixture), file);
    } else {
      assert.equal(ours, fixture, file);
      exact += 1;
    }
  }
  assert.ok(exact >= 25, `only ${exact} exact comparisons`);
});

test('grid-of-grids replies (remote grid in summary form) match the captured ones', () => {
  const { view: v } = treeFromGmetadXml(read('toplevel-interactive/t01-root.xml'), read('toplevel-interactive/t04-root-summary.xml'));
  for (const { file, line } of indexRows('toplevel-interactive')) {
    const fixture = read(`toplevel-interactive/${file}`);
    if (!fixture.includes('<GANGLIA_XML')) continue;
    assert.equal(render(v, line, rootLocaltime(fixture)), fixture, file);
  }
  // the XML port shows the same document as `/`
  const t01 = read('toplevel-interactive/t01-root.xml');
  assert.equal([...fullDumpPieces(v, rootLocaltime(t01))].join(''), t01);
});

test('element lines have gmetad attribute order, one element per line', () => {
  const m = metric('load_one', { val: '0.25', units: ' ', t0: T_NOW - 7, tmax: 70, dmax: 0 });
  assert.equal(metricXml(m, T_NOW),
    '<METRIC NAME="load_one" VAL="0.25" TYPE="float" UNITS=" " TN="7" TMAX="70" DMAX="0" SLOPE="both" SOURCE="gmond">\n'
    + '<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="GROUP" VAL="load"/>\n<EXTRA_ELEMENT NAME="DESC" VAL="One minute load average"/>\n'
    + '<EXTRA_ELEMENT NAME="TITLE" VAL="One Minute Load Average"/>\n</EXTRA_DATA>\n</METRIC>\n');
  assert.equal(metricXml(metric('x', { extra: [] }), T_NOW).split('\n').slice(1).join('\n'),
    '<EXTRA_DATA>\n</EXTRA_DATA>\n</METRIC>\n', 'EXTRA_DATA is always present');
  const h = host('h1', [], { ip: '10.0.0.1', reported: 5, t0: T_NOW - 3, tmax: 20, dmax: 86400, location: 'r1', gmondStarted: 9, tags: 't' });
  assert.equal(hostXml(h, T_NOW),
    '<HOST NAME="h1" IP="10.0.0.1" REPORTED="5" TN="3" TMAX="20" DMAX="86400" LOCATION="r1" GMOND_STARTED="9" TAGS="t">\n</HOST>\n');
  const c = cluster('C', [host('a', [metric('m', { type: 'uint32', val: '3' })]), host('b', [metric('m', { type: 'uint32', val: '4' })], { up: false })]);
  assert.equal(summaryXml(c.summary),
    '<HOSTS UP="1" DOWN="1" SOURCE="gmetad"/>\n'
    + '<METRICS NAME="m" SUM="3" NUM="1" TYPE="double" UNITS=" " SLOPE="both" SOURCE="gmond">\n'
    + '<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="GROUP" VAL="load"/>\n<EXTRA_ELEMENT NAME="DESC" VAL="One minute load average"/>\n'
    + '<EXTRA_ELEMENT NAME="TITLE" VAL="One Minute Load Average"/>\n</EXTRA_DATA>\n</METRICS>\n');
  const doc = [...fullDumpPieces(view([cluster('C', [], { localtime: 42, owner: 'o', latlong: 'l', url: 'u' })],
    { gridname: 'G', authority: 'http://a/' }), T_NOW)].join('');
  assert.equal(doc.slice(DTD_HEADER.length),
    '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmetad">\n'
    + `<GRID NAME="G" AUTHORITY="http://a/" LOCALTIME="${T_NOW}">\n`
    + '<CLUSTER NAME="C" LOCALTIME="42" OWNER="o" LATLONG="l" URL="u">\n</CLUSTER>\n</GRID>\n</GANGLIA_XML>\n');
});

test('attribute values are escaped and the document stays well-formed', () => {
  assert.equal(escapeAttr('plain'), 'plain');
  assert.equal(escapeAttr(`a<b&c>d'e"f`), 'a&lt;b&amp;c&gt;d&apos;e&quot;f');
  const nasty = `O&Co <x> "q" 'a'`;
  const v = view([cluster(nasty, [host(nasty, [metric(nasty, { val: nasty, units: nasty, type: 'string',
    extra: [{ name: nasty, val: nasty }] })], { location: nasty, tags: nasty })], { owner: nasty, latlong: nasty, url: nasty })],
  { gridname: nasty, authority: nasty });
  const doc = [...fullDumpPieces(v, T_NOW)].join('');
  const values: string[] = [];
  const parser = sax.parser(true, {});
  parser.onattribute = (a) => values.push(a.value);
  parser.write(doc).close();
  assert.ok(values.filter((x) => x === nasty).length >= 12, 'values decode back to the original');
  assert.ok(!doc.includes('"q"'));
});

test('TN is recomputed at request time and never negative', () => {
  const m = metric('m', { t0: T_NOW - 10 });
  assert.match(metricXml(m, T_NOW), / TN="10" /);
  assert.match(metricXml(m, T_NOW + 5), / TN="15" /);
  assert.match(metricXml(metric('m', { t0: T_NOW + 3 }), T_NOW), / TN="0" /);
  assert.match(hostXml(host('h', [], { t0: T_NOW - 2 }), T_NOW + 1), / TN="3" /);
});

test('metrics and hosts past DMAX are not shown, nor found by path', () => {
  const v = view([cluster('C', [
    host('live', [
      metric('fresh', { t0: T_NOW - 30, dmax: 30 }),
      metric('stale', { t0: T_NOW - 31, dmax: 30 }),
      metric('forever', { t0: T_NOW - 1e6, dmax: 0 }),
    ]),
    host('gone', [], { t0: T_NOW - 100, dmax: 99 }),
  ])]);
  const doc = [...fullDumpPieces(v, T_NOW)].join('');
  assert.match(doc, /NAME="fresh"/);
  assert.match(doc, /NAME="forever"/);
  assert.doesNotMatch(doc, /NAME="stale"/);
  assert.doesNotMatch(doc, /NAME="gone"/);
  // not found in plain mode = the deepest match's whole subtree
  const staleMetric = render(v, '/C/live/stale', T_NOW);
  assert.match(staleMetric, /NAME="fresh"/);
  assert.equal(render(v, '/C/gone', T_NOW), render(v, '/C', T_NOW));
});

test('grids: summary form, summary filter at each level', () => {
  const inner = cluster('Inner', [host('ih', [metric('load_one', { val: '1.5' })])]);
  const outer = grid('Outer', { summary: inner.summary });
  const flat = grid('Flat', { summary: inner.summary });
  const local = cluster('Local', [host('lh', [metric('load_one', { val: '0.5' })])]);
  const v = view([outer, flat, local]);

  const full = render(v, '/', T_NOW);
  const tags = (s: string) => s.split('\n').filter((l) => /^<\/?(GRID|CLUSTER|HOSTS?|METRICS?)[ >/]/.test(l))
    .map((l) => l.replace(/^(<\/?[A-Z_]+).*/, '$1'));
  assert.deepEqual(tags(full.slice(DTD_HEADER.length)), [
    '<GRID',
    '<GRID', '<HOSTS', '<METRICS', '</METRICS', '</GRID',
    '<GRID', '<HOSTS', '<METRICS', '</METRICS', '</GRID',
    '<CLUSTER', '<HOST', '<METRIC', '</METRIC', '</HOST', '</CLUSTER',
    '</GRID',
  ]);
  // summary-form grid ignores the rest of the path
  assert.equal(render(v, '/Flat/anything/else', T_NOW), render(v, '/Flat', T_NOW));
  // root summary: root HOSTS/METRICS, then every node with its summary only
  const rootSum = render(v, '/?filter=summary', T_NOW);
  assert.deepEqual(tags(rootSum.slice(DTD_HEADER.length)).filter((t) => t === '<HOST' || t === '<METRIC'), []);
  assert.match(rootSum, /<GRID NAME="TestGrid"[^\n]*>\n<HOSTS UP="3" DOWN="0" SOURCE="gmetad"\/>\n<METRICS NAME="load_one" SUM="3.5" NUM="3"/);
  assert.match(rootSum, /<CLUSTER NAME="Local"[^\n]*>\n<HOSTS UP="1" DOWN="0" SOURCE="gmetad"\/>\n<METRICS NAME="load_one" SUM="0.5" NUM="1"/);
  // cluster summary and host summary (empty HOST)
  assert.match(render(v, '/Local?filter=summary', T_NOW), /<CLUSTER NAME="Local"[^\n]*>\n<HOSTS UP="1"[^\n]*\n<METRICS[^]*<\/METRICS>\n<\/CLUSTER>\n<\/GRID>\n<\/GANGLIA_XML>\n$/);
  assert.match(render(v, '/Local/lh?filter=summary', T_NOW), /<HOST NAME="lh"[^\n]*>\n<\/HOST>\n<\/CLUSTER>\n/);
});

test('HTTP mode: deepest match as an empty element, * wildcard, exact header bytes', () => {
  const v = view([
    cluster('A', [host('h1', [metric('m1'), metric('m2')]), host('h2', [metric('m1')])]),
    cluster('B', [host('h1', [metric('m2')])]),
  ]);
  const header = 'HTTP/1.0 200 OK\r\nServer: gmetad/3.7.2-1\r\nAccess-Control-Allow-Origin: *\n'
    + 'Content-Type: application/xml\r\nConnection: close\r\n\r\n';
  const nosuch = render(v, 'GET /nosuch HTTP/1.0', T_NOW);
  assert.ok(nosuch.startsWith(header + DTD_HEADER));
  assert.ok(nosuch.endsWith(`LOCALTIME="${T_NOW}">\n</GRID>\n</GANGLIA_XML>\n`));
  assert.match(render(v, 'GET /A/zz HTTP/1.1', T_NOW), /<CLUSTER NAME="A"[^\n]*>\n<\/CLUSTER>\n<\/GRID>/);
  const wild = render(v, 'GET /*/h1/m2 HTTP/1.0', T_NOW);
  assert.equal((wild.match(/<METRIC NAME="m2"/g) ?? []).length, 2);
  assert.doesNotMatch(wild, /NAME="m1"/);
  assert.equal((render(v, 'GET /A/*/m1 HTTP/1.0', T_NOW).match(/<METRIC NAME="m1"/g) ?? []).length, 2);
  // in plain mode * is just a name that is not found
  assert.equal(render(v, '/*/h1', T_NOW), render(v, '/', T_NOW));
  // lookups are case-sensitive
  assert.equal(render(v, '/a', T_NOW), render(v, '/', T_NOW));
});
