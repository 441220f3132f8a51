// Presence changes of one channel in this process: coalesced per user, sent at most once per
// interval, each change encoded once per codec and framed once for every subscriber, and written
// in bounded slices so a flood of joins and leaves cannot hold the event loop.
import { WebSocketServer } from '@ieum/websocket';
import type { AdapterEvent } from '../adapter/adapter.js';
import type { Codec } from '../codec/codec.js';
import type { ServerMessage } from '../codec/messages.js';
import type { SharedMessage } from '../transports/transport.js';

export type PresenceEvent = Extract<AdapterEvent, { type: 'join' | 'leave' | 'update' }>;

/** A connection that may receive a channel's presence changes. */
export interface PresenceTarget {
  readonly codec: Codec;
  /** Whether it is subscribed to `channel` with presence (and not closing). */
  wantsPresence(channel: string): boolean;
  sendShared(message: SharedMessage): void;
}

/** Default `presenceFlushIntervalMs`: 100 ms. */
export const DEFAULT_PRESENCE_FLUSH_INTERVAL_MS = 100;

/** Messages written per event-loop turn before the rest of a flush waits for the next turn. */
const SENDS_PER_TURN = 4096;

export class PresenceFanout {
  /**
   * user (join, leave) or user NUL connection (state update) -> its latest change since the last
   * flush (Map order: order of the latest changes). A connection's state updates coalesce to the
   * newest, but never with its user's join or leave: a leave clears the user's states, and a
   * connection gone while its user stays is an update of its own.
   */
  private changes = new Map<string, PresenceEvent>();
  private timer: NodeJS.Timeout | undefined;
  /** A flush still writing in slices. */
  private flushing = false;
  private lastFlush = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly channel: string,
    private readonly intervalMs: number,
    /** The channel's local subscribers now (those without presence are skipped). */
    private readonly targets: () => Iterable<PresenceTarget>,
  ) {}

  /**
   * Records a change. Only a user's latest state is sent: a user who leaves and comes back
   * within one interval is reported once, as present (clients ignore a join of a known member).
   */
  add(event: PresenceEvent): void {
    if (this.stopped) return;
    const key = event.type === 'update' ? `${event.user}\u0000${event.connection}` : event.user;
    this.changes.delete(key);
    this.changes.set(key, event);
    this.schedule();
  }

  /** Drops pending changes and timers (the channel has no local subscriber left). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.changes.clear();
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.changes.size === 0) return;
    // The first change after a quiet interval goes out on the next turn; later ones wait.
    const wait = Math.max(0, this.lastFlush + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    if (this.stopped || this.changes.size === 0) return;
    this.lastFlush = Date.now();
    const events = [...this.changes.values()];
    this.changes = new Map();
    const encoded = new Map<Codec, SharedMessage[]>();
    const messagesFor = (codec: Codec): SharedMessage[] => {
      let list = encoded.get(codec);
      if (!list) {
        list = events.map((e) => {
          const message: ServerMessage =
            e.type === 'update'
              ? {
                  t: 'update',
                  ch: this.channel,
                  user: e.user,
                  conn: e.connection,
                  ...(e.state !== undefined ? { d: e.state } : {}),
                }
              : {
                  t: e.type,
                  ch: this.channel,
                  user: e.user,
                  ...(e.info !== undefined ? { info: e.info } : {}),
                };
          const data = codec.encode(message);
          return { data, prepared: WebSocketServer.prepare(data, { binary: codec.binary }) };
        });
        encoded.set(codec, list);
      }
      return list;
    };
    const targets = [...this.targets()];
    let next = 0;
    const run = () => {
      if (this.stopped) return;
      let sends = 0;
      while (next < targets.length && sends < SENDS_PER_TURN) {
        const target = targets[next++]!;
        if (!target.wantsPresence(this.channel)) continue;
        const list = messagesFor(target.codec);
        for (const m of list) target.sendShared(m);
        sends += list.length;
      }
      if (next < targets.length) {
        setImmediate(run);
        return;
      }
      this.flushing = false;
      this.schedule();
    };
    this.flushing = true;
    run();
  }
}
