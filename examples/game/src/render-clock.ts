// Where the server's tick is now, estimated from snapshot arrivals, so that other players can be
// drawn a fixed delay in the past, between two snapshots (entity interpolation).
import { TICK_HZ } from './movement.js';

export class RenderClock {
  /** Server tick minus local milliseconds × ticks per millisecond; undefined before a snapshot. */
  private offset: number | undefined;

  /** Records that snapshot `tick` arrived at `nowMs` (local, monotonic). */
  observe(tick: number, nowMs: number): void {
    const offset = tick - (nowMs * TICK_HZ) / 1000;
    // Jumps (a restart, a long stall) are taken at once; arrival jitter is smoothed.
    if (this.offset === undefined || Math.abs(offset - this.offset) > 30) this.offset = offset;
    else this.offset += (offset - this.offset) * 0.05;
  }

  /** The estimated server tick at `nowMs` (fractional), or undefined before any snapshot. */
  serverTick(nowMs: number): number | undefined {
    return this.offset === undefined ? undefined : this.offset + (nowMs * TICK_HZ) / 1000;
  }

  reset(): void {
    this.offset = undefined;
  }
}
