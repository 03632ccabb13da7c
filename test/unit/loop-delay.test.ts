/** The on-demand event-loop sampler (util/loop-delay), on a fake clock and fake timers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUSY_FRACTION, LoopDelaySampler, TAIL_MS } from '../../src/util/loop-delay';

function fakeLoop() {
  let nowMs = 1_000;
  let pending: { run: () => void; at: number } | null = null;
  let busy = 0;
  const sampler = new LoopDelaySampler(10, {
    now: () => nowMs,
    schedule: (run, delayMs) => {
      assert.equal(pending, null, 'one timer at a time');
      const timer = { run, at: nowMs + delayMs };
      pending = timer;
      return { cancel: () => { if (pending === timer) pending = null; } };
    },
    utilization: () => busy,
  });
  return {
    sampler,
    /** Lets `ms` pass; the timer runs `lateMs` after its due time (the loop was held). */
    advance(ms: number, lateMs = 0): void {
      const end = nowMs + ms;
      while (pending !== null && pending.at + lateMs <= end) {
        const timer: { run: () => void; at: number } = pending;
        nowMs = timer.at + lateMs;
        pending = null;
        timer.run();
        lateMs = 0;
      }
      nowMs = end;
    },
    setBusy(fraction: number): void { busy = fraction; },
    get armed(): boolean { return pending !== null; },
  };
}

test('samples only once woken and enabled; a tick held by the loop is recorded as late by that much', () => {
  const loop = fakeLoop();
  loop.sampler.wake();
  assert.equal(loop.armed, false, 'nothing before enable()');
  loop.sampler.enable();
  assert.equal(loop.sampler.sampling, true);
  loop.advance(100, 37); // the first tick runs 37 ms late, the rest on time
  assert.ok(loop.sampler.histogram.count >= 6, `${loop.sampler.histogram.count} ticks`);
  assert.equal(Math.round(loop.sampler.histogram.max / 1e6), 37);
});

test('an idle loop stops sampling after the tail; the pause is not recorded as a delay; a busy one goes on', () => {
  const loop = fakeLoop();
  loop.sampler.enable();
  loop.setBusy(BUSY_FRACTION / 2);
  loop.advance(TAIL_MS + 50);
  assert.equal(loop.sampler.sampling, false, 'idle: stopped');
  const ticks = loop.sampler.histogram.count;
  loop.advance(60_000); // a minute with nothing to do: no timer, no samples
  assert.equal(loop.sampler.histogram.count, ticks);
  loop.setBusy(0.5);
  loop.sampler.wake();
  loop.advance(5 * TAIL_MS);
  assert.equal(loop.sampler.sampling, true, 'busy: still sampling');
  assert.ok(loop.sampler.histogram.max < 1e6, `max ${loop.sampler.histogram.max} ns: the minute's pause is not a delay`);
  loop.sampler.disable();
  assert.equal(loop.armed, false);
});
