// Publishes waiting for the server's acknowledgement. They are sent again, with the same message
// id, after every reconnect until acknowledged: the server deduplicates by that id.
import type { PublishAck } from './channel.js';

/** A publish as stored: what is sent again after a reconnect (or a reload). */
export interface StoredPublish {
  ch: string;
  ev: string;
  d: unknown;
  /** Message id, unique per client id: the server publishes each id once. */
  mid: string;
  key?: string;
}

/** A publish waiting for its acknowledgement. */
export interface PendingPublish extends StoredPublish {
  resolve?: (ack: PublishAck) => void;
  reject?: (error: Error) => void;
  /** Request id while in flight on the current connection. */
  id?: number;
}

/** The unacknowledged publishes, oldest first. */
export class Outbox {
  private readonly items: PendingPublish[] = [];

  get size(): number {
    return this.items.length;
  }

  add(p: PendingPublish): void {
    this.items.push(p);
  }

  /** Acknowledged (or refused): no longer retried. */
  remove(p: PendingPublish): void {
    const i = this.items.indexOf(p);
    if (i >= 0) this.items.splice(i, 1);
  }

  /** Removes and returns every publish. */
  takeAll(): PendingPublish[] {
    return this.items.splice(0);
  }

  [Symbol.iterator](): Iterator<PendingPublish> {
    return this.items[Symbol.iterator]();
  }

  /** What to store: the publishes without their promises. */
  stored(): StoredPublish[] {
    return this.items.map(({ ch, ev, d, mid, key }) => ({
      ch,
      ev,
      d,
      mid,
      ...(key !== undefined ? { key } : {}),
    }));
  }
}
