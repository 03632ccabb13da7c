/**
 * Random and mutated Ganglia documents for the output property test (every dump must be
 * well-formed XML whatever a source sent), shared by the bounded unit test and the long
 * script (bench/fuzz-output.ts). Deterministic for a given seed, so a failure can be
 * replayed from the seed it prints.
 */
import { seededRandom } from './seeded-random';

export { seededRandom };


export class Fuzz {
  constructor(readonly random: () => number) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.random() < p;
  }
}

/** Code points a source can send as references: markup, controls, latin1, wide, astral. */
const INTERESTING_CODE_POINTS = [
  0x9, 0xa, 0xd, 0x20, 0x22, 0x26, 0x27, 0x3c, 0x3e, 0x7f, 0x80, 0x9f, 0xa0, 0xff,
  0x100, 0x122, 0x13c, 0x13e, 0x122, 0x3c00, 0x2022, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0x10000, 0x1f600, 0x10ffff,
];

/** One raw (already escaped) attribute value, as it would appear between the quotes. */
export function hostileValue(f: Fuzz): string {
  const parts: string[] = [];
  const n = f.int(8);
  for (let i = 0; i < n; i++) {
    switch (f.int(9)) {
      case 0: parts.push(f.pick(['&lt;', '&gt;', '&amp;', '&quot;', '&apos;'])); break;
      case 1: parts.push(`&#x${f.pick(INTERESTING_CODE_POINTS).toString(16)};`); break;
      case 2: parts.push(`&#${f.pick(INTERESTING_CODE_POINTS)};`); break;
      case 3: parts.push(`&#x${(0x100 + f.int(0xd700)).toString(16).toUpperCase()};`); break;
      case 4: parts.push(String.fromCharCode(0x80 + f.int(0x80))); break; // raw latin1 byte
      case 5: parts.push(f.pick(['\t', '\n', '\r\n', ' '])); break;
      case 6: parts.push(`&#x${(0x10000 + f.int(0xfffff)).toString(16)};`); break;
      default: parts.push(f.pick(['x', 'load_one', 'INJECTED=', '1', '/', '?', '%', 'script', '.5'])); break;
    }
  }
  return parts.join('');
}

function attr(name: string, value: string): string {
  return ` ${name}="${value}"`;
}

/** A well-formed document with hostile values everywhere; the parser should accept it. */
export function randomDocument(f: Fuzz, pollTime: number): string {
  const out: string[] = [];
  if (f.chance(0.1)) out.push('\u00ef\u00bb\u00bf'); // UTF-8 BOM, as latin1 chars
  out.push('<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n');
  out.push('<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n');
  const grid = f.chance(0.3);
  if (grid) out.push(`<GRID${attr('NAME', `g${hostileValue(f)}`)}${attr('AUTHORITY', hostileValue(f))} LOCALTIME="${pollTime}">\n`);
  const clusters = 1 + f.int(2);
  for (let c = 0; c < clusters; c++) {
    out.push(`<CLUSTER${attr('NAME', `c${c}${hostileValue(f)}`)} LOCALTIME="${pollTime}"${attr('OWNER', hostileValue(f))}`
      + `${attr('LATLONG', hostileValue(f))}${attr('URL', hostileValue(f))}>\n`);
    const hosts = f.int(4);
    for (let h = 0; h < hosts; h++) {
      const tn = f.int(200);
      out.push(`<HOST${attr('NAME', `h${h}${hostileValue(f)}`)}${attr('IP', hostileValue(f))} REPORTED="${pollTime - tn}"`
        + ` TN="${tn}" TMAX="20" DMAX="${f.pick([0, 0, 86400, 50])}"${attr('LOCATION', hostileValue(f))}`
        + ` GMOND_STARTED="${pollTime - 1000}"${attr('TAGS', hostileValue(f))}>\n`);
      const metrics = f.int(5);
      for (let m = 0; m < metrics; m++) {
        const numeric = f.chance(0.5);
        const type = numeric ? f.pick(['float', 'double', 'uint32', 'int8']) : f.pick(['string', 'timestamp', hostileValue(f)]);
        const val = numeric ? String(f.int(1000) / (f.chance(0.5) ? 100 : 1)) : hostileValue(f);
        out.push(`<METRIC${attr('NAME', `m${m}${hostileValue(f)}`)}${attr('VAL', val)}${attr('TYPE', type)}`
          + `${f.chance(0.8) ? attr('UNITS', hostileValue(f)) : ''} TN="${f.int(100)}" TMAX="60" DMAX="${f.pick([0, 0, 30])}"`
          + `${attr('SLOPE', f.pick(['both', 'zero', 'positive', hostileValue(f)]))}${f.chance(0.3) ? attr('SOURCE', hostileValue(f)) : ''}>\n`);
        out.push('<EXTRA_DATA>\n');
        const extras = f.int(3);
        for (let e = 0; e < extras; e++) {
          out.push(`<EXTRA_ELEMENT${attr('NAME', f.pick(['GROUP', 'DESC', 'TITLE', 'SPOOF_HOST', hostileValue(f)]))}${attr('VAL', hostileValue(f))}/>\n`);
        }
        out.push('</EXTRA_DATA>\n</METRIC>\n');
      }
      out.push('</HOST>\n');
    }
    out.push('</CLUSTER>\n');
  }
  if (grid) out.push('</GRID>\n');
  out.push('</GANGLIA_XML>\n');
  return out.join('');
}

const INSERTS = [
  '&#x122;', '&#x13C;', '&#x13E;', '&#0;', '&#xD800;', '&#x110000;', '<', '>', '"', "'", '&', '\u0000', '\u0001',
  '\u00ef\u00bb\u00bf', ']]>', '<!--', '-->', '<![CDATA[x]]>', '</HOST>', '<HOST NAME="x">', '/>', '=', '&amp;', '&lt;',
  '&#x3C;', '&#60;', '&#x10FFFF;', '\u00ff', '\u0080',
];

/** A byte-level mutation of `doc`: most results are refused, some slip through as valid. */
export function mutateDocument(f: Fuzz, doc: string): string {
  let s = doc;
  const edits = 1 + f.int(4);
  for (let i = 0; i < edits; i++) {
    const at = f.int(s.length + 1);
    switch (f.int(6)) {
      case 0: s = s.slice(0, at) + f.pick(INSERTS) + s.slice(at); break;
      case 1: s = s.slice(0, at) + s.slice(Math.min(s.length, at + 1 + f.int(20))); break;
      case 2: s = s.slice(0, at) + String.fromCharCode(f.int(256)) + s.slice(at + 1); break;
      case 3: {
        const from = f.int(s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + f.int(200)) + s.slice(at);
        break;
      }
      case 4: s = s.slice(0, at); break;
      default: {
        // Replace the inside of one attribute value with a hostile one.
        const q = s.indexOf('="', at);
        if (q === -1) break;
        const end = s.indexOf('"', q + 2);
        if (end === -1) break;
        s = s.slice(0, q + 2) + hostileValue(f) + s.slice(end);
        break;
      }
    }
  }
  return s;
}

/** Characters XML 1.0 does not allow anywhere (as bytes of an ISO-8859-1 document). */
const NOT_XML_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;

/**
 * Checks one dump (bytes as sent) strictly: sax in strict mode with only the XML entities,
 * one root, no characters outside XML 1.0's Char. Returns the attribute values of every
 * element, decoded, for round-trip checks; throws with a reason and position otherwise.
 */
export function parseDumpStrictly(
  sax: typeof import('sax'),
  bytes: Buffer,
): { name: string; attrs: Record<string, string> }[] {
  const text = bytes.toString('latin1');
  const bad = NOT_XML_CHAR.exec(text);
  if (bad) throw new Error(`character 0x${bad[0].charCodeAt(0).toString(16)} at offset ${bad.index}`);
  const elements: { name: string; attrs: Record<string, string> }[] = [];
  const options: import('sax').SAXOptions & { strictEntities: boolean } = { strictEntities: true };
  const parser = sax.parser(true, options);
  let roots = 0;
  let depth = 0;
  parser.onerror = (err) => {
    throw err;
  };
  parser.onopentag = (tag) => {
    if (depth === 0) roots++;
    depth++;
    elements.push({ name: tag.name, attrs: { ...(tag.attributes as Record<string, string>) } });
  };
  parser.onclosetag = () => {
    depth--;
  };
  parser.write(text).close();
  if (roots !== 1 || depth !== 0) throw new Error(`${roots} root elements, depth ${depth} at the end`);
  return elements;
}
