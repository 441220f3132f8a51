/**
 * Bounds on concurrent zlib work for permessage-deflate (`deflate.ts`): a process-wide FIFO
 * limiter, and per-connection lanes that run one direction's operations one at a time.
 */
import type { WebSocketError } from '../protocol/errors.js';

type Job = (release: () => void) => void;

/**
 * Runs at most `limit` jobs at once, first in, first out. zlib's asynchronous work runs on
 * libuv's small thread pool; many concurrent operations fragment memory badly (Node issue
 * #8871, ws issue #1202), so every connection shares one limiter per configured limit.
 */
export class Limiter {
  private active = 0;
  private readonly queue: Job[] = [];
  private head = 0;
  private draining = false;

  constructor(private readonly limit: number) {}

  run(job: Job): void {
    this.queue.push(job);
    this.drain();
  }

  private drain(): void {
    // A job may release synchronously; the flag keeps that from recursing.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.active < this.limit && this.head < this.queue.length) {
        const job = this.queue[this.head] as Job;
        this.queue[this.head++] = undefined as unknown as Job;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        this.active++;
        let released = false;
        job(() => {
          if (released) return;
          released = true;
          this.active--;
          this.drain();
        });
      }
    } finally {
      this.draining = false;
    }
  }
}

const limiters = new Map<number, Limiter>();

/** The process-wide limiter for `limit` concurrent operations, shared by every caller asking for it. */
export function limiterFor(limit: number): Limiter {
  let limiter = limiters.get(limit);
  if (!limiter) {
    limiter = new Limiter(limit);
    limiters.set(limit, limiter);
  }
  return limiter;
}

// ---- per-connection compressor ----------------------------------------------------------------

/** One zlib operation as a lane runs it. */
export interface Op {
  settled: boolean;
  /** Runs the operation; calls `done` exactly once (enforced by `settle`). */
  run(done: () => void): void;
  fail(error: WebSocketError): void;
}

/** One direction's operations, run one at a time, in call order, each through the limiter. */
export class Lane {
  private readonly ops: Op[] = [];
  private running = false;
  /** Ends the operation holding a limiter slot; idempotent. */
  private finishCurrent: (() => void) | undefined;

  constructor(private readonly limiter: Limiter) {}

  /** No operation running or waiting. */
  get idle(): boolean {
    return !this.running && this.ops.length === 0;
  }

  /**
   * Every operation pushed has called back: none waiting, and the one running, if any, is in or
   * past its callback (its zlib work is over). Work done synchronously now keeps call order.
   */
  get settled(): boolean {
    const ops = this.ops;
    return ops.length === 0 || (ops.length === 1 && (ops[0] as Op).settled);
  }

  push(op: Op): void {
    this.ops.push(op);
    if (!this.running) this.next();
  }

  /**
   * Settles every operation not yet settled with `error`, in order, and gives back the limiter
   * slot of the one running: its zlib callback may never come once the stream is closed, and a
   * slot held forever would stall every connection sharing the limiter.
   */
  failAll(error: WebSocketError): void {
    for (const op of this.ops.splice(0)) if (!op.settled) op.fail(error);
    this.finishCurrent?.();
  }

  private next(): void {
    const op = this.ops[0];
    if (!op) {
      this.running = false;
      return;
    }
    this.running = true;
    this.limiter.run((release) => {
      let finished = false;
      const finish = () => {
        // An operation may end twice (an error, then zlib's flush callback): count it once.
        if (finished) return;
        finished = true;
        if (this.finishCurrent === finish) this.finishCurrent = undefined;
        release();
        if (this.ops[0] === op) this.ops.shift();
        this.next();
      };
      if (op.settled) {
        finish();
        return;
      }
      this.finishCurrent = finish;
      op.run(finish);
    });
  }
}
