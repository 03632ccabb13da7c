/**
 * Graphite export, differential: the C gmetad 3.7.2 and ours poll the same documents
 * (served unchanged every poll, so both see the same input) and send carbon lines to two
 * capturing listeners. Same set of lines, except the C bugs listed in the README, which
 * are asserted here one by one:
 * - the C gmetad writes a NUL byte after each TCP line (and opens one connection per line);
 * - without graphite_path it leaves spaces in metric names (the line splits wrongly).
 * The input: a dump of a real gmond taken in the test, the anchor capture, and a crafted
 * document (names with spaces, dots and capitals, every metric type, a down host, an
 * expired metric, a pre-2.5 host without TMAX, a child grid whose hosts must not be sent).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCGmetad } from '../helpers/c-gmetad';
import { startFakeGmond } from '../helpers/fake-gmond';
import { startGmond } from '../helpers/gmond';
import { type LineCapture, startTcpLineCapture, startUdpLineCapture } from '../helpers/line-receivers';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor, type ProcessRegistry } from '../helpers/processes';
import { ANCHOR, CHILD_GRID, CRAFTED, CRAFTED_LINES } from './exporter-fixtures';

/** Distinct lines, once at least two whole polls have arrived (each poll sends them all). */
async function linesOfTwoPolls(capture: LineCapture, what: string): Promise<Set<string>> {
  return waitFor(() => {
    const distinct = new Set(capture.lines);
    return distinct.size > 0 && capture.lines.length >= 2 * distinct.size ? distinct : null;
  }, { timeoutMs: 30_000, description: `two polls of carbon lines from ${what}` });
}

interface Pair {
  readonly c: Set<string>;
  readonly ours: Set<string>;
  readonly cCapture: LineCapture;
  readonly ourCapture: LineCapture;
}

async function runBoth(
  registry: ProcessRegistry,
  documents: readonly string[],
  protocol: 'tcp' | 'udp',
  extra: readonly string[],
): Promise<Pair> {
  const sources = await Promise.all(documents.map((body) => startFakeGmond({ kind: 'serve', body })));
  const captures = await Promise.all([0, 1].map(() => (protocol === 'tcp' ? startTcpLineCapture() : startUdpLineCapture())));
  const [cCapture, ourCapture] = captures;
  const carbon = (port: number) => [
    'carbon_server "127.0.0.1"', `carbon_port ${port}`, `carbon_protocol ${protocol}`, ...extra,
  ];
  const dataSources = sources.map((s, i) => ({ name: `src${i}`, step: 1, addresses: [`127.0.0.1:${s.port}`] }));
  try {
    await registry.explain(async () => {
      await Promise.all([
        startCGmetad(registry, { dataSources, gridname: 'G', extra: carbon(cCapture.port) }),
        startOurGmetad(registry, { dataSources, gridname: 'G', extra: carbon(ourCapture.port) }),
      ]);
    });
    const [c, ours] = await registry.explain(() => Promise.all([linesOfTwoPolls(cCapture, 'C gmetad'), linesOfTwoPolls(ourCapture, 'ours')]));
    return { c, ours, cCapture, ourCapture };
  } finally {
    await registry.cleanup();
    await Promise.all([...sources.map((s) => s.close()), ...captures.map((cap) => cap.close())]);
  }
}

const minus = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();

test('TCP, C defaults: the same lines as the C gmetad for a real gmond, the anchor capture and crafted names', async (t) => {
  const registry = registryFor(t);
  const gmond = await startGmond(registry, { cluster: 'Real Gmond', readyMetric: 'load_one' });
  const realDump = await gmond.dump();
  await registry.cleanup();
  const { c, ours, cCapture, ourCapture } = await runBoth(registryFor(t), [realDump, ANCHOR, CRAFTED, CHILD_GRID], 'tcp',
    ['case_sensitive_hostnames 0']);

  for (const line of CRAFTED_LINES) assert.ok(ours.has(line), `ours lacks ${line}`);
  assert.ok([...ours].some((l) => l.startsWith('Real_Gmond.')), 'the real gmond\'s hosts are sent');
  assert.ok([...ours].some((l) => l.startsWith('AlphaCluster.fakehost2.')), 'the anchor hosts are sent');
  assert.ok(![...ours].some((l) => /inner1|downhost|\.os_name |web01_example_com\.boottime |\.gone /.test(l)), [...ours].join('\n'));

  // The one C bug visible in names here: a space left in a metric name without graphite_path.
  assert.deepEqual(minus(c, ours), ['Web_Farm.web01_example_com.bytes in 123.5 1795255600']);
  assert.deepEqual(minus(ours, c), ['Web_Farm.web01_example_com.bytes_in 123.5 1795255600']);

  // The C gmetad: one connection and one NUL byte per line; ours: one connection, no NUL.
  assert.equal(cCapture.nulBytes, cCapture.lines.length);
  assert.ok(cCapture.connections >= cCapture.lines.length);
  assert.equal(ourCapture.nulBytes, 0);
  assert.equal(ourCapture.connections, 1);
  assert.deepEqual(ourCapture.partial, []);
});

test('UDP, graphite_prefix and graphite_path: exactly the C gmetad\'s lines', async (t) => {
  const { c, ours, ourCapture } = await runBoth(registryFor(t), [ANCHOR, CRAFTED, CHILD_GRID], 'udp',
    ['graphite_prefix "ganglia.Site A"', 'graphite_path "%h.%s.m_%m"', 'case_sensitive_hostnames 1']);
  assert.deepEqual(minus(c, ours), []);
  assert.deepEqual(minus(ours, c), []);
  assert.ok(ours.has('ganglia.Site A.Web01_Example_COM.Web_Farm.m_bytes_in 123.5 1795255600'), [...ours].join('\n'));
  // Whole lines packed into datagrams: fewer datagrams than lines.
  assert.ok(ourCapture.connections < ourCapture.lines.length);
});

test('scalable off: the hosts of a child grid\'s clusters are sent, as by the C gmetad', async (t) => {
  const { c, ours } = await runBoth(registryFor(t), [CHILD_GRID, ANCHOR], 'tcp', ['scalable off']);
  assert.ok(ours.has('Inner.inner1.load_one 2 1795255600'), [...ours].join('\n'));
  assert.deepEqual(minus(c, ours), []);
  assert.deepEqual(minus(ours, c), []);
});
