import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sax from 'sax';
import { gangliaDocuments } from '../../src/readers/ganglia-document';
import { escapeAttr, metricXml } from '../../src/server/xml-render';
import { Fuzz, parseDumpStrictly, seededRandom } from '../helpers/hostile-docs';
import { startOutputFuzzer } from '../helpers/output-fuzz';
import { metric, T_NOW } from '../helpers/tree-builders';

test('characters above U+00FF are written as character references, never as their low byte', () => {
  assert.equal(escapeAttr('x\u0122 INJECTED=\u01221'), 'x&#x122; INJECTED=&#x122;1');
  assert.equal(escapeAttr('\u013cscript\u013e'), '&#x13C;script&#x13E;');
  assert.equal(escapeAttr('caf\u00e9 \u00ff'), 'caf\u00e9 \u00ff', 'latin1 stays one byte');
  assert.equal(escapeAttr('\u{1F600}'), '&#x1F600;', 'astral: one reference, not two surrogates');
  assert.equal(escapeAttr('a\tb\nc\rd'), 'a&#x9;b&#xA;c&#xD;d', 'kept as is by a parser');
  assert.equal(escapeAttr('\ud800x\u0001'), '&#xFFFD;x&#xFFFD;', 'what XML cannot hold at all');
});

test('the issue 7 reproducer: a gmond metric with &#x122; comes out as the same value', () => {
  const parser = gangliaDocuments({ source: 's', scalable: true, policy: { summarize: () => true } })(T_NOW);
  parser.write('<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="C" LOCALTIME="1" OWNER="o" LATLONG="l" URL="u">'
    + '<HOST NAME="h" IP="1" REPORTED="1" TN="0" TMAX="20" DMAX="0" LOCATION="l" GMOND_STARTED="1" TAGS="">'
    + '<METRIC NAME="m" VAL="x&#x122; INJECTED=&#x122;1" TYPE="string" UNITS="" TN="0" TMAX="60" DMAX="0" SLOPE="both"/>'
    + '<METRIC NAME="n" VAL="&#x13C;script&#x13E;" TYPE="string" UNITS="" TN="0" TMAX="60" DMAX="0" SLOPE="both"/>'
    + '</HOST></CLUSTER></GANGLIA_XML>');
  const snapshot = parser.finish();
  const cluster = snapshot.nodes[0];
  assert.equal(cluster.kind, 'cluster');
  const h = cluster.kind === 'cluster' ? cluster.hosts.get('h')! : null;
  const xml = metricXml(h!.metrics.get('m')!, T_NOW) + metricXml(h!.metrics.get('n')!, T_NOW);
  assert.match(xml, /VAL="x&#x122; INJECTED=&#x122;1" TYPE="string"/);
  assert.match(xml, /VAL="&#x13C;script&#x13E;"/);
  const elements = parseDumpStrictly(sax, Buffer.from(`<r>${xml}</r>`, 'latin1'));
  assert.deepEqual(elements.filter((e) => e.name === 'METRIC').map((e) => e.attrs.VAL),
    ['x\u0122 INJECTED=\u01221', '\u013cscript\u013e']);
  assert.equal(Object.keys(elements[1].attrs).includes('INJECTED'), false);
  void metric;
});

test('property: random and mutated documents -> parse -> store -> XML and interactive ports -> strictly well-formed', async (t) => {
  const fuzzer = await startOutputFuzzer();
  t.after(() => fuzzer.close());
  const seed = 7;
  const f = new Fuzz(seededRandom(seed));
  for (let i = 0; i < 250; i++) {
    try {
      await fuzzer.runOne(f);
    } catch (err) {
      assert.fail(`seed ${seed}, document ${i}: ${(err as Error).message}`);
    }
  }
  const c = fuzzer.counts;
  t.diagnostic(JSON.stringify(c));
  // The generator must exercise both sides, or the property proves nothing.
  assert.ok(c.accepted >= 100, `accepted ${c.accepted}`);
  assert.ok(c.refused >= 20, `refused ${c.refused}`);
  assert.ok(c.valuesChecked >= 200, `values checked ${c.valuesChecked}`);
});
