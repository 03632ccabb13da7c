/**
 * End to end: our daemon (dist/src/cli/main.js) polling a real gmond and a fake gmond
 * writes the RRD tree of the C gmetad 3.7.2 (anchor README section 10) with the real
 * rrdtool: layout, file definitions, the values polled, host name handling, and no loss
 * of write-behind values at SIGTERM.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { startGmond } from '../helpers/gmond';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { attr, findAll, parseGangliaXml } from '../helpers/xml-normalize';
import {
  DEFAULT_RRA_DEFINITION, MIXED_CLUSTER, definitionOf, filesUnder, knownRows, lastUpdate, nowSeconds,
  startLiveFakeGmond, waitForFiles, waitForRows, type FakeCluster,
} from './rrd-e2e-fixtures';
import { rrdInfo } from './rrd-fixtures';

const WRITE_AT_ONCE = ['rrd {', '  write_behind 0', '}'];

/** MixedCluster's files as the C gmetad lays them out (no RRD for the string metric). */
const MIXED_FILES = [
  'MixedCluster/FakeHost2/anchor_counter.rrd',
  'MixedCluster/FakeHost2/anchor_temp.rrd',
  'MixedCluster/FakeHost2/disk used pct.rrd',
  'MixedCluster/Web.Example-01/anchor_counter.rrd',
  'MixedCluster/Web.Example-01/anchor_temp.rrd',
  'MixedCluster/__SummaryInfo__/anchor_counter.rrd',
  'MixedCluster/__SummaryInfo__/anchor_temp.rrd',
  'MixedCluster/__SummaryInfo__/disk used pct.rrd',
];

function assertAllRows(rows: Array<[number, number[]]>, expected: number[], what: string): void {
  for (const [ts, values] of rows) {
    assert.equal(values.length, expected.length, `${what} at ${ts}: ${values.join(' ')}`);
    values.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-9, `${what} at ${ts}: got ${values.join(' ')}, want ${expected.join(' ')}`));
  }
}

describe('our daemon writes the RRD tree (real rrdtool)', { concurrency: true }, () => {
  it('real gmond + fake gmond: layout, definitions and the values polled', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const gmond = await startGmond(registry, { cluster: 'RealCluster', hostname: 'RealHost' });
      const fake = await startLiveFakeGmond([MIXED_CLUSTER]);
      t.after(() => fake.close());
      const root = registry.tempDir('rrd-e2e-root');
      const started = nowSeconds();
      const gmetad = await startOurGmetad(registry, {
        gridname: 'E2EGrid',
        dataSources: [
          { name: 'real-ds', step: 2, addresses: [`127.0.0.1:${gmond.tcpPort}`] },
          { name: 'fake-ds', step: 1, addresses: [fake.address] },
        ],
        rrdRootdir: root,
        writeRrds: true,
        extra: WRITE_AT_ONCE,
        expectNames: ['RealCluster', 'MixedCluster'],
      });
      const daemon = gmetad.process;

      // What the real gmond reports: numeric metrics get files, strings do not.
      const gmondMetrics = findAll(parseGangliaXml(await gmond.dump()), 'METRIC');
      const hostNames = findAll(parseGangliaXml(await gmond.dump()), 'HOST').map((h) => attr(h, 'NAME'));
      assert.deepEqual(hostNames, ['RealHost']);
      const numeric = gmondMetrics.filter((m) => attr(m, 'TYPE') !== 'string').map((m) => attr(m, 'NAME')!);
      const strings = gmondMetrics.filter((m) => attr(m, 'TYPE') === 'string').map((m) => attr(m, 'NAME')!);
      assert.ok(numeric.includes('load_one') && numeric.includes('cpu_num'), numeric.join(' '));
      assert.ok(strings.includes('os_name'), strings.join(' '));

      await waitForFiles(root, [
        ...MIXED_FILES,
        ...numeric.map((m) => `RealCluster/RealHost/${m}.rrd`),
        ...numeric.map((m) => `RealCluster/__SummaryInfo__/${m}.rrd`),
        '__SummaryInfo__/anchor_temp.rrd', '__SummaryInfo__/anchor_counter.rrd', '__SummaryInfo__/load_one.rrd',
      ], daemon);

      const files = await filesUnder(root);
      // Directories are named after the CLUSTER NAME in the XML, never the data_source name.
      assert.deepEqual([...new Set(files.map((f) => f.split('/')[0]))].sort(), ['MixedCluster', 'RealCluster', '__SummaryInfo__']);
      assert.deepEqual(files.filter((f) => f.startsWith('MixedCluster/')), MIXED_FILES);
      for (const name of [...strings, 'anchor_str']) {
        assert.ok(!files.some((f) => path.basename(f) === `${name}.rrd`), `no RRD for string metric ${name}`);
      }
      assert.equal((await fs.stat(path.join(root, 'MixedCluster', 'FakeHost2'))).mode & 0o777, 0o755);

      // Definitions: step = data_source interval, heartbeat 8 steps, the default RRAs.
      const def = async (rel: string) => definitionOf(await rrdInfo(path.join(root, rel)));
      assert.deepEqual(await def('MixedCluster/FakeHost2/anchor_temp.rrd'), {
        step: 1, ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 8 }], rras: DEFAULT_RRA_DEFINITION,
      });
      assert.deepEqual(await def('MixedCluster/Web.Example-01/anchor_counter.rrd'), {
        step: 1, ds: [{ name: 'sum', type: 'COUNTER', heartbeat: 8 }], rras: DEFAULT_RRA_DEFINITION,
      });
      assert.deepEqual(await def('MixedCluster/__SummaryInfo__/anchor_counter.rrd'), {
        step: 1,
        ds: [{ name: 'sum', type: 'COUNTER', heartbeat: 8 }, { name: 'num', type: 'GAUGE', heartbeat: 8 }],
        rras: DEFAULT_RRA_DEFINITION,
      });
      assert.deepEqual(await def('RealCluster/RealHost/load_one.rrd'), {
        step: 2, ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 16 }], rras: DEFAULT_RRA_DEFINITION,
      });
      assert.deepEqual(await def('RealCluster/__SummaryInfo__/load_one.rrd'), {
        step: 2,
        ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 16 }, { name: 'num', type: 'GAUGE', heartbeat: 16 }],
        rras: DEFAULT_RRA_DEFINITION,
      });
      // Root summary: written every shortest step (1 s here; 3.7.2 hardcoded 15).
      assert.deepEqual(await def('__SummaryInfo__/anchor_temp.rrd'), {
        step: 1,
        ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 8 }, { name: 'num', type: 'GAUGE', heartbeat: 8 }],
        rras: DEFAULT_RRA_DEFINITION,
      });

      // Values read back: the fake gmond's constants, counter rates, summaries over 2 hosts.
      const at = (rel: string) => path.join(root, rel);
      assertAllRows(await waitForRows(at('MixedCluster/FakeHost2/anchor_temp.rrd'), started, 3, daemon), [42.5], 'FakeHost2 anchor_temp');
      assertAllRows(await waitForRows(at('MixedCluster/Web.Example-01/anchor_temp.rrd'), started, 3, daemon), [40.5], 'Web anchor_temp');
      assertAllRows(await waitForRows(at('MixedCluster/FakeHost2/disk used pct.rrd'), started, 3, daemon), [12.25], 'disk used pct');
      // +10 per second on each host: a rate of 10, 20 for the cluster's sum.
      assertAllRows(await waitForRows(at('MixedCluster/FakeHost2/anchor_counter.rrd'), started, 3, daemon), [10], 'anchor_counter rate');
      assertAllRows(await waitForRows(at('MixedCluster/__SummaryInfo__/anchor_temp.rrd'), started, 3, daemon), [83, 2], 'cluster summary');
      assertAllRows(await waitForRows(at('MixedCluster/__SummaryInfo__/anchor_counter.rrd'), started, 3, daemon), [20, 2], 'counter summary');
      assertAllRows(await waitForRows(at('__SummaryInfo__/anchor_temp.rrd'), started, 3, daemon), [83, 2], 'root summary');

      // The real gmond: cpu_num is collected once, so its value is known.
      const cpuNum = Number(attr(gmondMetrics.find((m) => attr(m, 'NAME') === 'cpu_num')!, 'VAL'));
      assert.ok(cpuNum >= 1);
      assertAllRows(await waitForRows(at('RealCluster/RealHost/cpu_num.rrd'), started, 2, daemon), [cpuNum], 'cpu_num');
      assertAllRows(await waitForRows(at('RealCluster/__SummaryInfo__/cpu_num.rrd'), started, 2, daemon), [cpuNum, 1], 'cpu_num summary');
      const loadRows = await waitForRows(at('RealCluster/RealHost/load_one.rrd'), started, 2, daemon);
      assert.ok(loadRows.every(([, [v]]) => v! >= 0), 'load_one values are numbers');
      // Updates keep coming, stamped with the cluster's LOCALTIME.
      const before = await lastUpdate(at('MixedCluster/FakeHost2/anchor_temp.rrd'));
      await waitFor(async () => (await lastUpdate(at('MixedCluster/FakeHost2/anchor_temp.rrd'))) >= before + 2,
        { timeoutMs: 10_000, description: 'later updates of anchor_temp', process: daemon });

      // /status shows the writer's counters (the C gmetad has none: not checked against it).
      if (process.env.GMETAD_TS_UNDER_TEST !== 'c') {
        const statusText = await gmetad.ask('/status\n');
        const rrd = (JSON.parse(statusText.slice(statusText.indexOf('{'))) as { plugins: Record<string, Record<string, number>> }).plugins.rrd!;
        assert.ok(rrd.values! >= files.length, `values ${rrd.values} >= ${files.length} files`);
        assert.ok(rrd.created! >= files.length, `created ${rrd.created}`);
        assert.equal(rrd.errors, 0);
        assert.equal(rrd.dropped, 0);
        assert.ok(rrd.lagSeconds! >= 0 && rrd.lagSeconds! < 60, `lagSeconds ${rrd.lagSeconds}`);
      }
    });
  });

  it('case_sensitive_hostnames 0, a custom RRAs line, hostile names kept inside the root', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const hostile: FakeCluster = {
        name: '../evil',
        hosts: [
          { name: 'a/b', metrics: [{ name: 'x', val: '1', type: 'float', slope: 'both' }] },
          { name: '..', metrics: [{ name: 'x', val: '2', type: 'float', slope: 'both' }] },
          { name: '../Escape', metrics: [{ name: '../y', val: '3', type: 'float', slope: 'both' }] },
        ],
      };
      const fake = await startLiveFakeGmond([MIXED_CLUSTER, hostile]);
      t.after(() => fake.close());
      // The root is one level down, so a file escaping it would still be seen (and removed).
      const outer = registry.tempDir('rrd-e2e-hostile');
      const root = path.join(outer, 'rrds');
      await fs.mkdir(root);
      const started = nowSeconds();
      const gmetad = await startOurGmetad(registry, {
        gridname: 'E2EGrid',
        dataSources: [{ name: 'fake-ds', step: 1, addresses: [fake.address] }],
        rrdRootdir: root,
        writeRrds: true,
        extra: [
          'case_sensitive_hostnames 0',
          'RRAs "RRA:AVERAGE:0.5:1:120" "RRA:MAX:0.5:2:60" "RRA:MIN:0.25:5:30"',
          ...WRITE_AT_ONCE,
        ],
        expectNames: ['MixedCluster', '../evil'],
      });
      const expected = [
        '.._evil/.._escape/.._y.rrd',
        '.._evil/__/x.rrd',
        '.._evil/__SummaryInfo__/.._y.rrd',
        '.._evil/__SummaryInfo__/x.rrd',
        '.._evil/a_b/x.rrd',
        'MixedCluster/__SummaryInfo__/anchor_counter.rrd',
        'MixedCluster/__SummaryInfo__/anchor_temp.rrd',
        'MixedCluster/__SummaryInfo__/disk used pct.rrd',
        'MixedCluster/fakehost2/anchor_counter.rrd',
        'MixedCluster/fakehost2/anchor_temp.rrd',
        'MixedCluster/fakehost2/disk used pct.rrd',
        'MixedCluster/web.example-01/anchor_counter.rrd',
        'MixedCluster/web.example-01/anchor_temp.rrd',
        '__SummaryInfo__/.._y.rrd',
        '__SummaryInfo__/anchor_counter.rrd',
        '__SummaryInfo__/anchor_temp.rrd',
        '__SummaryInfo__/disk used pct.rrd',
        '__SummaryInfo__/x.rrd',
      ];
      await waitForFiles(root, expected, gmetad.process);
      // Host dirs lowercased, cluster dirs not; nothing else anywhere, nothing outside the root.
      assert.deepEqual(await filesUnder(root), expected);
      assert.deepEqual(await filesUnder(outer), expected.map((f) => `rrds/${f}`));

      // The XML port keeps the names as received (case and all).
      const dump = await gmetad.dump();
      for (const name of ['../evil', 'a/b', '..', '../Escape', 'FakeHost2', 'Web.Example-01']) {
        assert.ok(dump.includes(` NAME="${name}"`), `XML port lists ${name}`);
      }
      assert.ok(dump.includes('<METRIC NAME="../y"'));

      // The custom archives.
      const info = await rrdInfo(path.join(root, '.._evil/a_b/x.rrd'));
      assert.deepEqual(definitionOf(info), {
        step: 1,
        ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 8 }],
        rras: [
          { cf: 'AVERAGE', pdpPerRow: 1, rows: 120, xff: 0.5 },
          { cf: 'MAX', pdpPerRow: 2, rows: 60, xff: 0.5 },
          { cf: 'MIN', pdpPerRow: 5, rows: 30, xff: 0.25 },
        ],
      });
      assertAllRows(await waitForRows(path.join(root, '.._evil/a_b/x.rrd'), started, 2, gmetad.process), [1], 'a/b x');
      assertAllRows(await waitForRows(path.join(root, '.._evil/__/x.rrd'), started, 2, gmetad.process), [2], '.. x');
      assertAllRows(await waitForRows(path.join(root, '.._evil/__SummaryInfo__/x.rrd'), started, 2, gmetad.process), [3, 2], 'evil summary x');
      assertAllRows(await waitForRows(path.join(root, 'MixedCluster/fakehost2/anchor_temp.rrd'), started, 2, gmetad.process), [42.5], 'fakehost2');
    });
  });

  it('SIGTERM with write_behind 300: every value polled before the signal is in the files', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const fake = await startLiveFakeGmond([MIXED_CLUSTER]);
      t.after(() => fake.close());
      const root = registry.tempDir('rrd-e2e-sigterm');
      const gmetad = await startOurGmetad(registry, {
        gridname: 'E2EGrid',
        dataSources: [{ name: 'fake-ds', step: 1, addresses: [fake.address] }],
        rrdRootdir: root,
        writeRrds: true,
        extra: ['rrd {', '  write_behind 300', '}'],
        expectNames: ['MixedCluster'],
      });
      const daemon = gmetad.process;
      await waitForFiles(root, MIXED_FILES, daemon);
      const clusterLocaltime = async () => {
        const cluster = findAll(parseGangliaXml(await gmetad.dump()), 'CLUSTER')[0]!;
        return Number(attr(cluster, 'LOCALTIME'));
      };
      // Each file was created with its first value; later ones wait (write-behind).
      const first = await clusterLocaltime();
      const polled = await waitFor(async () => {
        const now = await clusterLocaltime();
        return now >= first + 4 ? now : false;
      }, { timeoutMs: 15_000, description: 'four more polls', process: daemon });
      const held = [];
      for (const rel of MIXED_FILES) {
        if ((await lastUpdate(path.join(root, rel))) < polled) held.push(rel);
      }
      assert.ok(held.length > 0, 'some values are still held back before the signal (else this test proves nothing)');

      const status = await daemon.stop(15_000);
      assert.deepEqual(status, { code: 0, signal: null }, 'clean exit on SIGTERM');
      for (const rel of MIXED_FILES) {
        assert.ok((await lastUpdate(path.join(root, rel))) >= polled, `${rel}: values up to ${polled} written`);
      }
      // No hole between the first value and the last one polled before the signal.
      // (A poll may land between reading `polled` and the signal: rrdtool fetch then also
      // returns that later row; only the rows up to `polled` are in question here.)
      const upToPolled = (rows: Array<[number, number[]]>) => rows.filter(([ts]) => ts <= polled);
      const temp = upToPolled(await knownRows(path.join(root, 'MixedCluster/FakeHost2/anchor_temp.rrd'), first, polled));
      assert.deepEqual(temp.map(([ts]) => ts), Array.from({ length: polled - first }, (_, i) => first + 1 + i));
      assertAllRows(temp, [42.5], 'anchor_temp after SIGTERM');
      const summary = upToPolled(await knownRows(path.join(root, 'MixedCluster/__SummaryInfo__/anchor_temp.rrd'), first, polled));
      assert.equal(summary.length, polled - first);
      assertAllRows(summary, [83, 2], 'summary after SIGTERM');
    });
  });
});
