/** The benchmark's building blocks: emulated gmond, /proc sampling, dump client, cadence maths. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as sax from 'sax';
import * as net from 'node:net';
import { maxLateness, pollsExpectedIn } from '../../bench/cadence';
import { hotFunctions, longTasks } from '../../bench/cpu-profile';
import { assertPortsFree, listeningPorts, renderConfig } from '../../bench/daemons';
import { fetchDump } from '../../bench/dump-client';
import { ClusterDocument, generateClusterXml, startEmulatedGmond } from '../../bench/emulated-cluster';
import { startGmondThread } from '../../bench/gmond-thread';
import { loopbackFloor } from '../../bench/loopback-floor';
import { parseMachineCpu, parseSchedstat, parseStat, parseStatusKiB, sampleMachineCpu, sampleProcess, sampleProcessTree, sampleSchedule } from '../../bench/proc-stats';
import { measureRuntimeFloor } from '../../bench/runtime-floor';
import { ratio } from '../../bench/report';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/anchor');

interface Parsed {
  hosts: sax.Tag[];
  metrics: sax.Tag[];
  extraNames: string[][];
  cluster: sax.Tag | null;
}

/** Strict XML parse (throws if not well-formed) collecting HOST/METRIC tags. */
function parse(xml: Buffer): Parsed {
  const out: Parsed = { hosts: [], metrics: [], extraNames: [], cluster: null };
  const parser = sax.parser(true);
  parser.onerror = (err) => {
    throw err;
  };
  parser.onopentag = (node) => {
    const tag = node as sax.Tag;
    if (tag.name === 'CLUSTER') out.cluster = tag;
    if (tag.name === 'HOST') out.hosts.push(tag);
    if (tag.name === 'METRIC') {
      out.metrics.push(tag);
      out.extraNames.push([]);
    }
    if (tag.name === 'EXTRA_ELEMENT') out.extraNames[out.extraNames.length - 1]!.push(String(tag.attributes['NAME']));
  };
  parser.write(xml.toString('latin1')).close();
  return out;
}

test('generated document is gmond-shaped and well-formed', () => {
  const xml = generateClusterXml({ hosts: 5, metrics: 60, nowSec: 1_800_000_000 });
  const dtd = fs.readFileSync(path.join(FIXTURES, 'dtd-header.txt'));
  assert.ok(xml.subarray(0, dtd.length).equals(dtd), 'prolog + DTD byte-identical to gmond');
  assert.ok(xml.toString('latin1').endsWith('</HOST>\n</CLUSTER>\n</GANGLIA_XML>\n'));
  const doc = parse(xml);
  assert.equal(doc.hosts.length, 5);
  assert.equal(doc.metrics.length, 300);
  assert.equal(doc.cluster?.attributes['LOCALTIME'], '1800000000');
  assert.deepEqual(Object.keys(doc.hosts[0]!.attributes), ['NAME', 'IP', 'TAGS', 'REPORTED', 'TN', 'TMAX', 'DMAX', 'LOCATION', 'GMOND_STARTED']);
  assert.deepEqual(Object.keys(doc.metrics[0]!.attributes), ['NAME', 'VAL', 'TYPE', 'UNITS', 'TN', 'TMAX', 'DMAX', 'SLOPE']);
  const types = new Set(doc.metrics.map((m) => m.attributes['TYPE']));
  for (const t of ['float', 'uint32', 'double', 'string']) assert.ok(types.has(t), `has ${t} metrics`);
  for (const names of doc.extraNames) assert.deepEqual(names, ['GROUP', 'DESC', 'TITLE']);
  for (const m of doc.metrics) {
    if (m.attributes['TYPE'] !== 'string') assert.ok(Number.isFinite(Number(m.attributes['VAL'])), `numeric VAL ${m.attributes['VAL']}`);
  }
  for (const h of doc.hosts) assert.ok(Number(h.attributes['TN']) < 4 * Number(h.attributes['TMAX']), 'every host up');
});

test('1000 x 100 default is about 32 MB', () => {
  const doc = new ClusterDocument({});
  assert.equal(doc.hostCount, 1000);
  assert.equal(doc.metricCount, 100_000);
  assert.ok(doc.size > 28e6 && doc.size < 36e6, `size ${doc.size}`);
});

test('refresh rewrites times and values in place and stays well-formed', () => {
  const doc = new ClusterDocument({ hosts: 3, metrics: 40, nowSec: 1_800_000_000 });
  const before = Buffer.from(doc.current());
  assert.equal(doc.refresh(1_800_000_100_000), true);
  const after = doc.current();
  assert.equal(after.length, before.length);
  assert.notEqual(after, before);
  const a = parse(before);
  const b = parse(after);
  assert.equal(b.cluster?.attributes['LOCALTIME'], '1800000100');
  const reported = Number(b.hosts[0]!.attributes['REPORTED']);
  assert.equal(reported, 1_800_000_100 - Number(b.hosts[0]!.attributes['TN']));
  const changed = b.metrics.filter((m, i) => m.attributes['VAL'] !== a.metrics[i]!.attributes['VAL']).length;
  assert.ok(changed > b.metrics.length / 2, `${changed} values changed`);
  assert.equal(doc.refreshIfOlder(60_000, 1_800_000_101_000), false, 'fresh enough: no refresh');
});

test('emulated gmond serves the whole document to each connection and records it', async (t) => {
  const gmond = await startEmulatedGmond({ hosts: 20, metrics: 30 });
  t.after(() => gmond.close());
  const first = await fetchDump(gmond.port, { count: true, timeoutMs: 5000 });
  const second = await fetchDump(gmond.port, { timeoutMs: 5000 });
  assert.equal(first.ended, 'eof');
  assert.equal(first.ok, true);
  assert.equal(first.bytes, gmond.document.size);
  assert.equal(first.hosts, 20);
  assert.equal(first.metrics, 600);
  assert.equal(second.bytes, gmond.document.size);
  assert.equal(gmond.connections.length, 2);
  assert.ok(gmond.connections[1]! >= gmond.connections[0]!);
});

test('an emulated gmond in a thread of its own serves the document and reports each accept', async (t) => {
  const gmond = await startGmondThread({ hosts: 20, metrics: 30, clusterName: 'Threaded' });
  t.after(() => gmond.close());
  const before = Date.now();
  const first = await fetchDump(gmond.port, { count: true, timeoutMs: 5000 });
  const second = await fetchDump(gmond.port, { count: true, timeoutMs: 5000 });
  assert.equal(first.ok, true);
  assert.equal(first.bytes, gmond.size);
  assert.equal(first.hosts, 20);
  assert.equal(second.metrics, 600);
  // The accept message may arrive just after the reply: wait for both.
  for (let i = 0; i < 100 && gmond.connections.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(gmond.connections.length, 2);
  assert.ok(gmond.connections[0]! >= before - 1000 && gmond.connections[1]! >= gmond.connections[0]!);
});

test('parseStat copes with spaces and parens in the command name', () => {
  const line = '4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 1 0 100 1000 10';
  assert.deepEqual(parseStat(line), { ppid: 1, utimeTicks: 1234, stimeTicks: 567 });
  assert.equal(parseStatusKiB('Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t   1024 kB\n', 'VmRSS'), 1024);
  assert.equal(parseStatusKiB('Name:\tx\n', 'VmRSS'), 0);
});

test('schedstat: time on a core and time waiting for one, of this process\'s main thread', () => {
  assert.deepEqual(parseSchedstat('2500000000 750000000 42\n'), { runSeconds: 2.5, waitSeconds: 0.75 });
  assert.throws(() => parseSchedstat(''), /unexpected schedstat/);
  const before = sampleSchedule(process.pid);
  assert.ok(before, 'this kernel has schedstat');
  // Spin until this thread's own CPU time (its /proc stat, in clock ticks of 10 ms) has grown
  // by 3 ticks: at least 20 ms on a core. (process.cpuUsage() counts every thread: V8's
  // helpers could make up part of it.)
  const threadTicks = (): number => {
    const stat = parseStat(fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'latin1'));
    return stat.utimeTicks + stat.stimeTicks;
  };
  const startTicks = threadTicks();
  while (threadTicks() - startTicks < 3) { /* spin */ }
  const after = sampleSchedule(process.pid)!;
  assert.ok(after.runSeconds - before.runSeconds >= 0.015, `ran ${after.runSeconds - before.runSeconds} s`);
  assert.ok(after.waitSeconds >= before.waitSeconds);
  assert.equal(sampleSchedule(1 << 30), null, 'a process that does not exist');
});

test('sampleProcessTree sees this process and its child', async (t) => {
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGTERM');
  });
  await new Promise((r) => child.once('spawn', r));
  const sample = sampleProcessTree(process.pid);
  assert.ok(sample);
  assert.ok(sample.cpuSeconds > 0);
  assert.ok(sample.rssKiB > 1000 && sample.hwmKiB >= sample.processes[0]!.rssKiB);
  // node's executable is mapped from a file: its pages are in VmRSS, not in RssAnon.
  assert.ok(sample.rssAnonKiB > 0 && sample.rssAnonKiB < sample.processes[0]!.rssKiB, `${sample.rssAnonKiB} of ${sample.rssKiB} KiB`);
  assert.ok(sample.processes.some((p) => p.pid === child.pid), 'child included');
  assert.equal(sampleProcessTree(2 ** 22 + 1), null);
});

test('loopback floor: every client reads every byte from the ready buffers', async () => {
  const floor = await loopbackFloor(3, 3_000_000 + 17, 65_536);
  assert.ok(floor.wallMs > 0 && floor.readersCpuS > 0, JSON.stringify(floor));
});

test('runtime floor: gmetad-ts with a refused source has started its parse worker and holds no data', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-floor-'));
  const mainJs = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
  const floor = await measureRuntimeFloor(mainJs, work, [], 1500, 1000);
  assert.equal(floor.workerStarted, true);
  assert.ok(floor.rssAnonKiB > 0 && floor.rssAnonKiB < floor.rssKiB, JSON.stringify(floor));
  assert.equal(sampleProcess(floor.pid), null, 'the empty daemon was stopped');
  fs.rmSync(work, { recursive: true, force: true });
});

test('machine CPU outside processes: irq + softirq, and steal, from the cpu line of /proc/stat', () => {
  const text = 'cpu  265307 29 108257 3799881 1404 100 12553 1021 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n';
  assert.deepEqual(parseMachineCpu(text, 100), { irqSeconds: 126.53, stealSeconds: 10.21 });
  assert.throws(() => parseMachineCpu('cpu0 1 2 3\n', 100), /unexpected \/proc\/stat/);
  const now = sampleMachineCpu(100);
  assert.ok(now.irqSeconds >= 0 && now.stealSeconds >= 0);
});

test('poll lateness is measured against previous poll + step', () => {
  const conns = [0, 15_000, 30_400, 47_000];
  const polls = pollsExpectedIn(conns, 15_000, 14_000, 46_000, 50_000);
  assert.deepEqual(
    polls.map((p) => p.latenessMs),
    [0, 400, 1600],
  );
  // The last poll's successor is due at 62 000 and missing at 70 000: 8 s late.
  assert.equal(maxLateness(pollsExpectedIn(conns, 15_000, 60_000, 63_000, 70_000)), 8000);
  assert.equal(ratio(1, 4), '0.25x');
  assert.equal(ratio(1, 0), '-');
});

test('cpu profile summary: self time per function and busy stretches', () => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('serve', 'file:///r/dist/src/server/x.js'), children: [4] },
      { id: 4, callFrame: frame('render', 'file:///r/dist/src/server/y.js') },
    ],
    startTime: 0,
    endTime: 200_000,
    // idle, then 60 ms busy (render x3 + serve), then idle
    samples: [2, 4, 4, 4, 3, 2, 2],
    timeDeltas: [0, 10_000, 15_000, 15_000, 15_000, 15_000, 10_000],
  };
  const hot = hotFunctions(profile, '/r');
  assert.equal(hot[0]!.name, 'render');
  assert.equal(hot[0]!.location, 'dist/src/server/y.js:1');
  assert.equal(hot[0]!.selfMs, 45);
  const long = longTasks(profile, 40);
  assert.equal(long.length, 1);
  assert.equal(long[0]!.durationMs, 60);
  assert.equal(long[0]!.entries[0]!.name, 'serve dist/src/server/x.js:1');
  assert.equal(long[0]!.leaves[0]!.name, 'render dist/src/server/y.js:1');
  assert.deepEqual(longTasks(profile, 61), []);
});

test('config rendering and port checks', async (t) => {
  const conf = renderConfig({ side: 'c', gridName: 'G', sourceName: 'S', step: 15, gmondPort: 1234, xmlPort: 2345, interactivePort: 3456, workDir: '/tmp/w' });
  for (const line of ['data_source "S" 15 127.0.0.1:1234', 'xml_port 2345', 'interactive_port 3456', 'write_rrds off', 'setuid off', 'rrd_rootdir "/tmp/w/rrds"']) {
    assert.ok(conf.split('\n').includes(line), line);
  }
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  assert.ok(listeningPorts().has(port));
  await assert.rejects(assertPortsFree([port]), /already in use/);
});
