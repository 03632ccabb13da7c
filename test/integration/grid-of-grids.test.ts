/**
 * Grids of grids, both directions with the real C gmetad 3.7.2:
 *  - our daemon polling a C gmetad: the child grid appears in summary form (HOSTS +
 *    METRICS) with the counts the child itself reports;
 *  - a C gmetad polling our daemon: proves our XML port output is consumable by the real
 *    gmetad, which must derive the same HOSTS/METRICS from it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { injectSpoofedHost, startGmond, type GmondHandle } from '../helpers/gmond';
import { startCGmetad, type GmetadHandle } from '../helpers/c-gmetad';
import { startOurGmetad } from '../helpers/our-gmetad';
import { ProcessRegistry, waitFor } from '../helpers/processes';
import { attr, findAll, parseGangliaXml, pick, type XmlElement } from '../helpers/xml-normalize';

const CLUSTER = 'LeafCluster';

/** NAME -> NUM of the METRICS directly under `element`. */
function metricCounts(element: XmlElement): Record<string, string> {
  return Object.fromEntries(
    element.children.filter((c) => c.name === 'METRICS').map((m) => [attr(m, 'NAME')!, attr(m, 'NUM')!]),
  );
}

/** Equal NAME -> NUM maps, whatever order the daemons emitted them in. */
function sameCounts(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a).sort();
  return keys.join() === Object.keys(b).sort().join() && keys.every((k) => a[k] === b[k]);
}

function hostsUpDown(element: XmlElement): string {
  const hosts = pick(element, 'HOSTS');
  return hosts ? `UP=${attr(hosts, 'UP')} DOWN=${attr(hosts, 'DOWN')}` : '(no HOSTS)';
}

/** The child's own view of its cluster summary (what the parent should re-derive). */
async function childClusterCounts(child: GmetadHandle): Promise<Record<string, string>> {
  const reply = await child.ask(`/${CLUSTER}?filter=summary\n`);
  const cluster = findAll(parseGangliaXml(reply), 'CLUSTER')[0];
  assert.ok(cluster, `child lists ${CLUSTER}`);
  return metricCounts(cluster);
}

/**
 * Waits until `parent`'s XML port shows grid `gridName` with HOSTS UP=2 DOWN=0 and the
 * same METRICS names/NUM as the child's own cluster summary (both sides may need a poll
 * or two to settle), then asserts on the last observation and returns the GRID element.
 */
async function expectChildGrid(
  parent: GmetadHandle,
  parentGrid: string,
  child: GmetadHandle,
  gridName: string,
): Promise<XmlElement> {
  let grid: XmlElement | undefined;
  let expected: Record<string, string> = {};
  const settled = () =>
    grid !== undefined &&
    hostsUpDown(grid) === 'UP=2 DOWN=0' &&
    sameCounts(metricCounts(grid), expected);
  await waitFor(
    async () => {
      expected = await childClusterCounts(child);
      grid = pick(parseGangliaXml(await parent.dump()), `GRID:${parentGrid}`, `GRID:${gridName}`);
      return settled() || undefined;
    },
    { timeoutMs: 20_000, intervalMs: 500, description: `${gridName} to settle in ${parentGrid}` },
  ).catch(() => undefined);
  assert.ok(grid, `${gridName} listed in ${parentGrid}`);
  assert.equal(hostsUpDown(grid), 'UP=2 DOWN=0');
  assert.deepEqual([...new Set(grid.children.map((c) => c.name))].sort(), ['HOSTS', 'METRICS'], 'summary form only');
  assert.equal(expected.load_one, '2', 'child cluster load_one NUM=2');
  assert.deepEqual(metricCounts(grid), expected, 'METRICS names and NUM as the child computes them');
  return grid;
}

describe('grid of grids with the C gmetad', () => {
  const registry = new ProcessRegistry();
  after(() => registry.cleanup());
  let gmond: GmondHandle;

  before(() =>
    registry.explain(async () => {
      gmond = await startGmond(registry, { cluster: CLUSTER });
      // A second host, so UP counts are not trivially 1.
      await injectSpoofedHost(gmond, '10.7.7.7', 'leaf-spoof', [
        { name: 'load_one', value: '0.25', type: 'float', units: ' ', slope: 'both' },
      ]);
      await waitFor(async () => (await gmond.dump()).includes('<HOST NAME="leaf-spoof"'), {
        description: 'spoofed host in gmond',
      });
    }),
  );

  it('our daemon shows a C child grid in summary form', () =>
    registry.explain(async () => {
      const child = await startCGmetad(registry, {
        gridname: 'CChildGrid',
        authority: 'http://cchild.example/ganglia/',
        dataSources: [{ name: 'leaf', step: 2, addresses: [`127.0.0.1:${gmond.tcpPort}`] }],
        expectNames: [CLUSTER],
      });
      const parent = await startOurGmetad(registry, {
        gridname: 'OurParentGrid',
        dataSources: [{ name: 'c-child', step: 2, addresses: [`127.0.0.1:${child.xmlPort}`] }],
        expectNames: ['CChildGrid'],
      });

      const grid = await expectChildGrid(parent, 'OurParentGrid', child, 'CChildGrid');
      assert.equal(attr(grid, 'AUTHORITY'), 'http://cchild.example/ganglia/', 'remote AUTHORITY passes through');

      // The parent's own root summary counts the child grid's hosts (recomputed periodically).
      const rootGrid = await waitFor(
        async () => {
          const root = pick(parseGangliaXml(await parent.ask('/?filter=summary\n')), 'GRID:OurParentGrid');
          return root && hostsUpDown(root) === 'UP=2 DOWN=0' ? root : undefined;
        },
        { timeoutMs: 10_000, description: 'parent root summary UP=2 DOWN=0' },
      );
      assert.ok(pick(rootGrid, 'GRID:CChildGrid'), 'child grid listed in the root summary');

      // Path lookup of a child grid gives its summary.
      const byPath = pick(parseGangliaXml(await parent.ask('/CChildGrid\n')), 'GRID:OurParentGrid', 'GRID:CChildGrid');
      assert.ok(byPath, '/CChildGrid resolves');
      assert.equal(hostsUpDown(byPath), 'UP=2 DOWN=0');
    }));

  it('the C gmetad consumes our XML port as a child grid', () =>
    registry.explain(async () => {
      const child = await startOurGmetad(registry, {
        gridname: 'OurChildGrid',
        authority: 'http://ourchild.example/ganglia/',
        dataSources: [{ name: 'leaf', step: 2, addresses: [`127.0.0.1:${gmond.tcpPort}`] }],
        expectNames: [CLUSTER],
      });
      const parent = await startCGmetad(registry, {
        gridname: 'CParentGrid',
        dataSources: [{ name: 'our-child', step: 2, addresses: [`127.0.0.1:${child.xmlPort}`] }],
        expectNames: ['OurChildGrid'],
      });

      const grid = await expectChildGrid(parent, 'CParentGrid', child, 'OurChildGrid');
      assert.equal(attr(grid, 'AUTHORITY'), 'http://ourchild.example/ganglia/');
      assert.doesNotMatch(parent.process.output(), /XML_ParseBuffer\(\) error/, 'the C parent parsed our XML');
    }));
});
