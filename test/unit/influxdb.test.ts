import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/errors';
import type { PluginSection } from '../../src/config/types';
import { influxdbWanted, readInfluxSettings } from '../../src/plugins/influxdb/influx-settings';
import { escapeKey, escapeMeasurement, LineBuilder } from '../../src/plugins/influxdb/line-protocol';
import { SectionSettings } from '../../src/plugins/settings';
import type { ExportedValues } from '../../src/plugins/push/exported-values';

test('line protocol escaping: measurement (comma, space), keys and tag values (comma, equals, space), no line breaks', () => {
  assert.equal(escapeMeasurement('gan glia,x=y'), 'gan\\ glia\\,x=y');
  assert.equal(escapeKey('weird, name=x "q"'), 'weird\\,\\ name\\=x\\ "q"');
  assert.equal(escapeKey('a\nb'), 'a\\ b');
  assert.equal(escapeKey('plain_name'), 'plain_name');
});

test('one line per host with a field per metric, floats only; summaries in <measurement>_summary', () => {
  const values: ExportedValues = {
    source: 's', time: 1_700_000_000, invalid: 0,
    hosts: [{ grid: 'G', cluster: 'My Cluster', host: 'h=1', metrics: [{ name: 'load_one', units: '', value: 0.5 }, { name: 'mem free', units: 'KB', value: 1024 }] }],
    summaries: [
      { grid: 'G', cluster: 'My Cluster', hostsUp: 1, hostsDown: 0, metrics: new Map([['load_one', { name: 'load_one', sum: 0.5, num: 1, units: '', precision: 2, slope: 'both', source: 'gmond', extra: [] }]]) },
      { grid: 'G', cluster: null, hostsUp: 1, hostsDown: 0, metrics: new Map() },
    ],
  };
  const lines = new LineBuilder({ measurement: 'ganglia' }).lines(values, 1_700_000_000_000);
  assert.deepEqual(lines, [
    { text: 'ganglia,cluster=My\\ Cluster,grid=G,host=h\\=1 load_one=0.5,mem\\ free=1024 1700000000000', values: 2 },
    { text: 'ganglia_summary,cluster=My\\ Cluster,grid=G hosts_up=1,hosts_down=0,load_one_sum=0.5,load_one_num=1 1700000000000', values: 4 },
    { text: 'ganglia_summary,grid=G hosts_up=1,hosts_down=0 1700000000000', values: 2 },
  ]);
});

function settingsOf(directives: [string, ...string[]][], present = true): SectionSettings {
  const sections: PluginSection[] = present ? [{
    name: 'influxdb', origin: '/etc/gmetad.conf:10',
    directives: directives.map(([key, ...values], i) => ({ key, values, origin: `/etc/gmetad.conf:${11 + i}` })),
  }] : [];
  return new SectionSettings(sections, 'influxdb', '/etc/gmetad.conf');
}

const ENV = { INFLUXDB_URL: 'http://env:8086', INFLUXDB_ORG: 'env-org', INFLUXDB_BUCKET: 'env-bucket', INFLUXDB_TOKEN: 'env-token' };

test('v2 from the environment alone: the endpoint, org, bucket, precision=ms and the token', () => {
  assert.equal(influxdbWanted(false, ENV), true);
  assert.equal(influxdbWanted(false, { INFLUXDB_URL: '' }), false);
  const s = readInfluxSettings(settingsOf([], false), ENV);
  assert.equal(s.version, 2);
  assert.equal(s.push.url.href, 'http://env:8086/api/v2/write?org=env-org&bucket=env-bucket&precision=ms');
  assert.equal(s.push.headers.Authorization, 'Token env-token');
  assert.equal(s.gzip, true);
  assert.equal(s.measurement, 'ganglia');
});

test('the section wins over the environment, which fills what the section leaves out', () => {
  const s = readInfluxSettings(settingsOf([['bucket', 'b'], ['url', 'http://proxy/influx/']]), ENV);
  assert.equal(s.push.url.href, 'http://proxy/influx/api/v2/write?org=env-org&bucket=b&precision=ms');
  assert.equal(s.push.headers.Authorization, 'Token env-token');
});

test('v1: /write?db=&rp=&precision=ms with basic auth; v2 keys in a v1 section are refused with file:line', () => {
  const s = readInfluxSettings(settingsOf([['url', 'http://influx:8086'], ['database', 'ganglia'], ['retention_policy', 'week'],
    ['username', 'u'], ['password', 'p']]), ENV);
  assert.equal(s.version, 1);
  assert.equal(s.push.url.href, 'http://influx:8086/write?db=ganglia&rp=week&precision=ms');
  assert.equal(s.push.headers.Authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.throws(() => readInfluxSettings(settingsOf([['url', 'http://x'], ['database', 'd'], ['bucket', 'b']]), {}),
    (err: Error) => err instanceof ConfigError && err.message === '/etc/gmetad.conf:13: influxdb { bucket }: is for the v2 API; this section writes to a 1.x database');
});

test('what is missing is named: in the section with its line, in the environment by variable', () => {
  assert.throws(() => readInfluxSettings(settingsOf([['url', 'http://x'], ['org', 'o']]), {}),
    /^ConfigError: \/etc\/gmetad.conf:10: influxdb: "bucket" is required/);
  assert.throws(() => readInfluxSettings(settingsOf([], false), { INFLUXDB_URL: 'http://x', INFLUXDB_BUCKET: 'b' }),
    /^Error: INFLUXDB_URL is set but INFLUXDB_ORG is not/);
  assert.throws(() => readInfluxSettings(settingsOf([], false), { ...ENV, INFLUXDB_URL: 'ftp://x' }),
    /INFLUXDB_URL: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/);
});
