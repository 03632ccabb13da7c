import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uncompress } from 'snappyjs';
import { shortHash } from '../../src/plugins/prometheus/names';
import type { ExportedValues } from '../../src/plugins/push/exported-values';
import { FamilyNames, NameLevel } from '../../src/plugins/remote-write/family-names';
import { SeriesBuilder } from '../../src/plugins/remote-write/series';
import { ForwardTimestamps } from '../../src/plugins/push/forward-timestamps';
import { writeRequestBody, writeRequestMessage } from '../../src/plugins/remote-write/write-request';
import type { MetricSummary } from '../../src/store/model';

test('family names and factors are the /metrics ones: base units, cluster_/grid_ summaries', () => {
  const names = new FamilyNames('ganglia_');
  const m = (level: NameLevel, n: string, u: string) => {
    const x = names.mapping(level, n, u);
    return [x.name, x.rule.factor];
  };
  assert.deepEqual(m(NameLevel.Host, 'load_one', ' '), ['ganglia_load_one', 1]);
  assert.deepEqual(m(NameLevel.Host, 'mem_free', 'KB'), ['ganglia_mem_free_bytes', 1024]);
  assert.deepEqual(m(NameLevel.Host, 'cpu_user', '%'), ['ganglia_cpu_user_ratio', 0.01]);
  assert.deepEqual(m(NameLevel.Cluster, 'cpu_user', '%'), ['ganglia_cluster_cpu_user_ratio', 0.01]);
  assert.deepEqual(m(NameLevel.Grid, 'load_one', ''), ['ganglia_grid_load_one', 1]);
  assert.deepEqual(m(NameLevel.Cluster, 'hosts', ''), [`ganglia_cluster_hosts_${shortHash('hosts')}`, 1], 'a fixed family name is never given away');
});

test('collisions are ranked as the exposition ranks them: the clean name wins, even when it comes second', () => {
  const renamed: string[] = [];
  const names = new FamilyNames('ganglia_', (g, from, to) => renamed.push(`${g}: ${from} -> ${to}`));
  const dotted = names.mapping(NameLevel.Host, 'cpu.idle', '');
  assert.equal(dotted.name, 'ganglia_cpu_idle');
  const clean = names.mapping(NameLevel.Host, 'cpu_idle', '');
  assert.equal(clean.name, 'ganglia_cpu_idle');
  assert.equal(dotted.name, `ganglia_cpu_idle_${shortHash('cpu.idle')}`);
  assert.deepEqual(renamed, [`cpu.idle: ganglia_cpu_idle -> ganglia_cpu_idle_${shortHash('cpu.idle')}`]);
  assert.equal(names.mapping(NameLevel.Host, 'cpu_idle', 'x'), names.mapping(NameLevel.Host, 'cpu_idle', 'x'), 'memoized');
  assert.equal(names.mapping(NameLevel.Host, 'cpu_idle', 'x').name, 'ganglia_cpu_idle', 'same metric, other units string: same family');
});

function summary(name: string, sum: number, num: number, units = ''): MetricSummary {
  return { name, sum, num, units, precision: 2, slope: 'both', source: 'gmond', extra: [] };
}

test('sample groups: sorted labels, shared label objects, converted values, summaries; the body decodes back', () => {
  const values: ExportedValues = {
    source: 'src', time: 1_700_000_000, invalid: 0,
    hosts: [{ grid: 'G', cluster: 'C', host: 'h1', metrics: [{ name: 'load_one', units: '', value: 0.25 }, { name: 'cpu_user', units: '%', value: 3 }] }],
    summaries: [
      { grid: 'G', cluster: 'C', hostsUp: 1, hostsDown: 2, metrics: new Map([['load_one', summary('load_one', 0.25, 1)]]) },
      { grid: 'G', cluster: null, hostsUp: 1, hostsDown: 0, metrics: new Map() },
    ],
  };
  const builder = new SeriesBuilder(new FamilyNames('ganglia_'), 'ganglia_', [{ name: 'dc', value: 'ams' }]);
  const groups = builder.groups(values, 1_700_000_000_000);
  assert.deepEqual(groups.map((g) => g.values.length), [2, 4, 2], 'one group per host and per summary');
  assert.equal(groups[0].rests[0], groups[0].rests[1], 'one label set per host');
  const decoded = writeRequestMessage().decode(uncompress(writeRequestBody(groups))).toJSON() as {
    timeseries: { labels: { name: string; value: string }[]; samples: { value?: number; timestamp: string }[] }[];
  };
  const flat = decoded.timeseries.map((ts) => [ts.labels.map((l) => `${l.name}=${l.value}`).join(','), ts.samples[0].value ?? 0, ts.samples[0].timestamp]);
  assert.deepEqual(flat, [
    ['__name__=ganglia_load_one,cluster=C,dc=ams,grid=G,host=h1', 0.25, '1700000000000'],
    ['__name__=ganglia_cpu_user_ratio,cluster=C,dc=ams,grid=G,host=h1', 0.03, '1700000000000'],
    ['__name__=ganglia_cluster_hosts,cluster=C,dc=ams,grid=G,state=up', 1, '1700000000000'],
    ['__name__=ganglia_cluster_hosts,cluster=C,dc=ams,grid=G,state=down', 2, '1700000000000'],
    ['__name__=ganglia_cluster_load_one,cluster=C,dc=ams,grid=G', 0.25, '1700000000000'],
    ['__name__=ganglia_cluster_metric_hosts,cluster=C,dc=ams,grid=G,metric=load_one', 1, '1700000000000'],
    ['__name__=ganglia_grid_hosts,dc=ams,grid=G,state=up', 1, '1700000000000'],
    ['__name__=ganglia_grid_hosts,dc=ams,grid=G,state=down', 0, '1700000000000'],
  ]);
});

test('label values are the text Ganglia sent: bytes re-read as UTF-8', () => {
  const values: ExportedValues = {
    source: 's', time: 1, invalid: 0, summaries: [],
    hosts: [{ grid: 'G', cluster: 'C', host: Buffer.from('nœud', 'utf8').toString('latin1'), metrics: [{ name: 'x', units: '', value: 1 }] }],
  };
  const [group] = new SeriesBuilder(new FamilyNames('ganglia_'), 'ganglia_').groups(values, 1000);
  assert.equal(group.rests[0].find((l) => l.name === 'host')!.value, 'nœud');
});

test('timestamps move forward per source even when two polls start in the same second', () => {
  const ts = new ForwardTimestamps();
  assert.equal(ts.next('a', 100), 100_000);
  assert.equal(ts.next('a', 100), 100_001);
  assert.equal(ts.next('b', 100), 100_000, 'per source');
  assert.equal(ts.next('a', 101), 101_000);
  assert.equal(ts.next(null, 5), 5_000);
});
