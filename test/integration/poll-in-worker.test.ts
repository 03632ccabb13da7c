/**
 * Where a poll's socket lives: the daemon's port thread schedules polls but reads no polled
 * socket; the source's parse worker does (docs/architecture.md, "A poll's data flow").
 * The daemon runs in this process, so this thread's active handles are the port thread's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { GmetadDaemon } from '../../src/daemon/gmetad';
import { SILENT_LOGGER } from '../../src/util/logging';
import { DaemonStats } from '../../src/util/stats';
import { startFakeGmond } from '../helpers/fake-gmond';
import { waitFor } from '../helpers/processes';

const HEAD = '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">\n'
  + '<CLUSTER NAME="c" LOCALTIME="1795255600" OWNER="o" LATLONG="l" URL="u">\n';

function tcpSocketsOnThisThread(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
}

test('a poll in flight holds its socket in the parse worker, none on the port thread; the deadline still ends it', async (t) => {
  const gmond = await startFakeGmond({ kind: 'hang', body: `${HEAD}${'<!-- padding -->'.repeat(100)}`, afterBytes: 200 });
  t.after(() => gmond.close());
  const { config } = parseConfig([
    `data_source "hung" 15 127.0.0.1:${gmond.port}`,
    'limits {', '  max_poll_seconds "hung" 3', '}',
    'gridname "G"', 'setuid off', 'write_rrds off', 'port_thread_nice 0', '',
  ].join('\n'), path.join(os.tmpdir(), 'gmetad.conf'));
  const stats = new DaemonStats();
  const daemon = new GmetadDaemon(config, SILENT_LOGGER, stats, { xmlPort: 0, interactivePort: 0 });
  const before = tcpSocketsOnThisThread();
  await daemon.start();
  t.after(() => daemon.stop());

  // Connected and sent its first bytes: the poll is reading.
  await waitFor(() => gmond.active === 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(tcpSocketsOnThisThread() - before, 1, "only the fake gmond's end of the connection is on this thread");
  // max_poll_seconds, owned by the port thread, ends the read in the worker.
  await waitFor(() => stats.polls.failed.num === 1, { timeoutMs: 10_000, description: 'the poll to fail at its deadline' });
  await waitFor(() => gmond.active === 0, { description: 'the worker to close its socket' });
  assert.match(daemon.store.view().sources.find((s) => s.config.name === 'hung')?.lastError ?? '', /max_poll_seconds exceeded/);
});
