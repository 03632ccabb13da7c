import { DEFAULT_SOURCE_LIMITS } from '../../src/config/limits';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import { test } from 'node:test';
import { StatusReporter } from '../../src/server/status';
import { fixedClock } from '../../src/util/clock';
import { countTimed, DaemonStats } from '../../src/util/stats';
import { T_NOW, view } from '../helpers/tree-builders';

const DIR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'anchor', 'interactive');

function keyPaths(x: unknown, prefix = ''): string[] {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return [];
  return Object.entries(x as Record<string, unknown>).flatMap(([k, v]) => [`${prefix}${k}`, ...keyPaths(v, `${prefix}${k}.`)]);
}

test('/status has the C keys in the C order and nesting, then our extensions', () => {
  const stats = new DaemonStats(fixedClock(T_NOW * 1000));
  countTimed(stats.requests.interactive, 12, T_NOW * 1000);
  countTimed(stats.requests.all, 12, T_NOW * 1000);
  countTimed(stats.sent('rrdtool'), 3, T_NOW * 1000);
  countTimed(stats.sent('graphite'), 4, T_NOW * 1000);
  stats.metricsReceived = 42;
  stats.plugins.set('p1', { notified: 1, dropped: 2, errors: 0, queued: 0, capacity: 64 });
  stats.plugins.set('p2', {
    notified: 0, dropped: 0, errors: 0, queued: 0, capacity: 8,
    status: () => ({ posted: 7, lastError: 'HTTP 503', queued: 99 }),
  });
  stats.plugins.set('p3', {
    notified: 0, dropped: 0, errors: 0, queued: 0, capacity: 8, status: () => { throw new Error('boom'); },
  });
  const loop = createHistogram();
  loop.record(2_000_000);
  loop.record(4_000_000);
  const reporter = new StatusReporter({ stats, eventLoop: loop, hostname: () => 'vm' });
  const v = view([], { gridname: 'AnchorGrid', sources: [{
    config: { name: 'ds1', step: 15, addresses: [], origin: 'x:1', limits: DEFAULT_SOURCE_LIMITS }, snapshot: null, dead: true, lastSuccess: 0, lastError: 'refused', consecutiveFailures: 3,
  }] });
  const body = reporter.body(v, null, stats.bootTime + 5500);
  assert.ok(body.endsWith('}\r\n'));
  const doc = JSON.parse(body) as Record<string, any>;
  const c = fs.readFileSync(path.join(DIR, 'i15-status.json'), 'latin1');
  const cDoc = JSON.parse(c.slice(c.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  const ours = keyPaths(doc);
  const theirs = keyPaths(cDoc);
  assert.deepEqual(ours.slice(0, theirs.length), theirs);
  assert.deepEqual(Object.keys(doc).slice(-4), ['sources', 'plugins', 'eventLoop', 'memory']);
  assert.ok(doc.memory.rss > 0 && doc.memory.heapUsed > 0, JSON.stringify(doc.memory));
  assert.equal(doc.host, 'vm');
  assert.equal(doc.gridname, 'AnchorGrid');
  assert.equal(doc.uptime, 5);
  assert.equal(doc.uptimeMillis, 5500);
  assert.equal(doc.metrics.received.all, 42);
  assert.deepEqual(doc.metrics.sent.all, { num: 2, totalMillis: 7 });
  assert.equal(doc.metrics.requests.interactive.num, 1);
  assert.equal(doc.metrics.requests.interactive.totalMillis, 12);
  assert.deepEqual(doc.sources, [{ name: 'ds1', dead: true, lastSuccess: 0, lastError: 'refused', consecutiveFailures: 3 }]);
  assert.deepEqual(doc.plugins.p1, { notified: 1, dropped: 2, errors: 0, queued: 0, queueSize: 64 });
  // A plugin's own counters follow the chain's, which it cannot overwrite; a throwing status() is shown.
  assert.deepEqual(doc.plugins.p2, { notified: 0, dropped: 0, errors: 0, queued: 0, queueSize: 8, posted: 7, lastError: 'HTTP 503' });
  assert.deepEqual(doc.plugins.p3, { notified: 0, dropped: 0, errors: 0, queued: 0, queueSize: 8, statusError: 'boom' });
  assert.ok(doc.eventLoop.maxMs >= 3.9 && doc.eventLoop.maxMs < 4.1, JSON.stringify(doc.eventLoop));
  assert.ok(doc.metrics.load.load_one >= 0);
});

test('/status JSONP and "host" empty when authority is configured', () => {
  const reporter = new StatusReporter({ stats: new DaemonStats(), authorityConfigured: true });
  const body = reporter.body(view([]), 'cb');
  assert.match(body, /^cb\(\{"host":"",/);
  assert.ok(body.endsWith('})\r\n'));
  const reply = reporter.reply(view([]), null).toString('utf8');
  assert.ok(reply.startsWith('HTTP/1.0 200 OK\r\nServer: gmetad/3.7.2-1\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{'));
});
