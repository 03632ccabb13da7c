/** Riemann event values as C's strtol/strtod read them, and riemann_attributes checked at load. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config';
import { parseRiemannAttributes } from '../../src/config/riemann-attributes';
import { eventFrame, hostEventFrames, hostEvents, riemannTypes, strtod, strtol } from '../../src/plugins/riemann/events';
import { cluster, host, metric } from '../helpers/tree-builders';

test('strtol and strtod read the leading number as C does', () => {
  assert.deepEqual(['42', ' -7x', '+3', 'abc', '', '4.9'].map(strtol), [42, -7, 3, 0, 0, 4]);
  assert.deepEqual(['1.25', ' -2e3', '.5', '7.', 'x', '3.0.1'].map(strtod), [1.25, -2000, 0.5, 7, 0, 3]);
  assert.equal(strtod('inf'), Infinity);
  assert.ok(Number.isNaN(strtod('nan')));
});

test('riemann_attributes: key=value items; a bad one names file:line', () => {
  assert.deepEqual(parseRiemannAttributes('a=1,,b=x=y'), [{ key: 'a', value: '1' }, { key: 'b', value: 'x=y' }]);
  for (const bad of ['a', 'a=', '=b']) {
    assert.throws(() => parseConfig(`data_source "a" 127.0.0.1:1\nriemann_attributes "${bad}"\n`, '/g.conf', { env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.line, 2);
      assert.match(err.message, /^\/g\.conf:2: riemann_attributes: ".*": expected key=value$/);
      return true;
    });
  }
});

test('a down host sends its heartbeat only; a LOCATION with commas stays one attribute; REPORTED as %d', () => {
  const c = cluster('C', [host('h', [metric('m')], { up: false, location: '1,2,3', tags: '', reported: 3_000_000_000, tmax: 20 })], { localtime: 0 });
  const events = hostEvents(c, c.hosts.get('h')!, { gridname: 'G', attributes: [] });
  assert.equal(events.length, 1);
  assert.equal(events[0].metric_sint64, 3_000_000_000 - 2 ** 32);
  assert.equal(events[0].time, undefined);
  assert.deepEqual(events[0].tags, []);
  assert.deepEqual(events[0].attributes.find((a) => a.key === 'location'), { key: 'location', value: '1,2,3' });
});

test('the per-host shared part plus each event\'s own fields decode as the whole event', () => {
  const { Event, Msg } = riemannTypes();
  const c = cluster('C', [host('h', [metric('a', { val: '1.5' }), metric('b', { val: 'x', type: 'string' })], { tags: 't1,t2' })], { localtime: 99 });
  const h = c.hosts.get('h')!;
  const options = { gridname: 'G', attributes: [{ key: 'env', value: 'prod' }] };
  const split = Msg.toObject(Msg.decode(Buffer.concat(hostEventFrames(c, h, options, Event))), { longs: Number });
  const whole = Msg.toObject(Msg.decode(Buffer.concat(hostEvents(c, h, options).map((e) => eventFrame(e, Event)))), { longs: Number });
  assert.deepEqual(split, whole);
  assert.equal((split.events as unknown[]).length, 3);
});
