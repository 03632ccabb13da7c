import { DEFAULT_SOURCE_LIMITS } from '../../src/config/limits';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import type { DataSourceConfig, SourceAddress } from '../../src/config/types';
import type { SourceSnapshot } from '../../src/store/model';
import { DaemonStats } from '../../src/util/stats';
import { XmlParseError } from '../../src/readers/xml/xml-parser';
import { TcpConnector, formatAddress, type Connector } from '../../src/readers/connector';
import type { DocumentParserFactory } from '../../src/readers/document-parser';
import { inlineDocumentFactory } from '../../src/readers/ganglia-document';
import { LocalFetcher } from '../../src/readers/fetch-document';
import type { StructuredLogger } from '../../src/util/logging';
import { recordingLogger } from '../helpers/recording-logger';
import {
  SourcePoller,
  nextPollDelay,
  type PollOutcome,
  type SourcePollerDeps,
} from '../../src/readers/poller';
import { startFakeGmond, type FakeGmond, type FakeGmondBehaviour } from '../helpers/fake-gmond';
import { freePort } from '../helpers/net';
import { T_NOW } from '../helpers/tree-builders';
import { TurnBudget } from '../../src/util/turn-budget';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor');
const GMOND_XML = fs.readFileSync(path.join(FIXTURES, 'gmond.xml'));
const BODY = GMOND_XML.toString('latin1');

// A pino Logger must fit the poller's logger type (compile-time check).
const pinoFits: StructuredLogger = pino({ enabled: false });
void pinoFits;

/** Position (1-based line/column) just past `text`, for the test parser's errors. */
function endPosition(text: string): { line: number; column: number } {
  const lines = text.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/**
 * A stand-in for the real tokenizer + builder: keeps the text, rejects a document whose
 * first non-blank character is not '<', and wants `</GANGLIA_XML>` at the end.
 */
function testParser() {
  const documents: string[] = [];
  const pollTimes: number[] = [];
  let writes = 0;
  const factory: DocumentParserFactory = (pollTime) => {
    pollTimes.push(pollTime);
    let text = '';
    return {
      write(bytes: Buffer) {
        const chunk = bytes.toString('latin1');
        writes += 1;
        const checkedUpTo = text.length;
        text += chunk;
        const first = text.search(/\S/);
        if (first >= checkedUpTo && text[first] !== '<') {
          const { line, column } = endPosition(text.slice(0, first));
          throw new XmlParseError('not well-formed (invalid token)', line, column);
        }
        return true;
      },
      abort: () => undefined,
      async finish(): Promise<SourceSnapshot> {
        if (!text.includes('</GANGLIA_XML>')) {
          const { line, column } = endPosition(text);
          throw new XmlParseError('unclosed token', line, column);
        }
        documents.push(text);
        return { source: 'test', polledAt: pollTime, nodes: [] };
      },
    };
  };
  return {
    factory,
    documents,
    pollTimes,
    get writes() {
      return writes;
    },
  };
}

interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
}

function captureLogger(): { logger: StructuredLogger; lines: LogLine[] } {
  return recordingLogger();
}

/** Wraps a connector to record which addresses were tried, and when. */
function recordingConnector(inner: Connector = new TcpConnector()) {
  const attempts: { address: string; at: number }[] = [];
  const connector: Connector = {
    connect(address, timeoutMs, signal) {
      attempts.push({ address: formatAddress(address), at: performance.now() });
      return inner.connect(address, timeoutMs, signal);
    },
  };
  return { connector, attempts };
}

function source(name: string, addresses: SourceAddress[], step = 15): DataSourceConfig {
  return { name, step, addresses, origin: 'test:1', limits: DEFAULT_SOURCE_LIMITS };
}

/** The poller's dependencies, with attempts run on this thread through `connector` and `parserFactory`. */
type SetupOverrides = Partial<SourcePollerDeps> & {
  readonly connector?: Connector;
  readonly parserFactory?: DocumentParserFactory;
  readonly turns?: TurnBudget;
};

function setup(config: DataSourceConfig, { connector: connectorOverride, parserFactory, turns, ...overrides }: SetupOverrides = {}) {
  const parser = testParser();
  const { logger, lines } = captureLogger();
  const { connector, attempts } = recordingConnector();
  const stats = new DaemonStats();
  const snapshots: SourceSnapshot[] = [];
  const failures: string[] = [];
  const poller = new SourcePoller(config, {
    fetcher: new LocalFetcher(connectorOverride ?? connector, parserFactory ?? parser.factory, turns),
    onSnapshot: (s) => snapshots.push(s),
    onFailure: (r) => failures.push(r),
    logger,
    stats,
    timeouts: { connectMs: 1000, idleMs: 1000, pollMs: 3000 },
    ...overrides,
  });
  return { poller, parser, lines, attempts, stats, snapshots, failures };
}

async function fake(t: { after(fn: () => Promise<void>): void }, b: FakeGmondBehaviour, host?: string): Promise<FakeGmond> {
  const g = await startFakeGmond(b, host ? { host } : {});
  t.after(() => g.close());
  return g;
}

/** A port with nothing listening on it (connecting is refused). */
async function closedPort(host = '127.0.0.1'): Promise<SourceAddress> {
  return { host, port: await freePort(host) };
}

function addr(g: FakeGmond): SourceAddress {
  return { host: g.host, port: g.port };
}

function failed(o: PollOutcome): Extract<PollOutcome, { ok: false }> {
  assert.equal(o.ok, false, 'the poll should have failed');
  return o as Extract<PollOutcome, { ok: false }>;
}

function succeeded(o: PollOutcome): Extract<PollOutcome, { ok: true }> {
  assert.ok(o.ok, `the poll should have succeeded: ${o.ok ? '' : o.reason}`);
  return o;
}

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SourcePoller: reading documents', () => {
  test('streams a plain document chunk by chunk and delivers the snapshot', async (t) => {
    const g = await fake(t, { kind: 'serve', body: GMOND_XML, chunkSize: 2000, gapMs: 5 });
    const s = setup(source('alpha', [addr(g)]), { now: () => T_NOW * 1000 + 250 });
    const o = succeeded(await s.poller.pollOnce());
    assert.deepEqual(o.address, addr(g));
    assert.equal(o.bytes, GMOND_XML.length);
    assert.equal(s.parser.documents.length, 1);
    assert.equal(s.parser.documents[0], BODY);
    // Pieces may coalesce in the kernel, but never into one: the body is fed as it arrives.
    assert.ok(s.parser.writes > 1, `fed in pieces (${s.parser.writes} writes)`);
    assert.equal(s.snapshots.length, 1);
    assert.equal(s.parser.pollTimes[0], T_NOW, 'the poll is timed by the injected clock, in whole seconds');
    assert.equal(s.stats.polls.ok.num, 1);
    assert.equal(s.stats.polls.failed.num, 0);
    assert.deepEqual(s.failures, []);
    assert.equal(s.poller.status, 'idle');
    assert.deepEqual(s.poller.lastGoodAddress, addr(g));
  });

  test('gunzips a body that starts with the gzip magic', async (t) => {
    const g = await fake(t, { kind: 'gzip', body: GMOND_XML });
    const s = setup(source('gz', [addr(g)]));
    const o = succeeded(await s.poller.pollOnce());
    assert.equal(s.parser.documents[0], BODY);
    assert.ok(o.bytes < GMOND_XML.length / 2, 'compressed bytes were counted on the wire');
  });

  test('reading shares the turn budget: a spent budget pauses the socket until a later turn, the document arrives whole', async (t) => {
    // 8 MB sent at once (from another process, libuv would hand over up to 32 reads per turn).
    const body = Buffer.concat([Buffer.from('<GANGLIA_XML>'), Buffer.alloc(8 * 1024 * 1024, 0x20), Buffer.from('</GANGLIA_XML>')]);
    const g = await fake(t, { kind: 'serve', body });
    let fakeMs = 0;
    let waits = 0;
    const turns = new (class extends TurnBudget {
      override wait(didWork: boolean): Promise<void> {
        waits += 1;
        return super.wait(didWork);
      }
    })(1, () => fakeMs);
    const parser = testParser();
    // Each chunk handed to the parser "takes" 1 ms of the budget.
    const factory: DocumentParserFactory = (pollTime) => {
      const inner = parser.factory(pollTime);
      return { ...inner, write: (bytes: Buffer) => { fakeMs += 1; return inner.write(bytes); } };
    };
    const s = setup(source('budget', [addr(g)]), { parserFactory: factory, turns, timeouts: { connectMs: 1000, idleMs: 5000, pollMs: 20_000 } });
    let burst = 0;
    let last = 0;
    let probing = true;
    const probe = (): void => {
      burst = Math.max(burst, parser.writes - last);
      last = parser.writes;
      if (probing) setImmediate(probe); // re-armed from the check phase: once per iteration
    };
    setImmediate(probe);
    succeeded(await s.poller.pollOnce());
    probing = false;
    assert.equal(parser.documents[0], body.toString('latin1'));
    // A 1 ms budget at 1 ms per chunk: each turn takes the chunk that spends the budget and
    // the one already in hand when it is found spent, then the reader waits; the last turn
    // may end with a single chunk and no wait (129 chunks: 64 waits).
    assert.ok(parser.writes > 20 && 2 * waits + 1 >= parser.writes, `${waits} waits for ${parser.writes} chunks`);
    // Opened by the I/O callbacks and again by the check phase, each overrun by one chunk.
    assert.ok(burst <= 2 * (1 + 1), `at most ~2 budgets of reads per iteration, got ${burst} chunks`);
  });

  test('detects gzip even when the magic bytes arrive in separate chunks', async (t) => {
    const gz = zlib.gzipSync(GMOND_XML);
    const g = await fake(t, { kind: 'serve', body: gz, splitAt: [1, 2, 40], gapMs: 20 });
    const s = setup(source('gz1', [addr(g)]));
    succeeded(await s.poller.pollOnce());
    assert.equal(s.parser.documents[0], BODY);
  });

  test('decodes bytes as latin1, one char per byte, across chunk boundaries', async (t) => {
    const bytes = Buffer.concat([
      Buffer.from('<GANGLIA_XML><CLUSTER NAME="caf', 'latin1'),
      Buffer.from([0xe9, 0xff, 0x80]),
      Buffer.from('"/></GANGLIA_XML>\n', 'latin1'),
    ]);
    const g = await fake(t, { kind: 'serve', body: bytes, chunkSize: 3 });
    const s = setup(source('latin', [addr(g)]));
    succeeded(await s.poller.pollOnce());
    assert.equal(s.parser.documents[0], '<GANGLIA_XML><CLUSTER NAME="caf\u00e9\u00ff\u0080"/></GANGLIA_XML>\n');
  });

  test('a document cut off mid-way fails with where the parser stopped', async (t) => {
    const g = await fake(t, { kind: 'close-mid', body: GMOND_XML, afterBytes: 3000 });
    const s = setup(source('trunc', [addr(g)]));
    const o = failed(await s.poller.pollOnce());
    const where = `data_source "trunc": 127.0.0.1:${g.port}`;
    const { line, column } = endPosition(BODY.slice(0, 3000));
    assert.equal(o.reason, `${where}: incomplete document: unclosed token at line ${line}, column ${column}`);
    assert.ok(s.lines.some((l) => l.level === 'error' && l.msg === o.reason));
    assert.deepEqual(s.failures, [o.reason]);
    assert.equal(s.stats.polls.failed.num, 1);
    assert.equal(s.stats.polls.ok.num, 0);
    assert.equal(s.snapshots.length, 0);
    assert.equal(s.poller.lastGoodAddress, null);
  });

  test('a truncated gzip body fails with the gunzip error', async (t) => {
    const gz = zlib.gzipSync(GMOND_XML);
    const g = await fake(t, { kind: 'close-mid', body: gz, afterBytes: Math.floor(gz.length / 2) });
    const s = setup(source('gzcut', [addr(g)]));
    const o = failed(await s.poller.pollOnce());
    assert.equal(o.reason, `data_source "gzcut": 127.0.0.1:${g.port}: gzip: unexpected end of file`);
    assert.equal(s.stats.polls.failed.num, 1);
  });

  test('garbage fails with a parse error and its position', async (t) => {
    const g = await fake(t, { kind: 'garbage', bytes: Buffer.from('\n\n  HTTP/1.0 404 Not Found\r\n', 'latin1') });
    const s = setup(source('junk', [addr(g)]));
    const o = failed(await s.poller.pollOnce());
    assert.equal(o.reason, `data_source "junk": 127.0.0.1:${g.port}: parse error: not well-formed (invalid token) at line 3, column 3`);
    assert.equal(s.stats.polls.failed.num, 1);
  });

  test('a throwing onSnapshot is logged and does not fail the poll', async (t) => {
    const g = await fake(t, { kind: 'serve', body: GMOND_XML });
    const s = setup(source('thrower', [addr(g)]), {
      onSnapshot: () => {
        throw new Error('store exploded');
      },
    });
    succeeded(await s.poller.pollOnce());
    assert.ok(s.lines.some((l) => l.level === 'error' && l.msg.includes('onSnapshot handler threw: store exploded')));
    assert.equal(s.stats.polls.ok.num, 1);
  });
});

describe('SourcePoller: failover', () => {
  test('skips a refused address, then tries the last good one first', async (t) => {
    const dead = await closedPort();
    const g = await fake(t, { kind: 'serve', body: GMOND_XML });
    const s = setup(source('beta-failover', [dead, addr(g)]));

    const first = succeeded(await s.poller.pollOnce());
    assert.deepEqual(first.address, addr(g));
    assert.deepEqual(first.failures, [{ address: dead, reason: 'connection refused' }]);
    assert.ok(
      s.lines.some((l) => l.level === 'warn' && l.msg === `data_source "beta-failover": 127.0.0.1:${dead.port}: connection refused`),
      JSON.stringify(s.lines),
    );
    assert.deepEqual(s.poller.lastGoodAddress, addr(g));

    s.attempts.length = 0;
    succeeded(await s.poller.pollOnce());
    assert.deepEqual(s.attempts.map((a) => a.address), [`127.0.0.1:${g.port}`]);
    assert.equal(s.stats.polls.ok.num, 2);
    assert.equal(s.stats.polls.failed.num, 0);
  });

  test('every address dead: one line per address:port, a summary, one failure', async (t) => {
    const a = await closedPort();
    const b = await closedPort();
    const s = setup(source('DeadCluster', [a, b]));
    const o = failed(await s.poller.pollOnce());
    const warns = s.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.deepEqual(warns, [
      `data_source "DeadCluster": 127.0.0.1:${a.port}: connection refused`,
      `data_source "DeadCluster": 127.0.0.1:${b.port}: connection refused`,
    ]);
    const summary = `data_source "DeadCluster": no answer from any address (127.0.0.1:${a.port}, 127.0.0.1:${b.port})`;
    assert.equal(o.reason, summary);
    assert.deepEqual(s.lines.filter((l) => l.level === 'error').map((l) => l.msg), [summary]);
    assert.deepEqual(s.failures, [summary]);
    assert.equal(s.stats.polls.failed.num, 1);
    assert.equal(o.stopped, false);
    t.diagnostic(`took ${o.durationMs} ms`);
  });

  test('an address that resets or stays silent before any byte is skipped', async (t) => {
    const reset = await fake(t, { kind: 'reset' });
    const silent = await fake(t, { kind: 'hang', body: GMOND_XML, afterBytes: 0 });
    const good = await fake(t, { kind: 'serve', body: GMOND_XML });
    const s = setup(source('picky', [addr(reset), addr(silent), addr(good)]), {
      timeouts: { idleMs: 200, pollMs: 3000 },
    });
    const o = succeeded(await s.poller.pollOnce());
    assert.deepEqual(o.address, addr(good));
    assert.equal(o.failures.length, 2);
    assert.match(o.failures[0].reason, /connection reset by peer|connection closed before any data/);
    assert.equal(o.failures[1].reason, 'no data for 200 ms');
    assert.equal(silent.connections, 1);
  });

  test('a document that breaks mid-way fails the poll; the next poll starts with the next address', async (t) => {
    const broken = await fake(t, { kind: 'close-mid', body: GMOND_XML, afterBytes: 100 });
    const good = await fake(t, { kind: 'serve', body: GMOND_XML });
    const s = setup(source('rotating', [addr(broken), addr(good)]));
    failed(await s.poller.pollOnce());
    assert.equal(good.connections, 0, 'no failover after the document started');
    s.attempts.length = 0;
    const o = succeeded(await s.poller.pollOnce());
    assert.deepEqual(o.address, addr(good));
    assert.deepEqual(s.attempts.map((a) => a.address), [`127.0.0.1:${good.port}`]);
  });

  test('IPv6 loopback and host names work; IPv6 addresses are logged bracketed', async (t) => {
    const g6 = await fake(t, { kind: 'serve', body: GMOND_XML }, '::1');
    const dead6 = await closedPort('::1');
    const g4 = await fake(t, { kind: 'serve', body: GMOND_XML });
    const s = setup(source('v6', [dead6, addr(g6)]));
    const o = succeeded(await s.poller.pollOnce());
    assert.deepEqual(o.address, { host: '::1', port: g6.port });
    assert.ok(s.lines.some((l) => l.msg === `data_source "v6": [::1]:${dead6.port}: connection refused`));
    assert.equal(s.parser.documents[0], BODY);

    const byName = setup(source('named', [{ host: 'localhost', port: g4.port }]));
    succeeded(await byName.poller.pollOnce());
  });
});

describe('SourcePoller: deadlines and stop', () => {
  test('a source that hangs mid-document trips the idle deadline', async (t) => {
    const g = await fake(t, { kind: 'hang', body: GMOND_XML, afterBytes: 500 });
    const s = setup(source('hung', [addr(g)]), { timeouts: { idleMs: 300, pollMs: 5000 } });
    const started = performance.now();
    const o = failed(await s.poller.pollOnce());
    const took = performance.now() - started;
    // The idle deadline, not the 5 s poll deadline, ended it (the reason says which), and not early.
    assert.equal(o.reason, `data_source "hung": 127.0.0.1:${g.port}: no data for 300 ms`);
    assert.ok(took >= 290, `took ${took} ms`);
    await waitFor(() => g.active === 0); // the socket was destroyed
  });

  test('a trickling source cannot outlive the whole-poll deadline', async (t) => {
    const g = await fake(t, { kind: 'trickle', body: GMOND_XML, intervalMs: 20 });
    const s = setup(source('trickle', [addr(g)]), { timeouts: { idleMs: 300, pollMs: 500 } });
    const started = performance.now();
    const o = failed(await s.poller.pollOnce());
    const took = performance.now() - started;
    // The trickle keeps the idle deadline from firing: the whole-poll deadline ended it, not early.
    assert.equal(o.reason, `data_source "trickle": 127.0.0.1:${g.port}: max_poll_seconds exceeded: the poll took more than 0.5 s; aborted, last good data kept`);
    assert.ok(took >= 490, `took ${took} ms`);
    assert.equal(s.stats.polls.failed.num, 1);
    await waitFor(() => g.active === 0);
  });

  test('the whole-poll deadline also bounds a connect that never completes', async () => {
    const never: Connector = {
      connect(_a, _t, signal) {
        return new Promise<Duplex>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      },
    };
    const s = setup(source('blackhole', [{ host: '192.0.2.1', port: 8649 }]), {
      connector: never,
      timeouts: { connectMs: 10000, pollMs: 200 },
    });
    const o = failed(await s.poller.pollOnce());
    assert.equal(o.reason, 'data_source "blackhole": 192.0.2.1:8649: max_poll_seconds exceeded: the poll took more than 0.2 s; aborted, last good data kept');
    assert.deepEqual(s.failures, [o.reason]);
  });

  test('stop() during a hung poll returns promptly and counts nothing', async (t) => {
    const g = await fake(t, { kind: 'hang', body: GMOND_XML, afterBytes: 100 });
    const s = setup(source('stopme', [addr(g)], 0.2), { timeouts: { idleMs: 10000, pollMs: 20000 } });
    s.poller.start();
    await waitFor(() => s.poller.status === 'reading' && g.connections === 1);
    const started = performance.now();
    await s.poller.stop();
    const took = performance.now() - started;
    // stop() itself ended the poll: no deadline (the first is 10 s away) had to fire.
    assert.ok(took < 10_000, `stop took ${took} ms`);
    assert.equal(s.poller.status, 'stopped');
    assert.equal(s.stats.polls.failed.num, 0);
    assert.deepEqual(s.failures, []);
    await waitFor(() => g.active === 0);
    await new Promise((r) => setTimeout(r, 400)); // two steps: no further poll may start
    assert.equal(g.connections, 1);
    const after = failed(await s.poller.pollOnce());
    assert.equal(after.stopped, true);
  });
});

describe('SourcePoller: schedule', () => {
  test('nextPollDelay: step ±5 %, measured from the poll start', () => {
    assert.deepEqual(nextPollDelay(10_000, 0, () => 0.5), { intervalMs: 10_000, delayMs: 10_000, missed: false });
    assert.equal(nextPollDelay(10_000, 0, () => 0).intervalMs, 9_500);
    assert.ok(Math.abs(nextPollDelay(10_000, 0, () => 0.999999).intervalMs - 10_500) < 0.1);
    assert.deepEqual(nextPollDelay(10_000, 3_000, () => 0.5), { intervalMs: 10_000, delayMs: 7_000, missed: false });
    assert.deepEqual(nextPollDelay(10_000, 12_000, () => 0.5), { intervalMs: 10_000, delayMs: 0, missed: true });
    for (let i = 0; i <= 100; i++) {
      const { intervalMs } = nextPollDelay(15_000, 0, () => i / 100.0001);
      assert.ok(intervalMs >= 14_250 && intervalMs <= 15_750, `interval ${intervalMs}`);
    }
  });

  /**
   * Runs the poll loop with an injected clock and records the delay the poller arms before
   * each next poll (which then runs at once): the schedule is checked exactly, whatever the
   * machine's load. `advanceOnConnect` moves the clock while a poll runs.
   */
  async function armedDelays(
    t: { after(fn: () => Promise<void>): void },
    step: number,
    random: () => number,
    advanceOnConnect = 0,
  ) {
    const g = await fake(t, { kind: 'serve', body: GMOND_XML });
    let nowMs = T_NOW * 1000;
    const delays: number[] = [];
    const tcp = new TcpConnector();
    const s = setup(source('cadence', [addr(g)], step), {
      random,
      now: () => nowMs,
      connector: {
        connect(address, timeoutMs, signal) {
          nowMs += advanceOnConnect;
          return tcp.connect(address, timeoutMs, signal);
        },
      },
      scheduleNextPoll: (run, delayMs) => {
        delays.push(delayMs);
        const immediate = setImmediate(run);
        return { cancel: () => clearImmediate(immediate) };
      },
    });
    t.after(() => s.poller.stop());
    s.poller.start();
    await waitFor(() => delays.length >= 3);
    await s.poller.stop();
    return { delays: delays.slice(0, 3), s };
  }

  test('the loop sleeps step - 5 % with random() = 0', async (t) => {
    const { delays, s } = await armedDelays(t, 15, () => 0);
    assert.deepEqual(delays, [14_250, 14_250, 14_250]);
    assert.equal(s.stats.polls.misses, 0);
    assert.ok(s.snapshots.length >= 3);
  });

  test('the loop sleeps step + 5 % with random() near 1', async (t) => {
    const { delays } = await armedDelays(t, 15, () => 0.99999);
    for (const d of delays) assert.ok(Math.abs(d - 15_750) < 0.1, `delays ${delays.join(', ')}`);
  });

  test('the sleep is measured from the poll start: a 4 s poll leaves 11 s of a 15 s step', async (t) => {
    const { delays, s } = await armedDelays(t, 15, () => 0.5, 4_000);
    assert.deepEqual(delays, [11_000, 11_000, 11_000]);
    assert.equal(s.stats.polls.misses, 0);
  });

  test('a poll that overruns its step counts a miss and the next starts at once', async (t) => {
    const { delays, s } = await armedDelays(t, 0.1, () => 0.5, 250);
    assert.deepEqual(delays, [0, 0, 0]);
    assert.ok(s.stats.polls.misses >= 3, `misses ${s.stats.polls.misses}`);
    assert.ok(s.lines.some((l) => l.msg === 'data_source "cadence": poll took longer than its step of 0.1 s'));
  });

  test('a failed poll that overran its step logs its one error, not also a missed-step warning', async (t) => {
    const g = await fake(t, { kind: 'garbage' });
    let nowMs = T_NOW * 1000;
    const tcp = new TcpConnector();
    let cycles = 0;
    const s = setup(source('broken', [addr(g)], 0.1), {
      now: () => nowMs,
      connector: { connect(address, timeoutMs, signal) { nowMs += 250; return tcp.connect(address, timeoutMs, signal); } },
      scheduleNextPoll: (run) => {
        cycles += 1;
        const immediate = setImmediate(run);
        return { cancel: () => clearImmediate(immediate) };
      },
    });
    t.after(() => s.poller.stop());
    s.poller.start();
    await waitFor(() => cycles >= 2);
    await s.poller.stop();
    assert.ok(s.stats.polls.misses >= 2, 'still counted as misses');
    assert.ok(s.lines.filter((l) => l.level === 'error').length >= 2);
    assert.deepEqual(s.lines.filter((l) => l.level === 'warn').map((l) => l.msg), []);
  });

  test('one failing source does not disturb another', async (t) => {
    const good = await fake(t, { kind: 'serve', body: GMOND_XML });
    const bad = await fake(t, { kind: 'garbage' });
    const a = setup(source('good', [addr(good)], 0.1));
    const b = setup(source('bad', [addr(bad)], 0.1));
    t.after(() => a.poller.stop());
    t.after(() => b.poller.stop());
    a.poller.start();
    b.poller.start();
    await waitFor(() => a.snapshots.length >= 3 && b.failures.length >= 3);
    await Promise.all([a.poller.stop(), b.poller.stop()]);
    assert.equal(a.stats.polls.failed.num, 0);
    assert.equal(b.stats.polls.ok.num, 0);
  });
});

describe('SourcePoller: per-source limits (hostile sources)', () => {
  const HEAD = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n'
    + '<CLUSTER NAME="Endless" LOCALTIME="1" OWNER="o" LATLONG="l" URL="u">\n';
  let hostNumber = 0;
  const hostUnit = () => `<HOST NAME="h${hostNumber++}" IP="10.0.0.1" REPORTED="1" TN="0" TMAX="20" DMAX="0" LOCATION="l" GMOND_STARTED="1" TAGS="">\n`
    + '<METRIC NAME="load_one" VAL="0.5" TYPE="float" UNITS="" TN="0" TMAX="70" DMAX="0" SLOPE="both"><EXTRA_DATA></EXTRA_DATA></METRIC>\n</HOST>\n';
  const limited = (name: string, port: number, limits: Partial<DataSourceConfig['limits']>): DataSourceConfig => ({
    ...source(name, [{ host: '127.0.0.1', port }]), limits: { ...DEFAULT_SOURCE_LIMITS, ...limits },
  });
  const realParser = (maxHosts?: number) => inlineDocumentFactory({
    source: 'x', scalable: true, policy: { summarize: () => true }, stats: new DaemonStats(), maxHosts,
  });

  test('an endless document is cut at max_document_bytes, with one error naming the limit and the source', async (t) => {
    const g = await fake(t, { kind: 'endless', head: HEAD, unit: ' '.repeat(1000) });
    const s = setup(limited('endless', g.port, { maxDocumentBytes: 2 * 1024 * 1024 }), { parserFactory: realParser(),
      timeouts: { idleMs: 5000, pollMs: 60_000 } });
    const o = failed(await s.poller.pollOnce());
    assert.equal(o.reason, `data_source "endless": 127.0.0.1:${g.port}: max_document_bytes exceeded: the document is larger `
      + 'than 2097152 bytes; poll aborted, last good data kept');
    assert.deepEqual(s.lines.filter((l) => l.level === 'error').map((l) => l.msg), [o.reason], 'exactly one error line');
    await waitFor(() => g.active === 0);
  });

  test('a gzip bomb is cut at max_document_bytes counted after gunzip', async (t) => {
    const g = await fake(t, { kind: 'gzip-bomb', head: HEAD, unit: ' '.repeat(4096) });
    const s = setup(limited('bomb', g.port, { maxDocumentBytes: 8 * 1024 * 1024 }), { parserFactory: realParser(),
      timeouts: { idleMs: 5000, pollMs: 60_000 } });
    const o = failed(await s.poller.pollOnce());
    assert.equal(o.reason, `data_source "bomb": 127.0.0.1:${g.port}: max_document_bytes exceeded: the document is larger `
      + 'than 8388608 bytes (after gunzip); poll aborted, last good data kept');
    await waitFor(() => g.active === 0);
  });

  test('a document of exactly max_document_bytes passes; one byte more does not', async (t) => {
    const doc = GMOND_XML;
    const g = await fake(t, { kind: 'serve', body: doc, chunkSize: 4096 });
    const exact = setup(limited('exact', g.port, { maxDocumentBytes: doc.length }));
    succeeded(await exact.poller.pollOnce());
    const under = setup(limited('under', g.port, { maxDocumentBytes: doc.length - 1 }));
    assert.match(failed(await under.poller.pollOnce()).reason, /max_document_bytes exceeded/);
  });

  test('an endless run of hosts is cut at max_hosts', async (t) => {
    const g = await fake(t, { kind: 'serve', body: HEAD + Array.from({ length: 101 }, hostUnit).join('') + '</CLUSTER>\n</GANGLIA_XML>\n' });
    const over = setup(limited('many', g.port, { maxHosts: 100 }), { parserFactory: realParser(100) });
    const o = failed(await over.poller.pollOnce());
    assert.equal(o.reason, `data_source "many": 127.0.0.1:${g.port}: max_hosts exceeded: the document lists more than 100 hosts; `
      + 'poll aborted, last good data kept');
    const fits = setup(limited('many', g.port, { maxHosts: 101 }), { parserFactory: realParser(101) });
    const ok = succeeded(await fits.poller.pollOnce());
    const cluster = ok.snapshot.nodes[0];
    assert.equal(cluster.kind === 'cluster' ? cluster.hosts.size : -1, 101);
  });

  test('a document with more metrics than max_metrics is cut there (every name new: ~800 bytes of heap each)', async (t) => {
    const metricsUnit = (i: number) => `<METRIC NAME="m${i}" VAL="1" TYPE="float" UNITS="" TN="0" TMAX="60" DMAX="0" SLOPE="both"/>\n`;
    const body = HEAD + hostUnit().replace('</HOST>\n', Array.from({ length: 1000 }, (_, i) => metricsUnit(i)).join('') + '</HOST>\n')
      + '</CLUSTER>\n</GANGLIA_XML>\n';
    const g = await fake(t, { kind: 'serve', body });
    const parserFactory = inlineDocumentFactory({ source: 'x', scalable: true, policy: { summarize: () => true }, maxMetrics: 1000 });
    const o = failed(await setup(limited('metrics', g.port, { maxMetrics: 1000 }), { parserFactory }).poller.pollOnce());
    assert.equal(o.reason, `data_source "metrics": 127.0.0.1:${g.port}: max_metrics exceeded: the document lists more than 1000 metrics; `
      + 'poll aborted, last good data kept');
    const fits = inlineDocumentFactory({ source: 'x', scalable: true, policy: { summarize: () => true }, maxMetrics: 1001 });
    succeeded(await setup(limited('metrics', g.port, { maxMetrics: 1001 }), { parserFactory: fits }).poller.pollOnce());
  });

  test('max_poll_seconds is the default whole-poll deadline', () => {
    const s = setup(limited('slow', 1, { maxPollSeconds: 7 }), { timeouts: { connectMs: 1000, idleMs: 1000 } });
    // The deadline the poller arms comes from the source's limits when no override is given.
    assert.equal((s.poller as unknown as { timeouts: { pollMs: number } }).timeouts.pollMs, 7000);
  });
});
