// The 60 Hz loop on a fake clock: ticks are due at start + n × period whatever the timers do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FixedTimestepLoop, type TickInfo } from '../src/fixed-timestep-loop.js';

function fakeTimers() {
  let now = 0;
  let pending: { fn: () => void; at: number } | undefined;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      pending = { fn, at: now + ms };
      return pending;
    },
    clearTimer: () => {
      pending = undefined;
    },
    /** Fires the pending timer `lateMs` after it was due. */
    fire(lateMs = 0) {
      const p = pending!;
      pending = undefined;
      now = Math.max(now, p.at + lateMs);
      p.fn();
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('fixed-timestep loop', { timeout: 60_000 }, () => {
  it('does not drift when every timer fires late', () => {
    const t = fakeTimers();
    const ticks: TickInfo[] = [];
    const loop = new FixedTimestepLoop({ hz: 60, onTick: (i) => ticks.push(i), ...t });
    loop.start();
    for (let i = 0; i < 600; i++) t.fire(1.3);
    // 600 wake-ups, each 1.3 ms late, take about 10 s: about 600 ticks, not 600 × (period + 1.3 ms).
    const elapsed = t.now();
    assert.equal(loop.tick, Math.floor(elapsed / (1000 / 60)) + 1);
    assert.ok(ticks.every((x) => x.lateMs >= 0 && x.lateMs < 1000 / 60 + 1.3));
    assert.deepEqual(
      ticks.slice(0, 3).map((x) => x.tick),
      [0, 1, 2],
    );
  });

  it('runs the ticks a stall missed back to back, up to maxCatchUpTicks, then skips', () => {
    const t = fakeTimers();
    let n = 0;
    const loop = new FixedTimestepLoop({ hz: 60, onTick: () => n++, maxCatchUpTicks: 5, ...t });
    loop.start();
    t.fire(); // tick 0
    t.advance(50); // three periods late
    t.fire();
    assert.equal(n, 4, 'ticks 1..4 ran at once');
    t.advance(1000); // a second-long stall
    t.fire();
    assert.equal(n, 9, 'five caught up');
    assert.ok(loop.skipped >= 50, `the rest skipped (${loop.skipped})`);
    loop.stop();
  });
});
