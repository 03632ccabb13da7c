/**
 * JIT warm-up of the parsing path, run by each parse worker when it starts. Cold, V8 runs
 * the tokenizer in its interpreter, and the first chunks of a big source parse several
 * times slower; a few small synthetic documents get the hot functions optimised first.
 */
import { ImageWriter } from '../store/image/encode';
import { SUMMARIZE_ALL } from '../store/summary';
import { createXmlParser, type ParserKind } from './xml/parser-factory';
import { SnapshotBuilder } from './snapshot-builder';

function syntheticDocument(hosts: number, metrics: number): string {
  const parts = ['<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n',
    '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n',
    '<CLUSTER NAME="warmup" LOCALTIME="1000000000" OWNER="unspecified" LATLONG="unspecified" URL="unspecified">\n'];
  for (let h = 0; h < hosts; h++) {
    parts.push(`<HOST NAME="host${h}" IP="10.0.0.${h}" TAGS="" REPORTED="1000000000" TN="3" TMAX="20" DMAX="86400" LOCATION="unspecified" GMOND_STARTED="999999000">\n`);
    for (let m = 0; m < metrics; m++) {
      const type = m % 3 === 0 ? 'uint32' : m % 3 === 1 ? 'float' : 'string';
      parts.push(`<METRIC NAME="metric_${m}" VAL="${type === 'string' ? 'text &amp; more' : (m * 1.25).toFixed(2)}" TYPE="${type}" UNITS="units" TN="${m}" TMAX="60" DMAX="0" SLOPE="both" SOURCE="gmond">\n`,
        '<EXTRA_DATA>\n<EXTRA_ELEMENT NAME="GROUP" VAL="warmup"/>\n<EXTRA_ELEMENT NAME="DESC" VAL="Warm-up metric"/>\n</EXTRA_DATA>\n</METRIC>\n');
    }
    parts.push('</HOST>\n');
  }
  parts.push('</CLUSTER>\n</GANGLIA_XML>\n');
  return parts.join('');
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function warmUpParser(kind: ParserKind = 'fast', rounds = 6): Promise<void> {
  const text = syntheticDocument(40, 60);
  const SLICE = 16 * 1024;
  for (let round = 0; round < rounds; round++) {
    const builder = new SnapshotBuilder({
      source: 'warmup', pollTime: 1_000_000_000, scalable: true, policy: SUMMARIZE_ALL, writer: new ImageWriter(),
    });
    const parser = createXmlParser(builder, kind);
    for (let at = 0; at < text.length; at += SLICE) {
      parser.write(text.slice(at, at + SLICE));
      await yieldToEventLoop();
    }
    parser.end();
    builder.finish();
  }
}
