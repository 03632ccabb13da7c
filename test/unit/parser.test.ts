/**
 * The two XML tokenizers: identical event streams on every anchor fixture whatever the
 * chunking, and XmlParseError (with a line) on malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createFastParser, MAX_TOKEN } from '../../src/readers/xml/fast-parser';
import { gangliaDocuments } from '../../src/readers/ganglia-document';
import { createSaxParser } from '../../src/readers/xml/sax-parser';
import { createXmlParser, type ParserKind } from '../../src/readers/xml/parser-factory';
import { XmlParseError, type Attributes, type StreamingXmlParser, type XmlSink } from '../../src/readers/xml/xml-parser';
import { seededRandom } from '../helpers/seeded-random';

const ANCHOR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');

type Event = readonly ['open', string, Record<string, string>] | readonly ['close', string];
type ParserMaker = (sink: XmlSink) => StreamingXmlParser;

const MAKERS: Record<ParserKind, ParserMaker> = { fast: createFastParser, sax: createSaxParser };

function readFixture(relative: string): string {
  return fs.readFileSync(path.join(ANCHOR, relative), 'latin1');
}

function recordingSink(events: Event[]): XmlSink {
  return {
    openTag: (name: string, attrs: Attributes) => events.push(['open', name, { ...attrs }]),
    closeTag: (name: string) => events.push(['close', name]),
  };
}


type Chunking = number | 'random';

function chunksOf(text: string, chunking: Chunking, seed = 1): string[] {
  const chunks: string[] = [];
  const next = seededRandom(seed);
  for (let i = 0; i < text.length;) {
    const size = chunking === 'random' ? 1 + Math.floor(next() * 300) : chunking;
    chunks.push(text.slice(i, i + size));
    i += size;
  }
  return chunks;
}

function parse(kind: ParserKind, text: string, chunking: Chunking = text.length || 1, seed = 1): Event[] {
  const events: Event[] = [];
  const parser = MAKERS[kind](recordingSink(events));
  for (const chunk of chunksOf(text, chunking, seed)) parser.write(chunk);
  parser.end();
  return events;
}

function parseError(kind: ParserKind, text: string, chunking: Chunking = text.length || 1): XmlParseError {
  let caught: unknown;
  try {
    parse(kind, text, chunking);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof XmlParseError, `${kind} (${chunking}): expected XmlParseError, got ${String(caught)}`);
  assert.ok(Number.isInteger(caught.line) && caught.line >= 1, `${kind}: line ${caught.line}`);
  return caught;
}

const WELL_FORMED = [
  'gmond.xml', 'gmond-beta.xml', 'gmond-gamma.xml', 'gmetad-xmlport.xml', 'gmetad-xmlport-after-gamma-death.xml',
  'toplevel-xmlport.xml', 'crafted/escape.xml', 'crafted/grid-source.xml', 'crafted/gzip-source.xml',
  'escaping/gmond-escaping.xml',
];

for (const fixture of WELL_FORMED) {
  test(`both parsers agree on ${fixture} in any chunking`, () => {
    const text = readFixture(fixture);
    const reference = parse('sax', text);
    assert.ok(reference.length >= 8);
    assert.deepEqual(reference[0].slice(0, 2), ['open', 'GANGLIA_XML']);
    assert.deepEqual(reference[reference.length - 1], ['close', 'GANGLIA_XML']);
    assert.deepEqual(parse('fast', text), reference, 'fast, whole document');
    assert.deepEqual(parse('fast', text, 1), reference, 'fast, 1-byte chunks');
    assert.deepEqual(parse('fast', text, 7), reference, 'fast, 7-byte chunks');
    for (const seed of [1, 2, 3]) assert.deepEqual(parse('fast', text, 'random', seed), reference, `fast, seed ${seed}`);
    assert.deepEqual(parse('sax', text, 7), reference, 'sax, 7-byte chunks');
    assert.deepEqual(parse('sax', text, 'random', 4), reference, 'sax, random chunks');
  });
}

test('attribute values are entity-decoded (gmond escaping fixture)', () => {
  for (const kind of ['fast', 'sax'] as const) {
    const events = parse(kind, readFixture('escaping/gmond-escaping.xml'), 5);
    const markup = events.find((e) => e[0] === 'open' && e[1] === 'METRIC' && e[2].NAME === 'anchor_markup');
    assert.ok(markup !== undefined && markup[0] === 'open');
    assert.equal(markup[2].VAL, "a<b&c>d'e");
  }
});

test('references, quotes and whitespace in attribute values, split across chunks', () => {
  const doc = `<R a="&lt;&gt;&amp;&quot;&apos;" b='say "hi"' c="&#65;&#x42;&#x63;" d="x\r\ny\tz\nw" e=""/>`;
  const expected: Event[] = [
    ['open', 'R', { a: `<>&"'`, b: 'say "hi"', c: 'ABc', d: 'x y z w', e: '' }],
    ['close', 'R'],
  ];
  for (const kind of ['fast', 'sax'] as const) {
    for (const chunking of [1, 2, 3, 7, 'random'] as const) {
      assert.deepEqual(parse(kind, doc, chunking), expected, `${kind} ${chunking}`);
    }
  }
});

test('repeated EXTRA_DATA blocks (replayed by the fast parser) give the same events as sax, however the chunks fall', () => {
  const block = (group: string) => `<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="GROUP" VAL="${group}"/>\n`
    + '<EXTRA_ELEMENT NAME="DESC" VAL="a &amp; b\tc"/>\n<!-- c --></EXTRA_DATA>';
  const metric = (name: string, extra: string) => `<METRIC NAME="${name}" VAL="1" TYPE="float">${extra}</METRIC>\n`;
  const host = (h: number) => `<HOST NAME="h${h}">\n`
    + metric('a', block('cpu')) + metric('b', block('mem')) + metric('c', block(h % 2 === 0 ? 'cpu' : 'disk'))
    + metric('d', '<EXTRA_DATA/>') + metric('e', '<EXTRA_DATA></EXTRA_DATA >') + metric('f', `<EXTRA_DATA>${block('x')}</EXTRA_DATA>`)
    + metric('g', block('cpu').replace('<EXTRA_DATA>', '<EXTRA_DATA  >'))
    + '</HOST>\n';
  const doc = `<GANGLIA_XML>\n<CLUSTER NAME="c">\n${Array.from({ length: 6 }, (_, h) => host(h)).join('')}</CLUSTER>\n</GANGLIA_XML>\n`;
  const expected = parse('sax', doc);
  assert.equal(expected.filter((e) => e[0] === 'open' && e[1] === 'EXTRA_ELEMENT').length, 6 * 10);
  for (const chunking of [doc.length, 1, 7, 64, 'random'] as const) {
    for (const seed of [1, 2, 3]) assert.deepEqual(parse('fast', doc, chunking, seed), expected, `chunks of ${chunking}, seed ${seed}`);
  }
  // A block that differs from a replayed one only past its first '</EXTRA_DATA>' is still checked.
  const broken = doc.replace(/(<HOST NAME="h5">[^]*?<METRIC NAME="a"[^]*?<EXTRA_ELEMENT NAME="DESC" VAL="a &amp; b)/, '$1 & c');
  assert.notEqual(broken, doc);
  assert.throws(() => parse('fast', broken), XmlParseError);
});

test('METRIC tags matched against the last tag of their name (fast parser) give the same events as sax, however the chunks fall', () => {
  const next = seededRandom(9);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const block = (m: number) => `<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="GROUP" VAL="g${m % 3}"/>\n`
    + `<EXTRA_ELEMENT NAME="DESC" VAL="metric ${m} &amp; more"/>\n</EXTRA_DATA>`;
  const usual = (m: number, val: string, tn: string) => `<METRIC NAME="m${m}" VAL="${val}" TYPE="float" UNITS="%" TN="${tn}" `
    + `TMAX="60" DMAX="0" SLOPE="both" SOURCE="gmond">\n${block(m)}\n</METRIC>`;
  // Tags that differ from the usual one in one byte, in the order or quoting of attributes,
  // in their body, or that are self-closing.
  const variants: ((m: number, val: string, tn: string) => string)[] = [
    (m, val, tn) => usual(m, val, tn).replace('UNITS="%"', 'UNITS="%%"'),
    (m, val, tn) => usual(m, val, tn).replace('TMAX="60"', 'TMAX="61"'),
    (m, val, tn) => usual(m, val, tn).replace(` TN="${tn}"`, '').replace(' TMAX=', ` TN="${tn}" TMAX=`),
    (m, val, tn) => usual(m, val, tn).replace(' SOURCE="gmond"', ''),
    (m, val, tn) => usual(m, val, tn).replace(` VAL="${val}"`, ''),
    (m, val, tn) => usual(m, val, tn).replace('TYPE="float"', "TYPE='float'").replace(`TN="${tn}"`, `TN = '${tn}'`),
    (m, val, tn) => usual(m, val, tn).replace('NAME=', ' NAME =').replace('>\n<EXTRA_DATA>', ' >\n<EXTRA_DATA>'),
    (m, val, tn) => usual(m, val, tn).replace(/>\n<EXTRA_DATA>[^]*<\/METRIC>$/, '/>'),
    (m, val, tn) => usual(m, val, tn).replace(/\n<EXTRA_DATA>[^]*<\/EXTRA_DATA>/, ''),
    (m, val, tn) => usual(m, val, tn).replace('VAL="g', 'VAL="h'),
    (m, val, tn) => usual(m, val, tn).replace('</EXTRA_DATA>', '<!-- c --></EXTRA_DATA>'),
    (m, val, tn) => usual(m, val, tn).replace('\n</METRIC>', `<METRIC NAME="m${m}" VAL="${val}" TN="1"/></METRIC>`),
    (m, val, tn) => usual(m, val, tn).replace('<METRIC NAME="', '<METRIC\tNAME="'),
  ];
  const values = ['1.5', '', '0', '42', 'a &amp; b', 'x\ty', "it's", 'a>b', '&#65;', 'a longer value of text 12345', 'x\r\ny'];
  const host = (h: number) => {
    let text = `<HOST NAME="h${h}" TN="1">\n`;
    for (let k = 0; k < 8; k++) {
      const m = next() < 0.1 ? Math.floor(next() * 8) : k; // now and then out of order or repeated
      const make = next() < 0.6 ? usual : pick(variants);
      text += `${make(m, pick(values), String(Math.floor(next() * 60)))}\n`;
    }
    return `${text}</HOST>\n`;
  };
  for (let round = 0; round < 4; round++) {
    const doc = `<GANGLIA_XML>\n<CLUSTER NAME="c">\n${Array.from({ length: 12 }, (_, h) => host(h)).join('')}</CLUSTER>\n</GANGLIA_XML>\n`;
    const expected = parse('sax', doc);
    assert.ok(expected.filter((e) => e[0] === 'open' && e[1] === 'METRIC').length >= 96);
    for (const chunking of [doc.length, 1, 7, 64, 'random'] as const) {
      for (const seed of [1, 2, 3]) assert.deepEqual(parse('fast', doc, chunking, seed), expected, `round ${round}, chunks of ${chunking}, seed ${seed}`);
    }
  }
});

test('a METRIC tag like a learned one but malformed in its values or constant text is rejected', () => {
  const tag = (val: string, rest = ' TYPE="float" TN="3" TMAX="60">') => `<METRIC NAME="cpu" VAL="${val}"${rest}`;
  const doc = (second: string) => `<G><H>${tag('1')}<E V="x"/></METRIC>\n${second}<E V="x"/></METRIC></H></G>`;
  const good = doc(tag('2'));
  assert.deepEqual(parse('fast', good), parse('sax', good));
  const bad = [
    tag('a & b'), tag('a\u0001b'), tag('1', ' TYPE="float" TN="3"TMAX="60">'),
    tag('1', ' TYPE="float" TN="3 TMAX="60">'), tag('1', ' TYPE="float" TN="&bogus;" TMAX="60">'),
  ];
  for (const second of bad) {
    for (const chunking of [good.length, 1, 5] as const) {
      parseError('fast', doc(second), chunking);
      parseError('sax', doc(second), chunking);
    }
  }
  // Stricter than sax, like expat.
  for (const second of [tag('a<b'), tag('1', ' TYPE="float" TN="3" TMAX="60" VAL="2">'), tag('1', ' TYPE="float" TN="3" TMAX="60" TMAX="60">')]) {
    for (const chunking of [good.length, 1, 5] as const) parseError('fast', doc(second), chunking);
  }
});

test('tokens longer than a chunk prefix, cut by chunk ends anywhere, give the same events as sax', () => {
  const next = seededRandom(11);
  let doc = '<G>\n';
  for (const size of [10, 3000, 4095, 4096, 4097, 5000, 30000, 33000, 300000]) {
    doc += `<M V="${'v'.repeat(size)}" W="1"/>\n<!--${'c'.repeat(size)}-->\n<M V="&amp;${'w'.repeat(size)}"></M >\n`;
  }
  doc += '</G>\n';
  const expected = parse('sax', doc);
  const feed = (sizes: () => number) => {
    const events: Event[] = [];
    const parser = createFastParser(recordingSink(events));
    for (let at = 0; at < doc.length;) {
      const size = sizes();
      parser.write(doc.slice(at, at + size));
      at += size;
    }
    parser.end();
    return events;
  };
  for (const size of [4097, 5000, 10000, 65536, 262145]) assert.deepEqual(feed(() => size), expected, `chunks of ${size}`);
  assert.deepEqual(feed(() => 1 + Math.floor(next() * 100000)), expected, 'random chunks up to 100000');
});

test('prolog, DOCTYPE internal subset, comments, PIs and CDATA are skipped', () => {
  const doc = '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    + '<!DOCTYPE G [\n <!ATTLIST M S (x) \'x]>\'>\n <!-- ] > "\' -->\n <!ELEMENT G ANY>\n]>\n'
    + '<!-- before --><?pi data?>\n<G>\n<M A="1"/>\n<!-- inside -- no? --><![CDATA[<not a tag>]]>text &amp; more\n</G >\n<!-- after -->\n';
  const bad = doc.replace('-- no? ', '');
  const expected: Event[] = [['open', 'G', {}], ['open', 'M', { A: '1' }], ['close', 'M'], ['close', 'G']];
  for (const kind of ['fast', 'sax'] as const) {
    parseError(kind, doc);
    for (const chunking of [1, 7, 'random'] as const) assert.deepEqual(parse(kind, bad, chunking), expected, `${kind} ${chunking}`);
  }
});

test('the truncated crafted document fails at end of input, on the line expat reported', () => {
  // 3.7.2: "XML_ParseBuffer() error at line 62: unclosed token"
  const text = readFixture('crafted/truncated.xml');
  for (const chunking of [text.length, 1, 7, 'random'] as const) {
    assert.equal(parseError('fast', text, chunking).line, 62);
    assert.ok(parseError('sax', text, chunking).line >= 62);
  }
});

test("unescaped '<' and '&' in attribute values (buggy gmetad output) fail on expat's line", () => {
  // escaping/wellformed.txt: expat's verdict on each file.
  const expectations: Record<string, number> = {
    'escaping/gmetad-escaping-metric.xml': 57,
    'escaping/gmetad-xmlport-escaping.xml': 565,
    'escaping/toplevel-xmlport-escaping.xml': 465,
  };
  for (const [fixture, line] of Object.entries(expectations)) {
    const text = readFixture(fixture);
    for (const kind of ['fast', 'sax'] as const) {
      for (const chunking of [text.length, 7, 'random'] as const) {
        assert.equal(parseError(kind, text, chunking).line, line, `${kind} ${fixture} ${chunking}`);
      }
    }
  }
});

test('malformed documents throw XmlParseError in both parsers', () => {
  const cases: Record<string, string> = {
    'mismatched tags': '<A><B></A></B>',
    'close tag without open': '</A>',
    'second root element': '<A/>\n<B/>',
    'unclosed element': '<A><B>\n',
    'empty input': '',
    'whitespace only': ' \n ',
    'text before root': 'hello <A/>',
    'text after root': '<A/> trailing',
    'unescaped & in attribute': '<A x="fish & chips"/>',
    'unknown entity': '<A x="&nbsp;"/>',
    'bad character reference': '<A x="&#0;"/>',
    '< starting nonsense': '<A><=B/></A>',
    'unquoted attribute': '<A x=1/>',
    'attributes without whitespace': '<A x="1"y="2"/>',
    'control character in value': '<A x="a\u0001b"/>',
    'unterminated tag at end': '<A><B x="1"',
    'HTTP response': 'HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n<A/>',
    'gzip bytes': '\u001f\u008b\u0008\u0000\u0000\u0000\u0000\u0000\u0000\u0003<\u00b3\u0000',
    'broken comment': '<A><!-- a -- b --></A>',
    'two DOCTYPEs': '<!DOCTYPE A><!DOCTYPE A><A/>',
  };
  for (const [name, doc] of Object.entries(cases)) {
    for (const kind of ['fast', 'sax'] as const) {
      for (const chunking of [doc.length || 1, 1, 3] as const) {
        assert.doesNotThrow(() => parseError(kind, doc, chunking), `${kind} ${name} ${chunking}`);
      }
    }
  }
});

test("the fast parser is stricter than sax where expat is: '<' in values, duplicates, late XML declaration", () => {
  for (const doc of ['<A x="a<b"/>', '<A x="1" x="2"/>', ' <?xml version="1.0"?><A/>', '<A>< B/></A>']) {
    for (const chunking of [doc.length, 1] as const) parseError('fast', doc, chunking);
  }
});

test('random garbage never parses', () => {
  const next = seededRandom(42);
  for (let round = 0; round < 200; round++) {
    let doc = '';
    const length = 1 + Math.floor(next() * 200);
    for (let i = 0; i < length; i++) doc += String.fromCharCode(Math.floor(next() * 256));
    for (const kind of ['fast', 'sax'] as const) parseError(kind, doc, 1 + Math.floor(next() * 16));
  }
});

test('errors carry line and column; a failed parser keeps failing', () => {
  const events: Event[] = [];
  const parser = createFastParser(recordingSink(events));
  parser.write('<A>\n<B>\n  ');
  let first: unknown;
  try {
    parser.write('</C>');
  } catch (err) {
    first = err;
  }
  assert.ok(first instanceof XmlParseError);
  assert.equal(first.line, 3);
  assert.equal(first.column, 3);
  assert.match(first.message, /line 3, column 3/);
  assert.throws(() => parser.write('</B>'), (err) => err === first);
  assert.throws(() => parser.end(), (err) => err === first);
  assert.deepEqual(events, [['open', 'A', {}], ['open', 'B', {}]]);
});

test('an oversized token is rejected instead of buffered forever', () => {
  const parser = createFastParser(recordingSink([]));
  parser.write('<A><B x="');
  const filler = 'y'.repeat(64 * 1024);
  assert.throws(() => {
    for (let i = 0; i < 20; i++) parser.write(filler);
  }, XmlParseError);
});

for (const [kind, create] of [['fast', createFastParser], ['sax', createSaxParser]] as const) {
  test(`the token limit is exact (${kind}): 1 MiB from < to > passes, one byte more fails, however the chunks fall`, () => {
    assert.equal(MAX_TOKEN, 1048576);
    /** A start tag of exactly `size` bytes: `<A x="...">`. */
    const tag = (size: number) => `<A x="${'y'.repeat(size - '<A x="">'.length)}">`;
    assert.equal(tag(MAX_TOKEN).length, MAX_TOKEN);
    const feed = (doc: string, chunk: number) => {
      const events: Event[] = [];
      const parser = create(recordingSink(events));
      for (let at = 0; at < doc.length; at += chunk) parser.write(doc.slice(at, at + chunk));
      parser.end();
      return events.length;
    };
    for (const chunk of [MAX_TOKEN + 100, 65536, 1000]) {
      assert.equal(feed(`${tag(MAX_TOKEN)}</A>`, chunk), 2, `chunks of ${chunk}: a tag of exactly the limit is accepted`);
      assert.throws(() => feed(`${tag(MAX_TOKEN + 1)}</A>`, chunk), /token longer than 1048576 bytes/, `chunks of ${chunk}`);
      // A tag that never ends is refused once past the limit, before the end of the input.
      assert.throws(() => feed(`<A x="${'y'.repeat(2 * MAX_TOKEN)}`, chunk), /token longer than 1048576 bytes/, `unended, chunks of ${chunk}`);
      // Comments, end tags and CDATA are tokens too: exactly the limit passes, one more fails.
      const comment = (size: number) => `<A><!--${'c'.repeat(size - '<!---->'.length)}--></A>`;
      assert.equal(feed(comment(MAX_TOKEN), chunk), 2, `comment at the limit, chunks of ${chunk}`);
      assert.throws(() => feed(comment(MAX_TOKEN + 1), chunk), /token longer than 1048576 bytes/, `comment, chunks of ${chunk}`);
      const endTag = (size: number) => `<A></A${' '.repeat(size - '</A>'.length)}>`;
      assert.equal(feed(endTag(MAX_TOKEN), chunk), 2, `end tag at the limit, chunks of ${chunk}`);
      assert.throws(() => feed(endTag(MAX_TOKEN + 1), chunk), /token longer than 1048576 bytes/, `end tag, chunks of ${chunk}`);
      const cdata = (size: number) => `<A><![CDATA[${'d'.repeat(size - '<![CDATA[]]>'.length)}]]></A>`;
      assert.equal(feed(cdata(MAX_TOKEN), chunk), 2, `CDATA at the limit, chunks of ${chunk}`);
      assert.throws(() => feed(cdata(MAX_TOKEN + 1), chunk), /token longer than 1048576 bytes/, `CDATA, chunks of ${chunk}`);
    }
  });
}

test('a UTF-8 byte-order mark at the start of a document is accepted (as expat does), split or whole', () => {
  const doc = '\u00ef\u00bb\u00bf<?xml version="1.0" encoding="ISO-8859-1"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">'
    + '<CLUSTER NAME="C" LOCALTIME="1" OWNER="o" LATLONG="l" URL="u"/></GANGLIA_XML>';
  for (const chunk of [1, 2, 3, 5, doc.length]) {
    for (const kind of ['fast', 'sax'] as const) {
      const parser = gangliaDocuments({ source: 's', scalable: true, policy: { summarize: () => true }, parser: kind })(1000);
      for (let at = 0; at < doc.length; at += chunk) parser.write(doc.slice(at, at + chunk));
      assert.deepEqual(parser.finish().nodes.map((n) => n.name), ['C'], `${kind}, chunks of ${chunk}`);
    }
  }
  // Only at the very start, and only the whole mark.
  const root = '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"/>';
  for (const bad of [`${root}\u00ef\u00bb\u00bf`, `\u00ef\u00bb${root}`, ` \u00ef\u00bb\u00bf${root}`, '\u00ef\u00bb\u00bf']) {
    const parser = gangliaDocuments({ source: 's', scalable: true, policy: { summarize: () => true } })(1000);
    assert.throws(() => { parser.write(bad); parser.finish(); }, /text (before|after) the root|no root/, JSON.stringify(bad));
  }
});

test('exceptions thrown by the sink propagate unchanged', () => {
  for (const kind of ['fast', 'sax'] as const) {
    const boom = new Error('sink says no');
    const parser = createXmlParser({ openTag: () => { throw boom; }, closeTag: () => undefined }, kind);
    assert.throws(() => parser.write('<A/>'), (err) => err === boom);
  }
});

test('createXmlParser defaults to the fast parser and honours the kind', () => {
  const doc = '<A b="1"><C/></A>';
  for (const kind of [undefined, 'fast', 'sax'] as const) {
    const events: Event[] = [];
    const parser = createXmlParser(recordingSink(events), kind);
    parser.write(doc);
    parser.end();
    assert.deepEqual(events, [['open', 'A', { b: '1' }], ['open', 'C', {}], ['close', 'C'], ['close', 'A']]);
  }
  // Only the fast parser rejects '<' inside a value, which tells them apart.
  assert.throws(() => { const p = createXmlParser(recordingSink([])); p.write('<A x="<"/>'); p.end(); }, XmlParseError);
  assert.doesNotThrow(() => { const p = createXmlParser(recordingSink([]), 'sax'); p.write('<A x="<"/>'); p.end(); });
});
