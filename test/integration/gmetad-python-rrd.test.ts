/**
 * Moving from gmetad-python without losing RRD history: its configuration keeps rrd_rootdir
 * and RRAs in the `rrd { ... }` section of its RRD plugin, and gmetad-ts must write the tree
 * there (and with those archives), not at the top-level default. A bad RRA there is refused
 * with file and line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startGmond } from '../helpers/gmond';
import { freePort } from '../helpers/net';
import { OUR_GMETAD_MAIN, startOurGmetad } from '../helpers/our-gmetad';
import { registryFor, waitFor } from '../helpers/processes';
import { rrdInfo } from './rrd-fixtures';

const PYTHON_RRAS = ['RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:24:244'];

describe("gmetad-python's rrd section", () => {
  it('rrd { rrd_rootdir; RRAs } decide where and how the RRDs are written', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const gmond = await startGmond(registry, { cluster: 'PyCluster', hostname: 'py-node1' });
      const topLevel = registry.tempDir('py-top-level-rrds');
      const section = registry.tempDir('py-section-rrds');
      await startOurGmetad(registry, {
        gridname: 'PyGrid',
        dataSources: [{ name: 'py', step: 2, addresses: [`127.0.0.1:${gmond.tcpPort}`] }],
        rrdRootdir: topLevel,
        writeRrds: true,
        extra: ['rrd {', `  rrd_rootdir "${section}"`, `  RRAs ${PYTHON_RRAS.map((r) => `"${r}"`).join(' ')}`, '}'],
        expectNames: ['PyCluster'],
      });
      const file = path.join(section, 'PyCluster', 'py-node1', 'load_one.rrd');
      await waitFor(() => fs.existsSync(file), { timeoutMs: 20_000, description: `${file} to be written` });
      assert.deepEqual(fs.readdirSync(topLevel), [], 'nothing written under the top-level rrd_rootdir');
      const info = await rrdInfo(file);
      assert.equal(info.get('rra[0].rows'), '244');
      assert.equal(info.get('rra[1].pdp_per_row'), '24');
      assert.equal(info.get('rra[2].rows'), undefined, 'only the two RRAs of the section');
    });
  });

  it('a malformed RRA in the section stops start-up with file and line', async (t) => {
    const registry = registryFor(t);
    const dir = registry.tempDir('py-bad-rra');
    const conf = path.join(dir, 'gmetad.conf');
    fs.writeFileSync(
      conf,
      [
        'data_source "a" 127.0.0.1:9',
        `xml_port ${await freePort()}`,
        `interactive_port ${await freePort()}`,
        'setuid off',
        `rrd_rootdir "${dir}"`,
        'rrd {',
        '  RRAs "RRA:AVERAGE:0.5:1:244" "AVERAGE:1"',
        '}',
      ].join('\n') + '\n',
    );
    const result = spawnSync(process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', conf], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7: .*invalid RRA "AVERAGE:1"`));
  });
});
