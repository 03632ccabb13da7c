/**
 * Differential, end to end: the C gmetad 3.7.2 and our daemon poll the same real gmond and
 * the same fake gmond content, each into its own rrd_rootdir. The trees must hold the same
 * files and the files the same definitions, except for what 3.7.2 gets wrong (anchor
 * README section 10), which we fixed on purpose:
 * - summary files of positive-slope metrics: 3.7.2 makes `num` a COUNTER (so the host
 *   count reads back as a rate of 0); ours is GAUGE;
 * - root summary files (`<root>/__SummaryInfo__`): 3.7.2 creates them with step 15 whatever
 *   the data_source intervals and takes their DS type from an uninitialised slope (seen
 *   GAUGE for a positive metric); ours use the interval they are written at (the shortest
 *   data_source step) and the metric's real slope.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { startCGmetad } from '../helpers/c-gmetad';
import { startGmond } from '../helpers/gmond';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { attr, findAll, parseGangliaXml } from '../helpers/xml-normalize';
import {
  DEFAULT_RRA_DEFINITION, MIXED_CLUSTER, definitionOf, filesUnder, nowSeconds, startLiveFakeGmond, waitForFiles,
  waitForRows, type RrdDefinition,
} from './rrd-e2e-fixtures';
import { rrdInfo } from './rrd-fixtures';

const ROOT_STEP_C = 15;

describe('RRD trees: our daemon against the C gmetad 3.7.2', () => {
  it('same files, same definitions (but for the documented 3.7.2 bugs), same values', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const gmond = await startGmond(registry, { cluster: 'RealCluster', hostname: 'RealHost' });
      const fake = await startLiveFakeGmond([MIXED_CLUSTER]);
      t.after(() => fake.close());
      const dataSources = [
        { name: 'real-ds', step: 2, addresses: [`127.0.0.1:${gmond.tcpPort}`] },
        { name: 'fake-ds', step: 1, addresses: [fake.address] },
      ];
      const cRoot = registry.tempDir('rrd-vs-c-c');
      const ourRoot = registry.tempDir('rrd-vs-c-ours');
      const started = nowSeconds();
      const common = { gridname: 'VsGrid', dataSources, writeRrds: true, expectNames: ['RealCluster', 'MixedCluster'] };
      const [cGmetad, ours] = await Promise.all([
        startCGmetad(registry, { ...common, rrdRootdir: cRoot }),
        // Each value at once, as librrd in the C gmetad does.
        startOurGmetad(registry, { ...common, rrdRootdir: ourRoot, extra: ['rrd {', '  write_behind 0', '}'] }),
      ]);

      const gmondMetrics = findAll(parseGangliaXml(await gmond.dump()), 'METRIC');
      const numeric = gmondMetrics.filter((m) => attr(m, 'TYPE') !== 'string').map((m) => attr(m, 'NAME')!);
      const mustExist = [
        'MixedCluster/FakeHost2/anchor_counter.rrd',
        'MixedCluster/__SummaryInfo__/anchor_counter.rrd',
        ...numeric.map((m) => `RealCluster/RealHost/${m}.rrd`),
        ...numeric.map((m) => `RealCluster/__SummaryInfo__/${m}.rrd`),
        ...numeric.map((m) => `__SummaryInfo__/${m}.rrd`),
        '__SummaryInfo__/anchor_temp.rrd',
      ];
      await Promise.all([
        waitForFiles(cRoot, mustExist, cGmetad.process, 30_000),
        waitForFiles(ourRoot, mustExist, ours.process, 30_000),
      ]);
      // gmond reports some metrics later than others: wait for both trees to settle on the same set.
      let last = { c: [] as string[], ours: [] as string[] };
      try {
        await waitFor(async () => {
          last = { c: await filesUnder(cRoot), ours: await filesUnder(ourRoot) };
          return JSON.stringify(last.c) === JSON.stringify(last.ours);
        }, { timeoutMs: 20_000, intervalMs: 500, description: 'identical file sets' });
      } catch {
        assert.deepEqual(last.ours, last.c, 'relative paths of the RRD files: ours vs the C gmetad');
      }
      assert.ok(last.c.includes('MixedCluster/FakeHost2/disk used pct.rrd'));
      assert.ok(!last.c.some((f) => f.endsWith('/anchor_str.rrd') || f.endsWith('/os_name.rrd')));

      const definitions = async (rel: string): Promise<{ c: RrdDefinition; ours: RrdDefinition }> => ({
        c: definitionOf(await rrdInfo(path.join(cRoot, rel))),
        ours: definitionOf(await rrdInfo(path.join(ourRoot, rel))),
      });
      // Identical definitions: host files and cluster summaries of non-positive metrics.
      for (const rel of [
        'MixedCluster/FakeHost2/anchor_temp.rrd',
        'MixedCluster/FakeHost2/anchor_counter.rrd',
        'MixedCluster/FakeHost2/disk used pct.rrd',
        'MixedCluster/__SummaryInfo__/anchor_temp.rrd',
        'RealCluster/RealHost/load_one.rrd',
        'RealCluster/RealHost/cpu_num.rrd',
        'RealCluster/__SummaryInfo__/load_one.rrd',
      ]) {
        const { c, ours: mine } = await definitions(rel);
        assert.deepEqual(mine, c, `${rel}: ours vs C`);
      }
      // The C definitions are the documented ones (so the comparison above is not vacuous).
      const host = await definitions('RealCluster/RealHost/load_one.rrd');
      assert.deepEqual(host.c, { step: 2, ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 16 }], rras: DEFAULT_RRA_DEFINITION });
      const counterHost = await definitions('MixedCluster/FakeHost2/anchor_counter.rrd');
      assert.deepEqual(counterHost.c.ds, [{ name: 'sum', type: 'COUNTER', heartbeat: 8 }]);

      // 3.7.2 bug: `num` of a positive-slope summary is a COUNTER; ours is a GAUGE. The rest matches.
      const counterSummary = await definitions('MixedCluster/__SummaryInfo__/anchor_counter.rrd');
      assert.deepEqual(counterSummary.c.ds.map((d) => d.type), ['COUNTER', 'COUNTER']);
      assert.deepEqual(counterSummary.ours.ds.map((d) => d.type), ['COUNTER', 'GAUGE']);
      const withoutTypes = (d: RrdDefinition) => ({ ...d, ds: d.ds.map(({ name, heartbeat }) => ({ name, heartbeat })) });
      assert.deepEqual(withoutTypes(counterSummary.ours), withoutTypes(counterSummary.c));

      // Root summary: 3.7.2 hardcodes step 15 (heartbeat 120); ours is the shortest data_source step.
      for (const metric of ['load_one', 'anchor_temp']) {
        const root = await definitions(`__SummaryInfo__/${metric}.rrd`);
        assert.equal(root.c.step, ROOT_STEP_C);
        assert.deepEqual(root.c.ds, [{ name: 'sum', type: 'GAUGE', heartbeat: 8 * ROOT_STEP_C }, { name: 'num', type: 'GAUGE', heartbeat: 8 * ROOT_STEP_C }]);
        assert.deepEqual(root.ours, {
          step: 1,
          ds: [{ name: 'sum', type: 'GAUGE', heartbeat: 8 }, { name: 'num', type: 'GAUGE', heartbeat: 8 }],
          rras: root.c.rras,
        });
      }
      const rootCounter = await definitions('__SummaryInfo__/anchor_counter.rrd');
      assert.deepEqual(rootCounter.ours.ds.map((d) => d.type), ['COUNTER', 'GAUGE']);
      assert.deepEqual(rootCounter.c.ds.map((d) => d.name), ['sum', 'num']);

      // Same values read back from both trees.
      for (const [rel, expected] of [
        ['MixedCluster/FakeHost2/anchor_temp.rrd', [42.5]],
        ['MixedCluster/__SummaryInfo__/anchor_temp.rrd', [83, 2]],
        ['MixedCluster/FakeHost2/anchor_counter.rrd', [10]],
      ] as const) {
        for (const [who, root, daemon] of [['C', cRoot, cGmetad.process], ['ours', ourRoot, ours.process]] as const) {
          const rows = await waitForRows(path.join(root, rel), started, 2, daemon);
          for (const [ts, values] of rows) assert.deepEqual(values, expected, `${who} ${rel} at ${ts}`);
        }
      }
      // What the 3.7.2 `num` COUNTER bug costs: the host count reads back as a rate of 0.
      const counterSummaryFile = 'MixedCluster/__SummaryInfo__/anchor_counter.rrd';
      for (const [who, root, daemon, expected] of [
        ['C', cRoot, cGmetad.process, [20, 0]], ['ours', ourRoot, ours.process, [20, 2]],
      ] as const) {
        const rows = await waitForRows(path.join(root, counterSummaryFile), started, 2, daemon);
        for (const [ts, values] of rows) assert.deepEqual(values, expected, `${who} ${counterSummaryFile} at ${ts}`);
      }
    });
  });
});
