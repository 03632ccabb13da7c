/**
 * Cold start: the root summary RRDs (<rrd_rootdir>/__SummaryInfo__) hold the first poll's
 * values as soon as every source has answered its first poll or failed it, as the cluster
 * summaries do, instead of a root step after start. The daemon runs in-process with a
 * pinned clock (the summaries' timestamp), a fake gmond that answers and a source that
 * refuses connections; the real writer makes the files and rrdtool reads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { GmetadDaemon } from '../../src/daemon/gmetad';
import { BUILTIN_PLUGINS } from '../../src/plugins/builtins';
import { SILENT_LOGGER } from '../../src/util/logging';
import { DaemonStats } from '../../src/util/stats';
import { startFakeGmond } from '../helpers/fake-gmond';
import { freePort } from '../helpers/net';
import { renderGmondXml, type FakeCluster } from './rrd-e2e-fixtures';
import { rrdInfo } from './rrd-fixtures';

/** The pinned wall clock: the LOCALTIME the fake gmond reports, plus a quarter second. */
const T = 1_800_000_000;

const CLUSTER: FakeCluster = {
  name: 'Alpha',
  hosts: [
    { name: 'a1', metrics: [{ name: 'load_one', val: '1.5', type: 'float', slope: 'both' }] },
    { name: 'a2', metrics: [{ name: 'load_one', val: '2.5', type: 'float', slope: 'both' }] },
  ],
};

test('root summary RRDs hold the first poll once every source has answered or failed (not a step later)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rrd-root-summary-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const gmond = await startFakeGmond({ kind: 'serve', body: renderGmondXml([CLUSTER], T) });
  t.after(() => gmond.close());
  const refusing = await freePort(); // nothing listens there: its first poll fails
  const { config } = parseConfig([
    `data_source "up" 15 127.0.0.1:${gmond.port}`,
    `data_source "down" 15 127.0.0.1:${refusing}`,
    'gridname "Root"', 'setuid off', `rrd_rootdir "${root}"`, '',
  ].join('\n'), path.join(root, 'gmetad.conf'));

  const daemon = new GmetadDaemon(config, SILENT_LOGGER, new DaemonStats(), { xmlPort: 0, interactivePort: 0 }, BUILTIN_PLUGINS, () => T * 1000 + 250);
  const firstPolls = new Promise<void>((resolve) => {
    let up = false;
    let down = false;
    const check = () => { if (up && down) resolve(); };
    daemon.store.onUpdate(({ snapshot }) => { if (snapshot.source === 'up') up = true; check(); });
    daemon.store.onSourceStatus(({ source, up: isUp }) => { if (source === 'down' && !isUp) down = true; check(); });
  });
  await daemon.start();
  t.after(() => daemon.stop());
  await firstPolls;
  await daemon.flushPlugins();

  const rootFile = path.join(root, '__SummaryInfo__', 'load_one.rrd');
  assert.ok(fs.existsSync(rootFile), 'the root summary file exists right after the first polls');
  const info = await rrdInfo(rootFile);
  assert.equal(info.get('last_update'), String(T));
  assert.equal(Number(info.get('ds[sum].last_ds')), 4);
  assert.equal(Number(info.get('ds[num].last_ds')), 2);
  // The cluster's summary of the same poll, for comparison.
  const clusterInfo = await rrdInfo(path.join(root, 'Alpha', '__SummaryInfo__', 'load_one.rrd'));
  assert.equal(Number(clusterInfo.get('ds[sum].last_ds')), 4);
});
