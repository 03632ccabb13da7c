import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createArguments, DEFAULT_RRAS, dsTypeForSlope, rootSummaryUpdate, rrdValue, summaryUpdate, valueForSlope,
} from '../../src/plugins/rrd/rrd-definitions';
import { quoteRrdtoolArgument, rrdtoolCommandLine } from '../../src/plugins/rrd/rrdtool-pool';
import { escapeRrdcachedField, parseRrdcachedAddress, resolveRrdcachedAddress } from '../../src/plugins/rrd/rrdcached-client';

test('DS type follows the slope', () => {
  assert.equal(dsTypeForSlope('positive'), 'COUNTER');
  assert.equal(dsTypeForSlope('derivative'), 'DERIVE');
  for (const slope of ['zero', 'negative', 'both', 'unspecified', '', 'garbage']) assert.equal(dsTypeForSlope(slope), 'GAUGE');
});

test('create arguments match the C gmetad, with num always GAUGE', () => {
  assert.deepEqual(createArguments({ step: 15, firstUpdate: 1795255456, slope: 'both', summary: false, rras: [] }), [
    '--step', '15', '--start', '1795255455', 'DS:sum:GAUGE:120:U:U', ...DEFAULT_RRAS,
  ]);
  assert.deepEqual(createArguments({ step: 10, firstUpdate: 100, slope: 'positive', summary: true, rras: ['RRA:AVERAGE:0.5:1:10'] }), [
    '--step', '10', '--start', '99', 'DS:sum:COUNTER:80:U:U', 'DS:num:GAUGE:80:U:U', 'RRA:AVERAGE:0.5:1:10',
  ]);
  assert.deepEqual(DEFAULT_RRAS, ['RRA:AVERAGE:0.5:1:5856', 'RRA:AVERAGE:0.5:4:20160', 'RRA:AVERAGE:0.5:40:52704']);
});

test('update values', () => {
  assert.equal(valueForSlope('both', '0.14'), '0.14');
  assert.equal(summaryUpdate(1795255456, { sum: 0.1, num: 1, precision: 2, slope: 'both' }), '1795255456:0.10:1');
  assert.equal(summaryUpdate(5, { sum: -7, num: 1, precision: 0, slope: 'zero' }), '5:-7:1');
  assert.equal(summaryUpdate(5, { sum: 6.2831853, num: 2, precision: 8, slope: 'both' }), '5:6.28318530:2');
  assert.equal(rootSummaryUpdate(1795255463, { sum: 10.63, num: 3, slope: 'both' }), '1795255463:10.63000:3');
  assert.equal(rootSummaryUpdate(1, { sum: 24105156, num: 1, slope: 'zero' }), '1:24105156.00000:1');
  // COUNTER/DERIVE take integers only (rrdtool: "not a simple integer").
  assert.equal(rootSummaryUpdate(1, { sum: 100, num: 1, slope: 'positive' }), '1:100:1');
  assert.equal(summaryUpdate(1, { sum: 2.5, num: 2, precision: 1, slope: 'derivative' }), '1:3:2');
  assert.equal(valueForSlope('positive', '1234.6'), '1235');
  assert.equal(valueForSlope('positive', '700'), '700');
  assert.equal(valueForSlope('positive', '1e22'), '10000000000000000000000');
  assert.equal(valueForSlope('positive', 'U'), 'U');
});

test('host values: verbatim numbers, U for nan/inf, null for garbage', () => {
  for (const v of ['0', '-7', '0.50', '3.14159265', '1e5', '+2', '.5', '5.', '1795254418']) assert.equal(rrdValue(v), v);
  assert.equal(rrdValue(' 42 '), '42');
  assert.equal(rrdValue('nan'), 'U');
  assert.equal(rrdValue('-inf'), 'U');
  for (const v of ['', 'abc', '1:2', '1 2', '0x10', '--1']) assert.equal(rrdValue(v), null);
});

test('rrdtool pipe-mode quoting', () => {
  assert.equal(quoteRrdtoolArgument('/a/b.rrd'), '/a/b.rrd');
  assert.equal(quoteRrdtoolArgument('/a b/c.rrd'), '"/a b/c.rrd"');
  assert.equal(quoteRrdtoolArgument(''), '""');
  assert.equal(quoteRrdtoolArgument('say "hi"'), `"say "'"hi"'`);
  assert.equal(quoteRrdtoolArgument("it's"), `"it's"`);
  assert.equal(quoteRrdtoolArgument(`a'"b`), `"a'"'"b'`);
  assert.throws(() => quoteRrdtoolArgument('a\nb'), RangeError);
  assert.equal(rrdtoolCommandLine(['update', '/x y.rrd', '1:2']), 'update "/x y.rrd" 1:2\n');
});

test('rrdcached field escaping and addresses', () => {
  assert.equal(escapeRrdcachedField('/a b/c\\d.rrd'), '/a\\ b/c\\\\d.rrd');
  assert.equal(escapeRrdcachedField(`/q'"x`), `/q'"x`);
  assert.deepEqual(parseRrdcachedAddress('unix:/run/rrdcached.sock'), { kind: 'unix', path: '/run/rrdcached.sock' });
  assert.deepEqual(parseRrdcachedAddress('/tmp/s'), { kind: 'unix', path: '/tmp/s' });
  assert.deepEqual(parseRrdcachedAddress('127.0.0.1:18680'), { kind: 'tcp', host: '127.0.0.1', port: 18680 });
  assert.deepEqual(parseRrdcachedAddress('localhost'), { kind: 'tcp', host: 'localhost', port: 42217 });
  assert.deepEqual(parseRrdcachedAddress('[::1]:42218'), { kind: 'tcp', host: '::1', port: 42218 });
  assert.deepEqual(parseRrdcachedAddress('[::1]'), { kind: 'tcp', host: '::1', port: 42217 });
  assert.deepEqual(parseRrdcachedAddress('::1'), { kind: 'tcp', host: '::1', port: 42217 });
  for (const bad of ['', 'unix:', 'host:0', 'host:99999', 'host:x', '[::1', '[::1]x', ':80']) {
    assert.throws(() => parseRrdcachedAddress(bad), RangeError, bad);
  }
  assert.equal(resolveRrdcachedAddress('a:1', { RRDCACHED_ADDRESS: 'b:2' }), 'a:1');
  assert.equal(resolveRrdcachedAddress(null, { RRDCACHED_ADDRESS: 'b:2' }), 'b:2');
  assert.equal(resolveRrdcachedAddress(null, {}), null);
  assert.equal(resolveRrdcachedAddress('  ', { RRDCACHED_ADDRESS: '' }), null);
});
