/**
 * The output property: whatever document a source sends, if the parser accepts it, every
 * dump of the XML port and every interactive reply is well-formed XML, and the values
 * decode back to what the source meant. Drives real ports over TCP. Used by the unit test
 * (a bounded number of documents) and bench/fuzz-output.ts (minutes).
 */
import * as sax from 'sax';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SOURCE_LIMITS } from '../../src/config/limits';
import { gangliaDocuments } from '../../src/readers/ganglia-document';
import { SharedDumpCache } from '../../src/server/shared-dump-cache';
import { startInteractivePort } from '../../src/server/interactive-port';
import type { StructuredLogger } from '../../src/util/logging';
import type { RunningPort } from '../../src/server/port-options';
import { startXmlPort } from '../../src/server/xml-port';
import type { SourceSnapshot, TreeNode } from '../../src/store/model';
import { Store } from '../../src/store/store';
import { DaemonStats } from '../../src/util/stats';
import { Fuzz, mutateDocument, parseDumpStrictly, randomDocument } from './hostile-docs';
import { rawRequest } from './net';
import { T_NOW } from './tree-builders';

const quiet: StructuredLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface FuzzCounts {
  documents: number;
  accepted: number;
  refused: number;
  dumps: number;
  /** METRIC values in dumps checked against what the source sent. */
  valuesChecked: number;
}

export interface OutputFuzzer {
  /** Runs one document through parse -> store -> ports; throws on a malformed dump. */
  runOne(f: Fuzz): Promise<void>;
  readonly counts: FuzzCounts;
  close(): Promise<void>;
}

/** The anchor gmond dump: the mutator also starts from a real document. */
function realDocument(): string {
  const file = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor', 'gmond.xml');
  return fs.readFileSync(file, 'latin1');
}

/** HTTP replies: the XML starts after the blank line. */
function body(reply: Buffer, http: boolean): Buffer {
  if (!http) return reply;
  const end = reply.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('HTTP reply without header end');
  return reply.subarray(end + 4);
}

function metricValues(nodes: readonly TreeNode[], into: Set<string>): void {
  for (const node of nodes) {
    // Grids are in summary form: only clusters hold metric values.
    if (node.kind !== 'cluster') continue;
    for (const h of node.hosts.values()) for (const m of h.metrics.values()) into.add(`${h.name}\u0000${m.name}\u0000${m.val}`);
  }
}

/** A second, independent check of every dump (the long script feeds expat). */
export type DumpCheck = (bytes: Buffer, what: string) => Promise<void>;

export async function startOutputFuzzer(extraCheck?: DumpCheck): Promise<OutputFuzzer> {
  const stats = new DaemonStats();
  const store = new Store({ gridname: 'Fuzz<&>"\u0122', authority: 'http://fuzz/' });
  const source = { name: 'fuzz', step: 15, addresses: [{ host: '127.0.0.1', port: 1 }], origin: 'fuzz:1', limits: DEFAULT_SOURCE_LIMITS };
  store.setSources([source]);
  const dumpCache = new SharedDumpCache();
  const common = {
    port: 0, host: '127.0.0.1', getView: () => store.view(), access: { isTrusted: () => true }, stats, logger: quiet, dumpCache,
  };
  const xml: RunningPort = await startXmlPort(common);
  const interactive: RunningPort = await startInteractivePort(common);
  const real = realDocument();
  const counts: FuzzCounts = { documents: 0, accepted: 0, refused: 0, dumps: 0, valuesChecked: 0 };

  const parse = (doc: string, f: Fuzz, scalable: boolean): SourceSnapshot | null => {
    const factory = gangliaDocuments({ source: 'fuzz', scalable, policy: { summarize: () => true } });
    const parser = factory(T_NOW);
    try {
      // Split anywhere: the tokenizer must not care where chunks end.
      for (let at = 0; at < doc.length;) {
        const size = 1 + f.int(f.chance(0.5) ? 64 : 4096);
        parser.write(doc.slice(at, at + size));
        at += size;
      }
      return parser.finish();
    } catch {
      return null;
    }
  };

  const check = async (bytes: Buffer, expected: Set<string>, what: string): Promise<void> => {
    if (extraCheck) await extraCheck(bytes, what);
    let elements;
    try {
      elements = parseDumpStrictly(sax, bytes);
    } catch (err) {
      throw new Error(`${what}: not well-formed: ${(err as Error).message}`);
    }
    counts.dumps++;
    let host = '';
    for (const e of elements) {
      if (e.name === 'HOST') host = e.attrs.NAME;
      if (e.name === 'METRIC') {
        const key = `${host}\u0000${e.attrs.NAME}\u0000${e.attrs.VAL}`;
        if (!expected.has(key)) throw new Error(`${what}: METRIC ${JSON.stringify(key)} is not what the source sent`);
        counts.valuesChecked++;
      }
    }
  };

  const runOne = async (f: Fuzz): Promise<void> => {
    counts.documents++;
    const base = f.chance(0.1) ? real : randomDocument(f, T_NOW);
    const doc = f.chance(0.4) ? mutateDocument(f, base) : base;
    const snapshot = parse(doc, f, f.chance(0.8));
    if (snapshot === null) {
      counts.refused++;
      return;
    }
    counts.accepted++;
    store.publish(snapshot);
    // What the store serves: this document plus hosts and clusters earlier ones listed (kept until DMAX).
    const expected = new Set<string>();
    const served = store.source('fuzz')!.snapshot!;
    metricValues([...served.nodes, ...(served.absentNodes ?? [])], expected);
    const first = snapshot.nodes[0];
    const firstHost = first?.kind === 'cluster' ? first.hosts.values().next().value : undefined;
    const firstMetric = firstHost?.metrics.values().next().value;
    // Names are sent as latin1 bytes; a request for a name outside latin1 finds nothing,
    // which is itself a reply to check.
    const elements = [first?.name, firstHost?.name, firstMetric?.name].filter((x): x is string => x !== undefined);
    const deep = `/${elements.join('/')}`;
    const requests: [string, boolean][] = [
      ['/\n', false],
      ['/?filter=summary\n', false],
      [`${deep}\n`, false],
      [`GET ${deep} HTTP/1.0\r\n\r\n`, true],
      [`GET /*/${elements[1] ?? 'x'} HTTP/1.1\r\n\r\n`, true],
      [`/${elements[0] ?? ''}?filter=summary\n`, false],
    ];
    await check((await rawRequest(xml.port, null)).data, expected, 'XML port dump');
    for (const [line, http] of requests) {
      const reply = await rawRequest(interactive.port, Buffer.from(line, 'latin1'));
      if (reply.data.length === 0) continue; // malformed request (a name with `<`, `;`...)
      await check(body(reply.data, http), expected, `interactive ${JSON.stringify(line)}`);
    }
  };

  return {
    runOne,
    counts,
    close: async () => {
      await Promise.all([xml.close(), interactive.close()]);
    },
  };
}
