// Entity interpolation: other players are drawn where they were a little in the past, between
// the two snapshots around that moment, so they move smoothly although snapshots arrive 20 times
// a second and not at even intervals.
import { type EntityMap, type EntityState, Kind } from './snapshot-codec.js';

/** Ticks of snapshots kept (one second at 60 Hz). */
const KEEP_TICKS = 60;

export interface Placed {
  id: number;
  x: number;
  y: number;
  entity: EntityState;
}

export class Interpolator {
  private frames: Array<{ tick: number; entities: EntityMap }> = [];

  push(tick: number, entities: EntityMap): void {
    const last = this.frames[this.frames.length - 1];
    if (last && tick <= last.tick) return;
    this.frames.push({ tick, entities });
    while (this.frames.length > 2 && this.frames[0]!.tick < tick - KEEP_TICKS) this.frames.shift();
  }

  /** Newest tick received, 0 before any. */
  get newestTick(): number {
    return this.frames[this.frames.length - 1]?.tick ?? 0;
  }

  /**
   * Every entity of the snapshots around `tick`, placed between them. Before the oldest or after
   * the newest snapshot, entities stay where that snapshot has them (no extrapolation).
   */
  sample(tick: number): Placed[] {
    const frames = this.frames;
    if (frames.length === 0) return [];
    let i = frames.length - 1;
    while (i > 0 && frames[i]!.tick > tick) i--;
    const a = frames[i]!;
    const b = frames[Math.min(i + 1, frames.length - 1)]!;
    const t = b.tick === a.tick ? 0 : Math.min(1, Math.max(0, (tick - a.tick) / (b.tick - a.tick)));
    const out: Placed[] = [];
    // The later frame decides who is there: a newcomer appears, a leaver is gone.
    const target = tick >= b.tick ? b : t > 0 ? b : a;
    for (const [id, e] of target.entities) {
      // Orbs jump when collected: never drawn flying between two spots.
      const from = e.kind === Kind.orb ? e : (a.entities.get(id) ?? e);
      const to = b.entities.get(id) ?? e;
      out.push({ id, x: from.x + (to.x - from.x) * t, y: from.y + (to.y - from.y) * t, entity: to });
    }
    return out;
  }

  reset(): void {
    this.frames = [];
  }
}
