// Client-side prediction with server reconciliation. The client applies each of its inputs at
// once (no round trip before the player moves) and keeps the ones the server has not applied yet.
// A snapshot carries the server's state of the player after input `ackSeq`: the client takes it,
// drops the inputs up to `ackSeq`, and applies the rest again. With the same deterministic `step`
// on both sides the result is where the prediction already was, unless the server disagreed
// (inputs it dropped, a restart): then the player is corrected, smoothly on screen.
import { type Arena, type Body, step } from './movement.js';

export class Predictor {
  /** The predicted state after the newest input; undefined until the first snapshot. */
  body: Body | undefined;
  /** The state one step earlier (to draw between steps). */
  previous: Body | undefined;
  private seqs: number[] = [];
  private buttons: number[] = [];
  /** Last sequence number given out. */
  lastSeq = 0;

  constructor(private readonly arena: Arena) {}

  /** Inputs applied locally and not yet acknowledged. */
  get pending(): number {
    return this.seqs.length;
  }

  /** Applies `buttons` as the next input and returns its sequence number. */
  apply(buttons: number): number {
    const seq = ++this.lastSeq;
    if (this.body) {
      this.previous = { ...this.body };
      step(this.body, buttons, this.arena);
      this.seqs.push(seq);
      this.buttons.push(buttons);
    }
    return seq;
  }

  /**
   * Takes the server's state `server` after input `ackSeq` and replays the inputs after it.
   * Returns how far (world units) the prediction was off: 0 when the server agreed.
   */
  reconcile(ackSeq: number, server: Body): number {
    let drop = 0;
    while (drop < this.seqs.length && this.seqs[drop]! <= ackSeq) drop++;
    this.seqs.splice(0, drop);
    this.buttons.splice(0, drop);
    const before = this.body;
    const body = { x: server.x, y: server.y, vx: server.vx, vy: server.vy };
    for (const b of this.buttons) step(body, b, this.arena);
    this.body = body;
    if (!before) {
      this.previous = { ...body };
      return 0;
    }
    const error = Math.hypot(before.x - body.x, before.y - body.y);
    if (error > 0) {
      // Keep the drawn position continuous: shift the previous state by the same correction.
      const prev = this.previous ?? before;
      this.previous = { ...prev, x: prev.x - before.x + body.x, y: prev.y - before.y + body.y };
    }
    return error;
  }

  /** Forgets everything (a new connection is a new player). */
  reset(): void {
    this.body = undefined;
    this.previous = undefined;
    this.seqs = [];
    this.buttons = [];
  }
}
