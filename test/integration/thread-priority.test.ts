/**
 * The port thread's nice value in a running daemon (util/thread-priority): the main thread
 * takes port_thread_nice (-10 by default) when it may; the parse workers, libuv's and V8's
 * threads and the rrdtool children keep the process's value.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { startOurGmetad } from '../helpers/our-gmetad';
import { registryFor } from '../helpers/processes';
import { MIXED_CLUSTER, startLiveFakeGmond, waitForFiles } from './rrd-e2e-fixtures';

interface TaskPriority {
  readonly id: number;
  readonly name: string;
  readonly nice: number;
}

/** /proc/PID/task/TID/stat: field 19 is the nice value (counted after the parenthesised name). */
function niceOf(statPath: string): number {
  const stat = fs.readFileSync(statPath, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function threadsOf(pid: number): TaskPriority[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => ({
    id: Number(tid),
    name: fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim(),
    nice: niceOf(`/proc/${pid}/task/${tid}/stat`),
  }));
}

function childrenOf(pid: number): TaskPriority[] {
  const children: TaskPriority[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid) continue;
      children.push({ id: Number(entry), name: fs.readFileSync(`/proc/${entry}/comm`, 'latin1').trim(), nice: Number(fields[16]) });
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

describe('port thread priority in the running daemon', () => {
  it('the main thread alone is raised; workers, pool threads and rrdtool keep the base value', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const fake = await startLiveFakeGmond([MIXED_CLUSTER]);
      t.after(() => fake.close());
      const root = registry.tempDir('thread-priority-rrds');
      const gmetad = await startOurGmetad(registry, {
        gridname: 'PriorityGrid',
        dataSources: [{ name: 'fake-ds', step: 1, addresses: [fake.address] }],
        rrdRootdir: root,
        writeRrds: true,
        // Through `rrdtool -` children, which the port thread spawns (native writes need none).
        extra: ['rrd {', '  write_behind 0', '  native_updates off', '  native_creates off', '}'],
        expectNames: ['MixedCluster'],
      });
      // Files written: the parse worker has parsed and rrdtool has been spawned.
      await waitForFiles(root, ['MixedCluster/FakeHost2/anchor_temp.rrd'], gmetad.process);

      const pid = gmetad.pid;
      const base = os.getPriority(0); // the test runner's; the daemon inherits it
      const root_ = process.getuid?.() === 0;
      const threads = threadsOf(pid);
      const main = threads.find((th) => th.id === pid)!;
      assert.equal(main.nice, root_ ? Math.min(-10, base) : base, `port thread: ${JSON.stringify(main)}`);

      const others = threads.filter((th) => th.id !== pid);
      assert.ok(others.some((th) => th.name === 'gmetad-parse'), `a parse worker runs: ${JSON.stringify(others)}`);
      assert.ok(others.length >= 5, `V8's and libuv's threads are there too: ${JSON.stringify(others)}`);
      for (const th of others) assert.equal(th.nice, base, `thread ${JSON.stringify(th)}`);

      const rrdtool = childrenOf(pid).filter((c) => c.name === 'rrdtool' || c.name === 'sh');
      assert.ok(rrdtool.length >= 1, `rrdtool children: ${JSON.stringify(childrenOf(pid))}`);
      for (const child of rrdtool) assert.equal(child.nice, base, `child ${JSON.stringify(child)}`);
    });
  });
});
