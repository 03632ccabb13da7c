import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  processBaseNice, resetThreadPriorityState, restoreBaseNice, setPortThreadNice, type PriorityCalls,
} from '../../src/util/thread-priority';

/** A kernel of nice values per id (0 = the calling thread); `maxRaise` is how low a value the caller may set. */
function fakeKernel(start: number, maxRaise: number | null): PriorityCalls & { nice: Map<number, number>; calls: string[] } {
  const nice = new Map<number, number>([[0, start]]);
  const calls: string[] = [];
  return {
    nice,
    calls,
    getPriority: (pid = 0) => nice.get(pid) ?? start,
    setPriority: (pid, value) => {
      calls.push(`${pid}:${value}`);
      const current = nice.get(pid) ?? start;
      if (value < current && (maxRaise === null || value < maxRaise)) {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      }
      nice.set(pid, value);
    },
  };
}

describe('port thread priority', () => {
  afterEach(resetThreadPriorityState);

  it('root: the port thread goes to the value asked, children get the base value back', async () => {
    const kernel = fakeKernel(0, -20);
    assert.deepEqual(await setPortThreadNice(-10, kernel), { kind: 'set', from: 0, to: -10 });
    assert.equal(kernel.nice.get(0), -10);
    assert.equal(processBaseNice(kernel), 0, 'workers and children keep the process value');
    kernel.nice.set(4242, -10); // a child inherits the port thread's value
    restoreBaseNice(4242, kernel);
    assert.equal(kernel.nice.get(4242), 0);
    restoreBaseNice(undefined, kernel); // a spawn that failed has no pid
    assert.deepEqual(kernel.calls, ['0:-10', '4242:0']);
  });

  it('not permitted: it stays where it was and says how to allow it', async () => {
    const kernel = fakeKernel(0, null);
    const outcome = await setPortThreadNice(-10, kernel);
    assert.equal(outcome.kind, 'refused');
    assert.equal(kernel.nice.get(0), 0);
    if (outcome.kind === 'refused') assert.match(outcome.reason, /root.*LimitNICE/);
    restoreBaseNice(4242, kernel);
    assert.deepEqual(kernel.calls, ['0:-10'], 'nothing to restore in children when nothing was raised');
  });

  it('RLIMIT_NICE lower than asked: refused, not partly applied', async () => {
    const kernel = fakeKernel(0, -5);
    assert.equal((await setPortThreadNice(-10, kernel)).kind, 'refused');
    assert.equal(kernel.nice.get(0), 0);
  });

  it('0 leaves it as started, and it never lowers a priority it started with', async () => {
    const started = fakeKernel(5, -20);
    assert.deepEqual(await setPortThreadNice(0, started), { kind: 'unchanged', nice: 5 });
    resetThreadPriorityState();
    const underNice = fakeKernel(-15, -20);
    assert.deepEqual(await setPortThreadNice(-10, underNice), { kind: 'unchanged', nice: -15 });
    assert.deepEqual(underNice.calls, []);
    resetThreadPriorityState();
    const niced = fakeKernel(5, -20);
    assert.deepEqual(await setPortThreadNice(-10, niced), { kind: 'set', from: 5, to: -10 });
    assert.equal(processBaseNice(niced), 5);
  });
});
