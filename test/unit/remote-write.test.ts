import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { uncompress } from 'snappyjs';
import {
  hostMetricName, nameHash, PrometheusNames, sanitizeNamePart, summaryNumName, summarySumName,
} from '../../src/plugins/prometheus-naming';
import type { ExportedValues } from '../../src/plugins/push/exported-values';
import { SeriesBuilder, SeriesTimestamps } from '../../src/plugins/remote-write/series';
import { writeRequestBody, writeRequestMessage } from '../../src/plugins/remote-write/write-request';
import type { MetricSummary } from '../../src/store/model';

test('Ganglia names become Prometheus names: sanitized, prefixed, base units only', () => {
  assert.equal(hostMetricName('load_one', ''), 'ganglia_load_one');
  assert.equal(hostMetricName('cpu_user', '%'), 'ganglia_cpu_user_percent');
  assert.equal(hostMetricName('bytes_in', 'bytes/sec'), 'ganglia_bytes_in_bytes_per_second');
  assert.equal(hostMetricName('disk_total', 'bytes'), 'ganglia_disk_total_bytes');
  assert.equal(hostMetricName('used_bytes', 'Bytes'), 'ganglia_used_bytes', 'unit not doubled');
  assert.equal(hostMetricName('mem_free', 'KB'), 'ganglia_mem_free', 'no conversion, so no non-base unit');
  assert.equal(hostMetricName('boottime', 's'), 'ganglia_boottime_seconds');
  assert.equal(hostMetricName('diskstat_sda-1.reads/s', ''), 'ganglia_diskstat_sda_1_reads_s');
  assert.equal(sanitizeNamePart('9lives'), '_9lives');
  assert.equal(summarySumName('cpu_user', '%'), 'ganglia_sum_cpu_user_percent');
  assert.equal(summaryNumName('cpu_user'), 'ganglia_num_cpu_user');
});

test('names that sanitize alike are kept apart; the first seen keeps the plain name', () => {
  const collisions: string[] = [];
  const names = new PrometheusNames((g, taken, renamed) => collisions.push(`${g}:${taken}:${renamed}`));
  assert.equal(names.host('a.b', ''), 'ganglia_a_b');
  assert.equal(names.host('a_b', ''), `ganglia_a_b_${nameHash('a_b')}`);
  assert.equal(names.host('a.b', ''), 'ganglia_a_b', 'memoized');
  assert.equal(names.host('a.b', 'KB'), 'ganglia_a_b', 'another non-base unit string: same series');
  assert.deepEqual(collisions, [`a_b:ganglia_a_b:ganglia_a_b_${nameHash('a_b')}`]);
});

test('every name and label the exporter makes passes promtool check metrics', () => {
  const names = new PrometheusNames();
  const metrics = ['load_one', 'cpu_user', 'bytes_in', 'mem_free', 'boottime', 'x.y-z'];
  const units = ['', '%', 'bytes/sec', 'KB', 's', 'ms'];
  const lines: string[] = [];
  metrics.forEach((m, i) => {
    for (const name of [names.host(m, units[i]), names.sum(m, units[i]), names.num(m)]) {
      lines.push(`# HELP ${name} test`, `# TYPE ${name} gauge`, `${name}{grid="g",cluster="c",host="h"} 1`);
    }
  });
  const r = spawnSync('promtool', ['check', 'metrics'], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

function summary(name: string, sum: number, num: number, units = ''): MetricSummary {
  return { name, sum, num, units, precision: 2, slope: 'both', source: 'gmond', extra: [] };
}

test('samples: sorted labels, shared label objects, summaries; the body decodes back', () => {
  const values: ExportedValues = {
    source: 'src', time: 1_700_000_000, invalid: 0,
    hosts: [{ grid: 'G', cluster: 'C', host: 'h1', metrics: [{ name: 'load_one', units: '', value: 0.25 }, { name: 'cpu_user', units: '%', value: 3 }] }],
    summaries: [{ grid: 'G', cluster: 'C', hostsUp: 1, hostsDown: 2, metrics: new Map([['load_one', summary('load_one', 0.25, 1)]]) }],
  };
  const builder = new SeriesBuilder(new PrometheusNames(), [{ name: 'dc', value: 'ams' }]);
  const samples = builder.samples(values, 1_700_000_000_000);
  assert.equal(samples.length, 2 + 4);
  assert.equal(samples[0].labels[1], samples[1].labels[1], 'one label set per host');
  const decoded = writeRequestMessage().decode(uncompress(writeRequestBody(samples))).toJSON() as {
    timeseries: { labels: { name: string; value: string }[]; samples: { value?: number; timestamp: string }[] }[];
  };
  const flat = decoded.timeseries.map((ts) => [ts.labels.map((l) => `${l.name}=${l.value}`).join(','), ts.samples[0].value ?? 0, ts.samples[0].timestamp]);
  assert.deepEqual(flat, [
    ['__name__=ganglia_load_one,cluster=C,dc=ams,grid=G,host=h1', 0.25, '1700000000000'],
    ['__name__=ganglia_cpu_user_percent,cluster=C,dc=ams,grid=G,host=h1', 3, '1700000000000'],
    ['__name__=ganglia_hosts_up,cluster=C,dc=ams,grid=G', 1, '1700000000000'],
    ['__name__=ganglia_hosts_down,cluster=C,dc=ams,grid=G', 2, '1700000000000'],
    ['__name__=ganglia_sum_load_one,cluster=C,dc=ams,grid=G', 0.25, '1700000000000'],
    ['__name__=ganglia_num_load_one,cluster=C,dc=ams,grid=G', 1, '1700000000000'],
  ]);
});

test('timestamps move forward per source even when two polls end in the same second', () => {
  const ts = new SeriesTimestamps();
  assert.equal(ts.next('a', 100), 100_000);
  assert.equal(ts.next('a', 100), 100_001);
  assert.equal(ts.next('b', 100), 100_000, 'per source');
  assert.equal(ts.next('a', 101), 101_000);
  assert.equal(ts.next(null, 5), 5_000);
});
