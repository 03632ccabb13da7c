/**
 * Host churn with RRDs on (ephemeral VMs: new host names every poll): the writer's state
 * follows the tree, so after the churn stops and a forced collection the heap is back where
 * it started. Runs the churn in a child node with --expose-gc (rrd-churn-child.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHILD = path.join(__dirname, 'rrd-churn-child.js');
const NEW_HOSTS_PER_POLL = 200;
const CHURN_POLLS = 40;
const STABLE_FILES = 20 * 2 + 2; // 20 stable hosts x 2 metrics, and the cluster summary's 2

interface ChurnReport {
  before: { heapUsed: number; files: number; dirs: number; openFds: number };
  during: { files: number; dirs: number }[];
  after: { heapUsed: number; files: number; dirs: number; openFds: number };
  peakFds: number;
  counters: { created: number; errors: number; dropped: number };
  hostsSeen: number;
}

test('host churn: state for hosts that left the tree is released; heap back where it started', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rrd-churn-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const { stdout } = await run(process.execPath, ['--expose-gc', CHILD, root], {
    env: { ...process.env, CHURN_HOSTS: String(NEW_HOSTS_PER_POLL), CHURN_POLLS: String(CHURN_POLLS) },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });
  const report = JSON.parse(stdout) as ChurnReport;

  // Every host name seen got its files (the C gmetad writes them too).
  assert.equal(report.counters.created, report.hostsSeen * 2 + STABLE_FILES);
  assert.equal(report.counters.errors, 0);
  assert.equal(report.counters.dropped, 0);
  // What is tracked is what the last poll listed, never what earlier polls did.
  assert.deepEqual(report.before, { ...report.before, files: STABLE_FILES, dirs: 21 });
  assert.equal(report.during.length, CHURN_POLLS);
  for (const d of report.during) assert.deepEqual(d, { files: STABLE_FILES + NEW_HOSTS_PER_POLL * 2, dirs: 21 + NEW_HOSTS_PER_POLL });
  assert.equal(report.after.files, STABLE_FILES);
  assert.equal(report.after.dirs, 21);
  // The in-process updater keeps descriptors of the files it writes, and closes those of
  // files that left the tree: as many open after the churn as before it.
  assert.ok(report.peakFds >= report.before.openFds + NEW_HOSTS_PER_POLL * 2, `peak ${report.peakFds} descriptors, ${report.before.openFds} before`);
  assert.ok(report.after.openFds <= report.before.openFds, `${report.after.openFds} descriptors open after the churn, ${report.before.openFds} before`);
  // 16,000 files came and went; kept state costs ~300 bytes each, so a leak would show in MBs.
  const grown = report.after.heapUsed - report.before.heapUsed;
  assert.ok(grown < 1024 * 1024, `heap used grew by ${(grown / 1024).toFixed(0)} KiB over ${CHURN_POLLS * NEW_HOSTS_PER_POLL} new hosts`);
});
