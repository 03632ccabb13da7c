/**
 * Graphite export into the real receivers: carbon-cache (whisper files read back with
 * whisper-fetch) over TCP and UDP, and carbon-c-relay; the receiver may come up after the
 * daemon (queued, reconnect with backoff); SIGTERM delivers whole polls and never waits on
 * a dead receiver.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { startCarbonCache, startCarbonCRelay } from '../helpers/carbon';
import { startFakeGmond } from '../helpers/fake-gmond';
import { startTcpLineCapture } from '../helpers/line-receivers';
import { freePort } from '../helpers/net';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { CRAFTED, CRAFTED_LINES } from './exporter-fixtures';

const parse = (line: string) => {
  const [path, value, time] = line.split(' ');
  return { path, value: Number(value), time: Number(time) };
};

async function craftedSource(t: { after(fn: () => unknown): void }) {
  const source = await startFakeGmond({ kind: 'serve', body: CRAFTED });
  t.after(() => source.close());
  return [{ name: 'web', step: 1, addresses: [`127.0.0.1:${source.port}`] }];
}

test('carbon-cache started after the daemon stores every crafted value (TCP, reconnect)', async (t) => {
  const registry = registryFor(t);
  const dataSources = await craftedSource(t);
  const carbonPort = await freePort();
  // The receiver is down when the daemon starts: values wait in the queue, the sender retries.
  await startOurGmetad(registry, {
    dataSources, gridname: 'G', expectNames: ['Web Farm'],
    extra: ['carbon_server "127.0.0.1"', `carbon_port ${carbonPort}`, 'case_sensitive_hostnames 0'],
  });
  // carbon-cache on the port the daemon was told about (freed a moment ago).
  const cache = await registry.explain(() => startCarbonCache(registry, carbonPort));
  for (const line of CRAFTED_LINES) {
    const { path, value, time } = parse(line);
    const stored = await registry.explain(() => waitFor(async () => (cache.has(path) ? cache.valueAt(path, time) : null),
      { timeoutMs: 60_000, intervalMs: 500, description: `whisper value of ${path}` }));
    assert.equal(stored, value, path);
  }
});

test('carbon-cache over UDP stores the values under graphite_prefix', async (t) => {
  const registry = registryFor(t);
  const dataSources = await craftedSource(t);
  const cache = await startCarbonCache(registry);
  await startOurGmetad(registry, {
    dataSources, gridname: 'G', expectNames: ['Web Farm'],
    extra: ['carbon_server "127.0.0.1"', `carbon_port ${cache.port}`, 'carbon_protocol udp', 'graphite_prefix "gm"',
      'case_sensitive_hostnames 0'],
  });
  for (const line of CRAFTED_LINES) {
    const { path, value, time } = parse(line);
    const stored = await registry.explain(() => waitFor(async () => (cache.has(`gm.${path}`) ? cache.valueAt(`gm.${path}`, time) : null),
      { timeoutMs: 60_000, intervalMs: 500, description: `whisper value of gm.${path}` }));
    assert.equal(stored, value, path);
  }
});

test('carbon-c-relay forwards exactly the daemon\'s lines', async (t) => {
  const registry = registryFor(t);
  const dataSources = await craftedSource(t);
  const capture = await startTcpLineCapture();
  t.after(() => capture.close());
  const relay = await startCarbonCRelay(registry, capture.port);
  await startOurGmetad(registry, {
    dataSources, gridname: 'G', expectNames: ['Web Farm'],
    extra: ['carbon_server "127.0.0.1"', `carbon_port ${relay.port}`, 'case_sensitive_hostnames 0'],
  });
  const received = await registry.explain(() => waitFor(() => {
    const distinct = new Set(capture.lines);
    return capture.lines.length >= 2 * CRAFTED_LINES.length && distinct.size >= CRAFTED_LINES.length ? distinct : null;
  }, { timeoutMs: 30_000, description: 'two polls through carbon-c-relay' }));
  assert.deepEqual([...received].sort(), [...CRAFTED_LINES].sort());
});

test('SIGTERM delivers whole polls, and exits at once when the receiver is gone', async (t) => {
  const registry = registryFor(t);
  const dataSources = await craftedSource(t);
  const capture = await startTcpLineCapture();
  t.after(() => capture.close());
  const daemon = await startOurGmetad(registry, {
    dataSources, gridname: 'G', expectNames: ['Web Farm'],
    extra: ['carbon_server "127.0.0.1"', `carbon_port ${capture.port}`, 'case_sensitive_hostnames 0'],
  });
  await waitFor(() => capture.lines.length >= 3 * CRAFTED_LINES.length, { description: 'three polls' });
  process.kill(daemon.pid, 'SIGTERM');
  assert.equal((await daemon.process.exited).code, 0, daemon.process.output());
  assert.equal(capture.lines.length % CRAFTED_LINES.length, 0, 'only whole polls');
  assert.deepEqual(capture.partial, []);

  // A receiver that is down: the daemon still stops promptly with status 0, dropping (and logging) what waited.
  const deadPort = await freePort();
  const second = await startOurGmetad(registry, {
    dataSources, gridname: 'G', expectNames: ['Web Farm'],
    extra: ['carbon_server "127.0.0.1"', `carbon_port ${deadPort}`],
  });
  await new Promise((r) => setTimeout(r, 1500));
  process.kill(second.pid, 'SIGTERM');
  const exit = await second.process.exited;
  assert.equal(exit.code, 0, second.process.output());
  assert.match(second.process.output(), /receiver unreachable at shutdown/);
});

test('/status counts the lines; SIGHUP moves the export to a new carbon_port', async (t) => {
  const registry = registryFor(t);
  const dataSources = await craftedSource(t);
  const first = await startTcpLineCapture();
  const second = await startTcpLineCapture();
  t.after(() => Promise.all([first.close(), second.close()]));
  const daemon = await startOurGmetad(registry, {
    dataSources, gridname: 'G', expectNames: ['Web Farm'],
    extra: ['carbon_server "127.0.0.1"', `carbon_port ${first.port}`, 'case_sensitive_hostnames 0'],
  });
  await waitFor(() => first.lines.length >= 2 * CRAFTED_LINES.length, { description: 'two polls to the first receiver' });
  const status = JSON.parse((await daemon.ask('/status\n')).split('\r\n\r\n')[1]) as {
    metrics: { sent: Record<string, { num: number }> };
    plugins: Record<string, Record<string, number | string>>;
  };
  assert.ok(status.metrics.sent.graphite.num >= 2 * CRAFTED_LINES.length, JSON.stringify(status.metrics.sent));
  const own = status.plugins.graphite;
  assert.equal(own.receiver, `tcp:127.0.0.1:${first.port}`);
  assert.equal(own.connected, 1);
  assert.equal(own.dropped, 0);
  assert.ok(Number(own.sent) >= 2 * CRAFTED_LINES.length, JSON.stringify(own));

  fs.writeFileSync(daemon.confPath, fs.readFileSync(daemon.confPath, 'utf8').replace(`carbon_port ${first.port}`, `carbon_port ${second.port}`));
  process.kill(daemon.pid, 'SIGHUP');
  const moved = await waitFor(() => {
    const distinct = new Set(second.lines);
    return distinct.size >= CRAFTED_LINES.length ? distinct : null;
  }, { process: daemon.process, description: 'lines at the new receiver' });
  assert.deepEqual([...moved].sort(), [...CRAFTED_LINES].sort());
  const before = first.lines.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(first.lines.length, before, 'nothing more to the old receiver');
});
