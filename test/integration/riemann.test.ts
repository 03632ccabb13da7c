/**
 * Riemann export, decoded with the official riemann.proto (no Riemann server exists here):
 * for the crafted document, exactly the events gmetad's create_riemann_event builds
 * (heartbeat per host, each metric of each up host, tags, attributes, ttl, time), one
 * length-framed Msg per host over TCP with Riemann's `ok` replies read, and whole events
 * packed into datagrams of at most 1,400 bytes over UDP.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeGmond } from '../helpers/fake-gmond';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { type DecodedEvent, startRiemannTcpCapture, startRiemannUdpCapture } from '../helpers/riemann-receiver';
import { CHILD_GRID, CRAFTED } from './exporter-fixtures';

const T = 1795255600;
const attrs = (ip: string, location: string) => [
  { key: 'grid', value: 'G' }, { key: 'cluster', value: 'Web Farm' }, { key: 'ip', value: ip }, { key: 'location', value: location },
  { key: 'env', value: 'test' }, { key: 'team', value: 'ops' },
];
const web = (service: string, fields: Partial<DecodedEvent>): DecodedEvent => ({
  host: 'Web01.Example.COM', service, description: '', time: T, ttl: 60, tags: ['a', 'b'], attributes: attrs('10.1.0.1', 'rack 1'), ...fields,
});

/** One poll of CRAFTED, as gmetad's riemann code builds it (the expired "gone" and the child grid left out). */
const EXPECTED: DecodedEvent[] = [
  web('heartbeat', { metric_sint64: 1795255590, description: 'seconds', ttl: 80 }),
  web('load_one', { metric_d: 1.25 }),
  web('bytes in', { metric_d: 123.5 }),
  web('cpu_num', { metric_sint64: 4 }),
  web('temp', { metric_sint64: -3 }),
  web('os_name', { state: 'Linux' }),
  web('boottime', { state: '1795200000' }),
  web('app.requests', { metric_sint64: 99 }),
  web('kernel', { state: '6.1.0 #1 SMP', ttl: 1200 }),
  { host: 'DownHost', service: 'heartbeat', metric_sint64: 1795255000, description: 'seconds', time: T, ttl: 80, tags: ['unspecified'], attributes: attrs('10.1.0.2', '') },
  { host: 'OldStyle', service: 'heartbeat', metric_sint64: 1795255570, description: 'seconds', time: T, ttl: 0, tags: ['unspecified'], attributes: attrs('10.1.0.3', '') },
  { host: 'OldStyle', service: 'load_one', metric_d: 0.5, description: '', time: T, ttl: 60, tags: ['unspecified'], attributes: attrs('10.1.0.3', '') },
];

async function sources(t: { after(fn: () => unknown): void }) {
  const docs = await Promise.all([CRAFTED, CHILD_GRID].map((body) => startFakeGmond({ kind: 'serve', body })));
  t.after(() => Promise.all(docs.map((d) => d.close())));
  return docs.map((d, i) => ({ name: `s${i}`, step: 1, addresses: [`127.0.0.1:${d.port}`] }));
}

const key = (e: DecodedEvent) => `${e.host}/${e.service}`;

function firstPoll(events: DecodedEvent[]): DecodedEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(key(e)) ? false : (seen.add(key(e)), true)));
}

test('TCP: the C gmetad\'s events, one framed Msg per host, Riemann\'s ok replies read', async (t) => {
  const registry = registryFor(t);
  const capture = await startRiemannTcpCapture();
  t.after(() => capture.close());
  const daemon = await startOurGmetad(registry, {
    dataSources: await sources(t), gridname: 'G', expectNames: ['Web Farm', 'ChildGrid'],
    extra: ['riemann_server "127.0.0.1"', `riemann_port ${capture.port}`, 'riemann_protocol tcp', 'riemann_attributes "env=test,team=ops"'],
  });
  await registry.explain(() => waitFor(() => capture.messages.length >= 6, { description: 'two polls of three hosts' }));
  assert.equal(capture.undecodable, 0);
  const events = capture.messages.flat();
  assert.deepEqual(firstPoll(events).sort((a, b) => key(a).localeCompare(key(b))), [...EXPECTED].sort((a, b) => key(a).localeCompare(key(b))));
  // One Msg per host: the host's heartbeat first, then its metrics.
  for (const msg of capture.messages) {
    assert.equal(msg[0].service, 'heartbeat');
    assert.ok(msg.every((e) => e.host === msg[0].host));
  }
  const status = JSON.parse((await daemon.ask('/status\n')).split('\r\n\r\n')[1]) as {
    plugins: Record<string, Record<string, number | string>>; metrics: { sent: Record<string, { num: number }> };
  };
  const own = status.plugins.riemann;
  assert.equal(own.refused, 0, JSON.stringify(own));
  assert.ok(Number(own.replies) >= 6, JSON.stringify(own));
  assert.ok(status.metrics.sent.riemann.num >= 2 * EXPECTED.length, JSON.stringify(status.metrics.sent));
});

test('UDP (the C default): the same events, whole, in datagrams of at most 1,400 bytes', async (t) => {
  const registry = registryFor(t);
  const capture = await startRiemannUdpCapture();
  t.after(() => capture.close());
  await startOurGmetad(registry, {
    dataSources: await sources(t), gridname: 'G', expectNames: ['Web Farm'],
    extra: ['riemann_server "127.0.0.1"', `riemann_port ${capture.port}`, 'riemann_attributes "env=test,team=ops"'],
  });
  await registry.explain(() => waitFor(() => capture.messages.flat().length >= 2 * EXPECTED.length, { description: 'two polls' }));
  assert.equal(capture.undecodable, 0);
  assert.ok(capture.largestDatagram <= 1400, String(capture.largestDatagram));
  assert.deepEqual(firstPoll(capture.messages.flat()).sort((a, b) => key(a).localeCompare(key(b))),
    [...EXPECTED].sort((a, b) => key(a).localeCompare(key(b))));
});
