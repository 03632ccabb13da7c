/**
 * Parse-stage micro benchmark: a generated gmond-style document (default 1000 hosts x 100
 * metrics, ~33 MB) fed in 64 KB chunks to sax, the fast tokenizer, and the fast tokenizer
 * with the SnapshotBuilder. Prints MB/s and CPU ms per document.
 *
 *   node dist/bench/parse.js [--hosts 1000] [--metrics 100] [--runs 3] [--sax-runs 2] [--pool N]
 *   node --expose-gc dist/bench/parse.js   # also prints the heap retained by one snapshot
 *
 * --pool N: the daemon's path (issue 9, target 4): N sources of the given size read and parsed
 * at once by the parse pool (worker threads that fetch the document from a local TCP server
 * in this process, image transferred back), wall time from the poll's start to the last
 * snapshot, against one source alone. 2 sources x 500k metrics:
 *   node dist/bench/parse.js --hosts 5000 --metrics 100 --runs 3 --sax-runs 0 --pool 2
 */
import * as os from 'node:os';
import { DEFAULT_SOURCE_LIMITS } from '../src/config/limits';
import type { DocumentFetcher } from '../src/readers/fetch-document';
import { ParsePool } from '../src/readers/parse-pool';
import { startFakeGmond } from '../test/helpers/fake-gmond';
import { createFastParser } from '../src/readers/xml/fast-parser';
import { createSaxParser } from '../src/readers/xml/sax-parser';
import { Interner } from '../src/readers/intern';
import { SnapshotBuilder } from '../src/readers/snapshot-builder';
import type { SourceSnapshot } from '../src/store/model';
import { ImageWriter } from '../src/store/image/encode';
import { SUMMARIZE_ALL } from '../src/store/summary';
import type { StreamingXmlParser, XmlSink } from '../src/readers/xml/xml-parser';

const CHUNK = 64 * 1024;
const POLL_TIME = 1_795_255_600;

interface Options {
  hosts: number;
  metrics: number;
  runs: number;
  saxRuns: number;
  pool: number;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { hosts: 1000, metrics: 100, runs: 3, saxRuns: 2, pool: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`bad value for ${argv[i]}`);
    switch (argv[i]) {
      case '--hosts': options.hosts = value; break;
      case '--metrics': options.metrics = value; break;
      case '--runs': options.runs = value; break;
      case '--sax-runs': options.saxRuns = value; break;
      case '--pool': options.pool = value; break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return options;
}

const GROUPS = ['cpu', 'memory', 'network', 'disk', 'load', 'process', 'system'];
const UNITS = ['%', 'KB', 'bytes/sec', 'packets/sec', ' ', 'GB', 'CPUs', ''];
const TYPES = ['float', 'uint32', 'double', 'string', 'uint16'];

/** A gmond 3.7.2 style dump: same prolog, attribute order and EXTRA_DATA shape. */
export function generateGmondDocument(hosts: number, metrics: number): string {
  const lines: string[] = [
    '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>',
    '<!DOCTYPE GANGLIA_XML [',
    '   <!ELEMENT GANGLIA_XML (GRID|CLUSTER|HOST)*>',
    '      <!ATTLIST GANGLIA_XML VERSION CDATA #REQUIRED>',
    '   <!ELEMENT METRIC (EXTRA_DATA*)>',
    "      <!ATTLIST METRIC SOURCE (gmond) 'gmond'>",
    ']>',
    '<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">',
    `<CLUSTER NAME="BenchCluster" LOCALTIME="${POLL_TIME}" OWNER="Bench Owner" LATLONG="unspecified" URL="unspecified">`,
  ];
  for (let h = 0; h < hosts; h++) {
    const tn = h % 17;
    lines.push(`<HOST NAME="node-${h}.bench.example.org" IP="10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}" TAGS="" `
      + `REPORTED="${POLL_TIME - tn}" TN="${tn}" TMAX="20" DMAX="86400" LOCATION="rack ${h % 40}" GMOND_STARTED="1795200000">`);
    for (let m = 0; m < metrics; m++) {
      const type = TYPES[m % TYPES.length];
      const val = type === 'string' ? `Linux 5.10.0-${m % 7}-amd64` : type === 'float' || type === 'double'
        ? ((h * 31 + m * 7) % 10000 / 100).toFixed(2) : String((h * 131 + m) % 100000);
      const group = GROUPS[m % GROUPS.length];
      lines.push(
        `<METRIC NAME="bench_metric_${m}" VAL="${val}" TYPE="${type}" UNITS="${UNITS[m % UNITS.length]}" `
          + `TN="${(h + m) % 60}" TMAX="60" DMAX="0" SLOPE="${m % 9 === 0 ? 'zero' : 'both'}">`,
        '<EXTRA_DATA>',
        `<EXTRA_ELEMENT NAME="GROUP" VAL="${group}"/>`,
        `<EXTRA_ELEMENT NAME="DESC" VAL="Benchmark metric number ${m} in group ${group}, for parser timing"/>`,
        `<EXTRA_ELEMENT NAME="TITLE" VAL="Bench Metric ${m}"/>`,
        '</EXTRA_DATA>',
        '</METRIC>',
      );
    }
    lines.push('</HOST>');
  }
  lines.push('</CLUSTER>', '</GANGLIA_XML>', '');
  return lines.join('\n');
}

const NULL_SINK: XmlSink = { openTag: () => undefined, closeTag: () => undefined };

function feed(parser: StreamingXmlParser, doc: string): void {
  for (let i = 0; i < doc.length; i += CHUNK) parser.write(doc.slice(i, i + CHUNK));
  parser.end();
}

function cpuMs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function report(label: string, doc: string, runs: number, run: () => void): void {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(cpuMs(run));
  times.sort((a, b) => a - b);
  const best = times[0];
  const mb = doc.length / 1e6;
  console.log(`${label.padEnd(22)} best ${best.toFixed(0).padStart(6)} ms CPU  median ${times[times.length >> 1].toFixed(0).padStart(6)} ms`
    + `  ${(mb / (best / 1000)).toFixed(1).padStart(7)} MB/s`);
}

function buildSnapshot(doc: string, interner: Interner): SourceSnapshot {
  const builder = new SnapshotBuilder({
    source: 'bench', pollTime: POLL_TIME, scalable: true, policy: SUMMARIZE_ALL, interner,
  });
  feed(createFastParser(builder), doc);
  return builder.finish();
}

/** The parse workers' path: the builder writes the image's columns as it parses. */
function buildImage(doc: string, interner: Interner): void {
  const builder = new SnapshotBuilder({
    source: 'bench', pollTime: POLL_TIME, scalable: true, policy: SUMMARIZE_ALL, interner, writer: new ImageWriter(),
  });
  feed(createFastParser(builder), doc);
  builder.finish();
}

/** One poll through a pool fetcher; resolves with the snapshot. */
async function parseInPool(fetcher: DocumentFetcher, port: number): Promise<SourceSnapshot> {
  const request = { address: { host: '127.0.0.1', port }, pollTime: POLL_TIME, connectMs: 5000, idleMs: 10_000, maxDocumentBytes: DEFAULT_SOURCE_LIMITS.maxDocumentBytes };
  const result = await fetcher.fetch(request, new AbortController().signal, () => undefined);
  if (result.kind !== 'ok') throw new Error(`poll failed: ${result.reason}`);
  return result.snapshot;
}

async function poolReport(options: Options, docText: string): Promise<void> {
  const doc = Buffer.from(docText, 'latin1');
  const pool = new ParsePool(os.availableParallelism());
  const settings = { scalable: true, summary: { unsummarizedMetrics: [], unsummarizedSflowVmMetrics: false, summarizedMetrics: [] } };
  const fetchers = Array.from({ length: options.pool }, (_, i) => pool.fetcher({ source: `s${i}`, settings }));
  const big = await startFakeGmond({ kind: 'serve', body: doc });
  const small = await startFakeGmond({ kind: 'serve', body: Buffer.from(generateGmondDocument(50, options.metrics), 'latin1') });
  // Start every worker and warm it (it also warms itself up) with one small document each.
  await Promise.all(fetchers.map((f) => parseInPool(f, small.port)));
  const wall = async (n: number): Promise<number> => {
    const started = performance.now();
    await Promise.all(fetchers.slice(0, n).map((f) => parseInPool(f, big.port)));
    return performance.now() - started;
  };
  const one: number[] = [];
  const all: number[] = [];
  /** Process CPU (every thread: this one serving the document, the workers, V8's helpers) per document. */
  const cpu: number[] = [];
  for (let i = 0; i < Math.max(1, options.runs); i++) {
    const before = process.cpuUsage();
    one.push(await wall(1));
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
    if (options.pool > 1) all.push(await wall(options.pool));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`parse pool (${os.availableParallelism()} cores), ${(doc.length / 1e6).toFixed(1)} MB per source, poll start to snapshot on the main thread:`);
  console.log(`  1 source alone:          median ${med(one).toFixed(0)} ms (${one.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  1 source alone, CPU of all threads: median ${med(cpu).toFixed(0)} ms (${cpu.map((x) => x.toFixed(0)).join(', ')})`);
  if (options.pool > 1) {
    console.log(`  ${options.pool} sources at once:      median ${med(all).toFixed(0)} ms (${all.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`  ratio ${(med(all) / med(one)).toFixed(2)} (1.00 = fully parallel; ${options.pool}.00 = serial)`);
  }
  await pool.close();
  await big.close();
  await small.close();
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const doc = generateGmondDocument(options.hosts, options.metrics);
  console.log(`document: ${options.hosts} hosts x ${options.metrics} metrics, ${(doc.length / 1e6).toFixed(1)} MB, `
    + `${CHUNK / 1024} KB chunks`);
  // Warm up the JIT on a small document so the first measured run is not an outlier.
  const small = generateGmondDocument(20, options.metrics);
  for (let i = 0; i < 5; i++) {
    feed(createFastParser(NULL_SINK), small);
    feed(createSaxParser(NULL_SINK), small);
    buildSnapshot(small, new Interner());
  }

  if (options.saxRuns > 0) report('sax', doc, options.saxRuns, () => feed(createSaxParser(NULL_SINK), doc));
  if (options.pool > 0) {
    await poolReport(options, doc);
    return;
  }
  report('fast', doc, options.runs, () => feed(createFastParser(NULL_SINK), doc));
  const interner = new Interner();
  report('fast+builder', doc, options.runs, () => buildSnapshot(doc, interner));
  const imageInterner = new Interner();
  report('fast+builder->image', doc, options.runs, () => buildImage(doc, imageInterner));

  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept = buildSnapshot(doc, interner);
    gc();
    const after = process.memoryUsage().heapUsed;
    const metrics = kept.nodes.length;
    console.log(`heap retained by one snapshot: ${((after - before) / 1048576).toFixed(1)} MiB (${metrics} node(s))`);
  }
}

if (require.main === module) void main();
