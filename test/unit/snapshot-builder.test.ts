/**
 * SnapshotBuilder: anchor fixtures in, SourceSnapshot out, checked against what the C
 * gmetad 3.7.2 printed for the same data (captured in test/fixtures/anchor).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createXmlParser, type ParserKind } from '../../src/readers/xml/parser-factory';
import { Interner, detach } from '../../src/readers/intern';
import { SnapshotBuilder, SnapshotError, type SnapshotBuilderOptions } from '../../src/readers/snapshot-builder';
import type { Cluster, Grid, SourceSnapshot, Summary, TreeNode } from '../../src/store/model';
import { buildSummaryPolicy, formatSum, SUMMARIZE_ALL } from '../../src/store/summary';
import type { Attributes } from '../../src/readers/xml/xml-parser';

const ANCHOR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
/** Crafted inputs carry @NOW@ placeholders that the capture's fake gmond replaced. */
const NOW = 1_795_255_613;

function readFixture(relative: string): string {
  return fs.readFileSync(path.join(ANCHOR, relative), 'latin1').replace(/@NOW@/g, String(NOW));
}

function build(text: string, options: Partial<SnapshotBuilderOptions> = {}, kind: ParserKind = 'fast'): {
  snapshot: SourceSnapshot; builder: SnapshotBuilder;
} {
  const builder = new SnapshotBuilder({ source: 'src', pollTime: NOW, scalable: true, policy: SUMMARIZE_ALL, ...options });
  const parser = createXmlParser(builder, kind);
  for (let i = 0; i < text.length; i += 4096) parser.write(text.slice(i, i + 4096));
  parser.end();
  return { snapshot: builder.finish(), builder };
}

function node(snapshot: SourceSnapshot, name: string): TreeNode {
  const found = snapshot.nodes.find((n) => n.name === name);
  assert.ok(found, `node ${name} missing`);
  return found;
}

function cluster(snapshot: SourceSnapshot, name: string): Cluster {
  const found = node(snapshot, name);
  assert.equal(found.kind, 'cluster');
  return found as Cluster;
}

function grid(snapshot: SourceSnapshot, name: string): Grid {
  const found = node(snapshot, name);
  assert.equal(found.kind, 'grid');
  return found as Grid;
}

/** A summary as printed: SUM text, NUM, UNITS, SLOPE, sorted EXTRA_DATA pairs. */
interface PrintedSummary {
  up: number;
  down: number;
  metrics: Map<string, { sum: string; num: number; units: string; slope: string; extra: string[] }>;
}

function printed(summary: Summary): PrintedSummary {
  const metrics: PrintedSummary['metrics'] = new Map();
  for (const m of summary.metrics.values()) {
    metrics.set(m.name, {
      sum: formatSum(m), num: m.num, units: m.units, slope: m.slope,
      extra: m.extra.map((e) => `${e.name}=${e.val}`).sort(),
    });
  }
  return { up: summary.hostsUp, down: summary.hostsDown, metrics };
}

/**
 * The HOSTS/METRICS that the C gmetad printed directly inside the element named
 * `owner` of one of its replies (a plain interactive reply: DTD + XML).
 */
function capturedSummary(relative: string, owner: string): PrintedSummary {
  const result: PrintedSummary = { up: -1, down: -1, metrics: new Map() };
  const stack: string[] = [];
  let current: { extra: string[] } | null = null;
  const parser = createXmlParser({
    openTag(name: string, attrs: Attributes) {
      const inOwner = stack.length > 0 && stack[stack.length - 1] === owner;
      stack.push(name === 'CLUSTER' || name === 'GRID' ? attrs.NAME : name);
      if (inOwner && name === 'HOSTS') {
        result.up = Number(attrs.UP);
        result.down = Number(attrs.DOWN);
      } else if (inOwner && name === 'METRICS') {
        current = { extra: [] };
        result.metrics.set(attrs.NAME, {
          sum: attrs.SUM, num: Number(attrs.NUM), units: attrs.UNITS, slope: attrs.SLOPE, extra: current.extra,
        });
      } else if (name === 'EXTRA_ELEMENT' && current !== null) {
        current.extra.push(`${attrs.NAME}=${attrs.VAL}`);
      }
    },
    closeTag(name: string) {
      stack.pop();
      if (name === 'METRICS' && current !== null) {
        current.extra.sort();
        current = null;
      }
    },
  });
  parser.write(readFixture(relative));
  parser.end();
  assert.ok(result.up >= 0, `no HOSTS for ${owner} in ${relative}`);
  return result;
}

/** 3.7.2 never forgets a summary entry: metrics no longer reported linger as SUM=0 NUM=0. */
function withoutStale(summary: PrintedSummary): PrintedSummary {
  const metrics = new Map([...summary.metrics].filter(([, m]) => m.num > 0));
  return { ...summary, metrics };
}

test('gmond.xml: AlphaCluster summary equals the one the C gmetad served (i06)', () => {
  const { snapshot, builder } = build(readFixture('gmond.xml'));
  assert.equal(snapshot.source, 'src');
  assert.equal(snapshot.polledAt, NOW);
  assert.deepEqual(snapshot.nodes.map((n) => n.name), ['AlphaCluster']);
  const alpha = cluster(snapshot, 'AlphaCluster');
  const expected = capturedSummary('interactive/i06-cluster-summary.xml', 'AlphaCluster');
  // DeadHost3 (TN=69 < 4*TMAX=80) was still up in this capture; load_one = 0.50 + 9.99 + 0.14.
  assert.equal(expected.up, 3);
  assert.equal(expected.down, 0);
  assert.deepEqual(expected.metrics.get('load_one'), {
    sum: '10.63', num: 3, units: '', slope: 'both',
    extra: ['DESC=One minute load average', 'GROUP=load', 'TITLE=One Minute Load Average'],
  });
  // The only intended difference: anchor_short (dropped by DMAX at parse time) lingers in
  // 3.7.2's summary as a stale SUM="0" NUM="0" entry; a fresh snapshot has no such entry.
  assert.equal(expected.metrics.get('anchor_short')?.num, 0);
  assert.deepEqual(printed(alpha.summary), withoutStale(expected));
  assert.equal(builder.metricsReceived, 41);
});

test('gmond.xml: hosts and metrics, TN -> t0, DMAX drop, EXTRA_DATA, SOURCE default', () => {
  const { snapshot } = build(readFixture('gmond.xml'));
  const alpha = cluster(snapshot, 'AlphaCluster');
  assert.equal(alpha.localtime, 1795255524);
  assert.equal(alpha.owner, 'Anchor Owner');
  assert.equal(alpha.latlong, 'N32.87 W117.22');
  assert.equal(alpha.url, 'http://alpha.example/');
  assert.deepEqual([...alpha.hosts.keys()], ['FakeHost2', 'DeadHost3', 'localhost']);

  const fake = alpha.hosts.get('FakeHost2')!;
  assert.equal(fake.ip, '10.0.0.2');
  assert.equal(fake.reported, 1795255515);
  assert.equal(fake.t0, NOW - 9);
  assert.equal(fake.tmax, 20);
  assert.equal(fake.dmax, 86400);
  assert.equal(fake.gmondStarted, 256768128);
  assert.equal(fake.location, 'unspecified');
  assert.equal(fake.tags, '');
  assert.equal(fake.up, true);
  // anchor_short: TN=69 > DMAX=30 -> not stored (gmond lists it, gmetad does not).
  assert.equal(fake.metrics.has('anchor_short'), false);
  assert.deepEqual([...fake.metrics.keys()],
    ['anchor_counter', 'anchor_temp', 'load_one', 'anchor_str', 'anchor_double', 'anchor_int']);
  const temp = fake.metrics.get('anchor_temp')!;
  const { name, val, type, units, t0, tmax, dmax, slope, source } = temp;
  assert.deepEqual({ name, val, type, units, t0, tmax, dmax, slope, source, extra: [...temp.extra] }, {
    name: 'anchor_temp', val: '42.5', type: 'float', units: 'Celsius', t0: NOW - 9, tmax: 60, dmax: 0,
    slope: 'both', source: 'gmond',
    extra: [
      { name: 'TITLE', val: 'Anchor Temp' }, { name: 'DESC', val: 'Anchor test metric' },
      { name: 'GROUP', val: 'anchor' }, { name: 'SPOOF_HOST', val: '10.0.0.2:FakeHost2' },
    ],
  });
  assert.equal(fake.metrics.get('anchor_str')!.val, 'hello world');

  const local = alpha.hosts.get('localhost')!;
  assert.equal(local.location, '1,2,3');
  assert.equal(local.metrics.get('mem_shared')!.t0, NOW - 30);
  assert.equal(local.metrics.get('machine_type')!.val, 'x86_64');
  // SPOOF_HOST never reaches the summary's EXTRA_DATA.
  assert.ok(alpha.summary.metrics.get('anchor_temp')!.extra.every((e) => e.name !== 'SPOOF_HOST'));
});

test('gmetad-xmlport.xml as a source: one grid whose summary is the root summary gmetad served (i05)', () => {
  const { snapshot } = build(readFixture('gmetad-xmlport.xml'));
  assert.deepEqual(snapshot.nodes.map((n) => n.name), ['AnchorGrid']);
  const anchor = grid(snapshot, 'AnchorGrid');
  assert.equal(anchor.authority, 'http://vm/ganglia/');
  assert.equal(anchor.localtime, 1795255525);
  assert.deepEqual(Object.keys(anchor).sort(), ['authority', 'kind', 'localtime', 'name', 'summary']); // summary form only
  const expected = capturedSummary('interactive/i05-root-summary.xml', 'AnchorGrid');
  assert.equal(expected.up, 5);
  // Inside a grid 3.7.2 ignores EXTRA_ELEMENTs, so grid summaries have empty EXTRA_DATA
  // (as i05 and TopGrid's view of AnchorGrid in toplevel-xmlport.xml show); so do ours.
  assert.deepEqual(printed(anchor.summary), withoutStale(expected));
  assert.ok(capturedSummary('toplevel-xmlport.xml', 'AnchorGrid').metrics.get('load_one')!.extra.length === 0);
});

test('crafted/escape.xml: up/down, down hosts keep metrics, defaults, entities, types', () => {
  const { snapshot } = build(readFixture('crafted/escape.xml'));
  const esc = cluster(snapshot, 'EscCluster');
  assert.equal(esc.owner, 'O&Co <x>');
  assert.equal(esc.url, 'http://e.example/?a=1&b=2');
  // As in c05-esc-summary.xml (not well-formed, 3.7.2 does not escape): HOSTS UP=2 DOWN=1,
  // esc_num SUM=3.500 NUM=2 (1.500 + 2; down-host's 7.25 is not summed).
  assert.deepEqual(printed(esc.summary), {
    up: 2, down: 1,
    metrics: new Map([
      ['esc_num', { sum: '3.500', num: 2, units: 'm&m', slope: 'both', extra: [] }],
      ['int8_metric', { sum: '-3', num: 1, units: '', slope: 'both', extra: [] }],
      ['no_extra', { sum: '2', num: 1, units: '', slope: 'derivative', extra: [] }],
    ]),
  });

  const host = esc.hosts.get('esc-host')!;
  assert.equal(host.location, 'rack "A"');
  assert.equal(host.metrics.get('esc_str')!.val, 'a<b&c"d\'e>f');
  assert.deepEqual(host.metrics.get('esc_str')!.extra, [{ name: 'DESC', val: 'x & y' }]);
  assert.equal(host.metrics.get('esc_num')!.units, 'm&m');
  assert.equal(host.metrics.get('ts_metric')!.type, 'timestamp');
  assert.equal(esc.summary.metrics.has('ts_metric'), false, 'timestamps are not summed');
  assert.equal(esc.summary.metrics.has('esc_str'), false, 'strings are not summed');
  assert.equal(host.metrics.has('expired_metric'), false, 'TN=100 > DMAX=50');
  assert.deepEqual(host.metrics.get('no_extra')!.extra, []);

  const down = esc.hosts.get('down-host')!;
  assert.equal(down.up, false, 'TN=500 >= 4*TMAX=80');
  assert.equal(down.tags, 't1,t2');
  assert.equal(down.t0, NOW - 500);
  // Intended difference: 3.7.2 shows no metrics for a host first seen down; we keep what was sent.
  assert.equal(down.metrics.get('esc_num')!.val, '7.25');

  // Mixed.Case-Host: no LOCATION/TAGS -> "unspecified"; no UNITS -> "" (3.7.2 printed UNITS="2").
  const mixed = esc.hosts.get('Mixed.Case-Host')!;
  assert.equal(esc.hosts.has('mixed.case-host'), false, 'names are case-sensitive');
  assert.equal(mixed.location, 'unspecified');
  assert.equal(mixed.tags, 'unspecified');
  assert.equal(mixed.metrics.get('esc_num')!.units, '');
  assert.equal(mixed.metrics.get('esc_num')!.source, 'gmond');
});

test('crafted/grid-source.xml: grid summary over nested grids and clusters, nested METRICS kept', () => {
  const { snapshot } = build(readFixture('crafted/grid-source.xml'));
  const fake = grid(snapshot, 'FakeGrid');
  assert.deepEqual(snapshot.nodes.map((n) => n.name), ['FakeGrid']);
  assert.equal(fake.authority, 'http://fake.example/ganglia/');
  assert.equal(fake.localtime, NOW);
  assert.deepEqual(Object.keys(fake).sort(), ['authority', 'kind', 'localtime', 'name', 'summary']);
  // c04-fakegrid-summary.xml: 3.7.2 got HOSTS right (7+2 nested, inner-host up, inner-down down)...
  const c04 = capturedSummary('crafted-out/c04-fakegrid-summary.xml', 'FakeGrid');
  assert.deepEqual([c04.up, c04.down], [8, 3]);
  assert.deepEqual([fake.summary.hostsUp, fake.summary.hostsDown], [8, 3]);
  // ...but lost NestedGrid's load_one SUM=3.50 NUM=7 (it printed SUM=0.25 NUM=1). We keep it:
  assert.equal(c04.metrics.get('load_one')!.sum, '0.25');
  const loadOne = fake.summary.metrics.get('load_one')!;
  assert.equal(formatSum(loadOne), '3.75');
  assert.equal(loadOne.num, 8);
  assert.equal(loadOne.units, ' ');
  assert.deepEqual(loadOne.extra, [], 'no EXTRA_DATA in grid summaries, as in c04');
});

test('scalable off: grids are transparent, every cluster is kept whole, summary elements ignored', () => {
  const { snapshot } = build(readFixture('crafted/grid-source.xml'), { scalable: false });
  assert.deepEqual(snapshot.nodes.map((n) => n.kind + ':' + n.name), ['cluster:InnerCluster']);
  const inner = cluster(snapshot, 'InnerCluster');
  assert.deepEqual([...inner.hosts.keys()], ['inner-host', 'inner-down']);
  assert.deepEqual(printed(inner.summary), {
    up: 1, down: 1,
    metrics: new Map([['load_one', { sum: '0.25', num: 1, units: ' ', slope: 'both', extra: [] }]]),
  });
});

test('toplevel-xmlport.xml: a grid of grids and clusters', () => {
  const { snapshot } = build(readFixture('toplevel-xmlport.xml'));
  const top = grid(snapshot, 'TopGrid');
  assert.equal(top.authority, 'http://top.example/ganglia/');
  assert.equal(top.localtime, 1795255529);
  // AnchorGrid HOSTS UP=5 + AlphaCluster's 3 up hosts.
  assert.deepEqual([top.summary.hostsUp, top.summary.hostsDown], [8, 0]);
  // AnchorGrid load_one SUM=10.91 NUM=5 + 9.99 + 0.14 + 0.50.
  const loadOne = top.summary.metrics.get('load_one')!;
  assert.deepEqual([formatSum(loadOne), loadOne.num], ['21.54', 8]);
});

test('a cluster in summary form (HOSTS/METRICS, no HOST) keeps those numbers', () => {
  const doc = '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmetad">\n'
    + '<CLUSTER NAME="S" LOCALTIME="100" OWNER="o" LATLONG="l" URL="u">\n'
    + '<HOSTS UP="4" DOWN="1" SOURCE="gmetad"/>\n'
    + '<METRICS NAME="load_one" SUM="1.500" NUM="4" TYPE="double" UNITS=" " SLOPE="both" SOURCE="gmond">\n'
    + '<EXTRA_DATA><EXTRA_ELEMENT NAME="GROUP" VAL="load"/></EXTRA_DATA></METRICS>\n'
    + '<METRICS NAME="os_name" SUM="0" NUM="4" TYPE="string" UNITS="" SLOPE="zero" SOURCE="gmond"/>\n'
    + '</CLUSTER>\n</GANGLIA_XML>\n';
  const s = cluster(build(doc).snapshot, 'S');
  assert.equal(s.hosts.size, 0);
  assert.deepEqual(printed(s.summary), {
    up: 4, down: 1,
    // The EXTRA_DATA of a received METRICS is dropped, as 3.7.2 does.
    metrics: new Map([['load_one', { sum: '1.500', num: 4, units: ' ', slope: 'both', extra: [] }]]),
  });
  const sameInGrid = build(`<GANGLIA_XML VERSION="3.7.2" SOURCE="gmetad"><GRID NAME="G" AUTHORITY="a" LOCALTIME="5">${
    doc.split('\n').slice(1, -2).join('\n')}</GRID></GANGLIA_XML>`).snapshot;
  assert.deepEqual(printed(grid(sameInGrid, 'G').summary), printed(s.summary));
});

test('host up rule: TN < 4*TMAX, or |LOCALTIME - REPORTED| < 60 when TMAX=0 or pre-2.5', () => {
  const doc = (version: string) => `<GANGLIA_XML VERSION="${version}" SOURCE="gmond">`
    + '<CLUSTER NAME="C" LOCALTIME="1000">'
    + '<HOST NAME="a" IP="1" REPORTED="1000" TN="79" TMAX="20"/>'
    + '<HOST NAME="b" IP="1" REPORTED="1000" TN="80" TMAX="20"/>'
    + '<HOST NAME="c" IP="1" REPORTED="941" TN="500" TMAX="0"/>'
    + '<HOST NAME="d" IP="1" REPORTED="940" TN="0" TMAX="0"/>'
    + '</CLUSTER></GANGLIA_XML>';
  const up = (version: string) => [...cluster(build(doc(version)).snapshot, 'C').hosts.values()].map((h) => h.up);
  assert.deepEqual(up('3.7.2'), [true, false, true, false]);
  // Pre-2.5 documents ignore TN/TMAX: a (REPORTED=LOCALTIME) and b up, c (59 s) up, d (60 s) down.
  assert.deepEqual(up('2.4.1'), [true, true, true, false]);
  assert.deepEqual(cluster(build(doc('2.4.1')).snapshot, 'C').summary.hostsDown, 1);
});

test('metrics with an unknown TYPE are ignored; the summary policy is applied', () => {
  const doc = '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="C" LOCALTIME="1">'
    + '<HOST NAME="h" IP="1" REPORTED="1" TN="0" TMAX="20">'
    + '<METRIC NAME="weird" VAL="1" TYPE="int64" TN="0"/>'
    + '<METRIC NAME="cpu_user" VAL="1.5" TYPE="float" TN="0"/>'
    + '<METRIC NAME="vm.vcpu" VAL="2" TYPE="uint32" TN="0"/>'
    + '</HOST></CLUSTER></GANGLIA_XML>';
  const policy = buildSummaryPolicy({ unsummarizedMetrics: ['cpu_'], unsummarizedSflowVmMetrics: true, summarizedMetrics: [] });
  const { snapshot, builder } = build(doc, { policy });
  const c = cluster(snapshot, 'C');
  assert.deepEqual([...c.hosts.get('h')!.metrics.keys()], ['cpu_user', 'vm.vcpu']);
  assert.equal(c.hosts.get('h')!.metrics.get('cpu_user')!.slope, 'unspecified');
  assert.deepEqual([...c.summary.metrics.keys()], []);
  assert.equal(builder.metricsReceived, 3);
});

test('finish() refuses incomplete documents and foreign roots', () => {
  const builder = new SnapshotBuilder({ source: 's', pollTime: NOW, scalable: true, policy: SUMMARIZE_ALL });
  assert.throws(() => builder.finish(), SnapshotError);
  builder.openTag('GANGLIA_XML', { VERSION: '3.7.2' });
  builder.openTag('CLUSTER', { NAME: 'Trunc', LOCALTIME: '1' });
  assert.throws(() => builder.finish(), SnapshotError);

  const other = new SnapshotBuilder({ source: 's', pollTime: NOW, scalable: true, policy: SUMMARIZE_ALL });
  assert.throws(() => other.openTag('html', {}), SnapshotError);

  // crafted/truncated.xml: the parser fails at end() and the builder has no finished tree.
  const truncated = new SnapshotBuilder({ source: 's', pollTime: NOW, scalable: true, policy: SUMMARIZE_ALL });
  const parser = createXmlParser(truncated);
  parser.write(readFixture('crafted/truncated.xml'));
  assert.throws(() => parser.end());
  assert.throws(() => truncated.finish(), SnapshotError);
});

test('both parsers build identical snapshots of every well-formed fixture', () => {
  for (const fixture of ['gmond.xml', 'gmond-beta.xml', 'gmetad-xmlport.xml', 'toplevel-xmlport.xml',
    'crafted/escape.xml', 'crafted/grid-source.xml', 'escaping/gmond-escaping.xml']) {
    const text = readFixture(fixture);
    assert.deepEqual(build(text, {}, 'sax').snapshot, build(text, {}, 'fast').snapshot, fixture);
  }
});

test('repeated strings and EXTRA_DATA lists are shared, within and across polls', () => {
  const doc = (val: string) => '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="C" LOCALTIME="1">'
    + ['h1', 'h2'].map((h) => `<HOST NAME="${h}" IP="1" REPORTED="1" TN="0" TMAX="20">`
      + `<METRIC NAME="a_rather_long_metric_name" VAL="${val}" TYPE="string" UNITS="some long units text" TN="0" SLOPE="zero">`
      + '<EXTRA_DATA><EXTRA_ELEMENT NAME="DESCRIPTION" VAL="a long description of the metric"/></EXTRA_DATA>'
      + '</METRIC></HOST>').join('')
    + '</CLUSTER></GANGLIA_XML>';
  const interner = new Interner();
  const metricsOf = (s: SourceSnapshot) => [...cluster(s, 'C').hosts.values()].map((h) => h.metrics.get('a_rather_long_metric_name')!);
  const [a, b] = metricsOf(build(doc('value number one, long'), { interner }).snapshot);
  assert.equal(a.extra, b.extra, 'one EXTRA_DATA array for both hosts');
  assert.equal(a.val, 'value number one, long');
  const [c] = metricsOf(build(doc('value number two, long'), { interner }).snapshot);
  assert.equal(c.extra, a.extra, 'the next poll reuses the list');
  assert.equal(c.units, 'some long units text');
  assert.equal(detach('x'.repeat(40).slice(3, 30)), 'x'.repeat(27));
  assert.equal(detach('\u0100 is not latin1 at all'), '\u0100 is not latin1 at all');
});
