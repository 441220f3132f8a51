// The client half of client/server operational transformation (the protocol of Jupiter, Google
// Wave, ot.js and ShareDB), sans I/O: the caller feeds it local edits and committed operations and
// sends what `next()` and `retry()` return. At most one operation is in flight (awaiting its
// commit); edits made meanwhile are composed into one buffered operation. Every committed operation
// from others is transformed against the in-flight and buffered ones before it is applied, exactly
// as the server transformed the in-flight one against it, so both sides end with the same text.
import { type TextOp, type as text } from 'ot-text-unicode';
import type { CommittedOp, Selection, Snapshot } from './protocol.js';

/** An operation to submit: made against `base`, the client's `seq`-th. */
export interface Outgoing {
  base: number;
  op: TextOp;
  seq: number;
  sel?: Selection;
}

/** What a committed operation did to the local text. */
export interface Applied {
  committed: CommittedOp;
  /** Ours: the commit of the in-flight operation (the local text does not change). */
  own: boolean;
  /** The operation applied to the local text (transformed past the local pending ones). */
  op: TextOp;
}

/** What a client must keep to survive a page reload with its uncommitted edits (JSON-safe). */
export interface OtClientState {
  id: string;
  /** The server's version and text the pending operations are based on. */
  v: number;
  server: string;
  inflight: { op: TextOp; seq: number } | null;
  buffer: TextOp | null;
  seq: number;
}

/** How many committed operations a client keeps to place cursors sent at older versions. */
export const RECENT_OPS = 256;

export class OtClient {
  /** The local text: the server's version plus the in-flight and buffered operations. */
  text: string;
  /** The last server version applied. */
  version: number;
  /** The server's text at `version` (what the pending operations apply to). */
  private server: string;
  private inflight: { op: TextOp; seq: number } | null = null;
  private buffer: TextOp | null = null;
  private seq = 0;
  /** Committed operations that arrived before the ones preceding them. */
  private readonly early = new Map<number, CommittedOp>();
  private readonly recent: CommittedOp[] = [];

  constructor(
    /** Unique per client (page load), stable across its reconnects. */
    readonly id: string,
    snapshot: Snapshot,
  ) {
    this.text = snapshot.text;
    this.version = snapshot.v;
    this.server = snapshot.text;
  }

  /** A client with the pending edits of a saved state (after a reload); catch it up, then retry. */
  static restore(state: OtClientState): OtClient {
    const c = new OtClient(state.id, { v: state.v, text: state.server });
    c.inflight = state.inflight;
    c.buffer = state.buffer;
    c.seq = state.seq;
    if (state.inflight) c.text = text.apply(c.text, state.inflight.op);
    if (state.buffer) c.text = text.apply(c.text, state.buffer);
    return c;
  }

  /** The state to save so that `restore` can resume the pending edits. */
  save(): OtClientState {
    return {
      id: this.id,
      v: this.version,
      server: this.server,
      inflight: this.inflight,
      buffer: this.buffer,
      seq: this.seq,
    };
  }

  /** Whether local edits are still waiting to be committed. */
  get pending(): boolean {
    return this.inflight !== null || this.buffer !== null;
  }

  /** The version after which operations are missing (some later ones arrived), or null. */
  get gap(): number | null {
    return this.early.size > 0 ? this.version : null;
  }

  /** Applies a local edit to the text and queues it for submission. Throws if `op` does not fit. */
  edit(op: TextOp): void {
    if (op.length === 0) return;
    this.text = text.apply(this.text, op);
    this.buffer = this.buffer ? text.compose(this.buffer, op) : op;
  }

  /** The buffered edits to submit now, unless an operation is already in flight. */
  next(sel?: Selection): Outgoing | null {
    if (this.inflight || !this.buffer) return null;
    this.inflight = { op: this.buffer, seq: ++this.seq };
    this.buffer = null;
    return { base: this.version, op: this.inflight.op, seq: this.inflight.seq, ...(sel ? { sel } : {}) };
  }

  /**
   * The in-flight operation again (after a reconnect or a lost reply), transformed to the current
   * version and with the same `seq`, so the server commits it once whether or not it had it.
   */
  retry(): Outgoing | null {
    if (!this.inflight) return null;
    return { base: this.version, op: this.inflight.op, seq: this.inflight.seq };
  }

  /**
   * Takes a committed operation, in any order and any number of times: each version is applied
   * once, in order (later ones wait in `early` until the gap is filled). Returns what was applied.
   */
  receive(committed: CommittedOp): Applied[] {
    if (committed.v <= this.version || this.early.has(committed.v)) return [];
    this.early.set(committed.v, committed);
    const applied: Applied[] = [];
    for (let c = this.early.get(this.version + 1); c; c = this.early.get(this.version + 1)) {
      this.early.delete(c.v);
      if (c.src === this.id && this.inflight && c.seq === this.inflight.seq) {
        // Versions arrive in order and one operation is in flight: this is its commit. (One of
        // ours that is not in flight was dropped by `reset`: it is applied as anyone else's.)
        this.inflight = null;
        applied.push({ committed: c, own: true, op: [] });
      } else {
        // The server put c before our pending operations: they move past it ('left': the server
        // transformed our in-flight one with the same side), and c moves past them.
        let op = c.op;
        if (this.inflight) {
          const moved = text.transform(this.inflight.op, op, 'left');
          op = text.transform(op, this.inflight.op, 'right');
          this.inflight.op = moved;
        }
        if (this.buffer) {
          const moved = text.transform(this.buffer, op, 'left');
          op = text.transform(op, this.buffer, 'right');
          this.buffer = moved;
        }
        this.text = text.apply(this.text, op);
        applied.push({ committed: c, own: false, op });
      }
      this.server = text.apply(this.server, c.op);
      this.version = c.v;
      this.recent.push(c);
      if (this.recent.length > RECENT_OPS) this.recent.shift();
    }
    return applied;
  }

  /**
   * A selection made at server version `v`, placed in the local text: moved past the committed
   * operations since `v`, then past the local pending ones. `null` when it cannot be placed yet
   * (`v` is ahead: retry after more operations arrive) or any more (`v` is too old).
   */
  toLocal(sel: Selection, v: number): Selection | null {
    if (v > this.version) return null;
    const since = this.recent.filter((c) => c.v > v);
    if (since.length !== this.version - v) return null;
    let [a, b] = sel;
    const ops = since.map((c) => c.op);
    if (this.inflight) ops.push(this.inflight.op);
    if (this.buffer) ops.push(this.buffer);
    for (const op of ops) {
      a = text.transformPosition(a, op);
      b = text.transformPosition(b, op);
    }
    return [a, b];
  }

  /**
   * Starts over from a snapshot (when the server no longer has the operations needed to catch up).
   * Returns the local text that was not committed, if any, so it can be offered to the user.
   */
  reset(snapshot: Snapshot): string | null {
    const lost = this.pending ? this.text : null;
    this.text = snapshot.text;
    this.version = snapshot.v;
    this.server = snapshot.text;
    this.inflight = null;
    this.buffer = null;
    this.early.clear();
    this.recent.length = 0;
    return lost;
  }
}
