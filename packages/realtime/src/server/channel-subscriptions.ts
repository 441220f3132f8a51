// The channel subscriptions of one session, with recovery: a subscription starts from the
// client's position (history replayed in slices, as fast as the client reads, live messages held
// behind it) or from now, then follows the hub's live messages offset by offset. A new epoch or a
// skipped offset closes the session (1012): only a resubscription can tell its client (`reset`).
import type { Adapter, ChannelEntry } from '../adapter/adapter.js';
import type { Codec } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import type { ServerMessage, SubscribeResult } from '../codec/messages.js';
import { byteLength, type OutboundLimits, type OutboundQueue } from '../transports/outbound-queue.js';
import type { Outgoing } from '../transports/transport.js';
import type { LiveBatch, LiveMessage } from './hub.js';
import type { ReportError, SessionHub } from './session-deps.js';

interface Subscription {
  epoch: string;
  /** Last offset delivered; messages at or below it are not sent again. */
  offset: number;
  /** Live messages that arrived while history was being read or replayed; `undefined` once live. */
  pending: Array<{ epoch: string; entry: ChannelEntry }> | undefined;
  /**
   * More live messages arrived during the replay than the outbound queue may hold: they were
   * dropped, and the replay reads them from history again once it has caught up.
   */
  missed: boolean;
  presence: boolean;
}

/** Messages a history replay writes per event-loop turn (fewer once `highWaterBytes` are written). */
const REPLAY_SLICE_MESSAGES = 100;

/** Milliseconds a replay waiting for a backed-up socket checks again even without a write completing. */
const REPLAY_RECHECK_MS = 100;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The session whose subscriptions these are, as they see it. */
export interface Subscriber {
  readonly id: string;
  readonly codec: Codec;
  readonly user: string | undefined;
  readonly info: unknown;
}

/** What the subscriptions need from their session besides its identity. */
export interface SubscriberHost {
  /** Whether the session is closing (nothing more is sent or acted on). */
  closing(): boolean;
  /** The client id of its hello (its own messages carry their message id back). */
  clientId(): string;
  fail(code: number, reason: string): void;
  reply(id: number, data: unknown): void;
  /** Sends through the session's outbound queue (`key`: for the `latest` policy). */
  send(data: Outgoing, key: string | undefined): void;
  /** Sends live messages as they are (`shared` in the session's codec, with their queue keys). */
  sendLive(messages: readonly LiveMessage[]): void;
  /** A subscription resumed from the client's position: `recovered`, or not (a `reset`). */
  resumed(recovered: boolean): void;
}

export class ChannelSubscriptions<S extends Subscriber> {
  private readonly map = new Map<string, Subscription>();

  constructor(
    private readonly session: S,
    private readonly host: SubscriberHost,
    private readonly adapter: Adapter,
    private readonly hub: SessionHub<S>,
    private readonly queue: OutboundQueue,
    private readonly outbound: OutboundLimits,
    private readonly reportError: ReportError,
  ) {}

  has(channel: string): boolean {
    return this.map.has(channel);
  }

  get size(): number {
    return this.map.size;
  }

  channels(): string[] {
    return [...this.map.keys()];
  }

  /**
   * Subscribes to `channel` (again: the old subscription ends first), from `since` (recovery) or
   * from now; with `replyId`, replies with the `SubscribeResult` before replaying. False if the
   * subscription ended (or the session closed) meanwhile. Throws what the adapter throws.
   */
  async subscribe(
    channel: string,
    since: { ep: string; off: number } | undefined,
    presence: boolean,
    replyId?: number,
  ): Promise<boolean> {
    if (this.host.closing()) return false;
    if (this.map.has(channel)) await this.unsubscribe(channel);
    const sub: Subscription = { epoch: '', offset: 0, pending: [], missed: false, presence };
    this.map.set(channel, sub);
    const adapter = this.adapter;
    await this.hub.attach(channel, this.session);
    const result: SubscribeResult = { ep: '', off: 0 };
    let backlog: ChannelEntry[] = [];
    if (since) {
      const h = await adapter.history(channel, { epoch: since.ep, offset: since.off });
      result.ep = h.position.epoch;
      result.off = h.position.offset;
      result.recovered = h.ok;
      this.host.resumed(h.ok);
      if (h.ok) {
        backlog = h.entries;
        sub.offset = since.off;
      } else {
        result.reason = h.reason;
        sub.offset = h.position.offset;
      }
    } else {
      const p = await adapter.position(channel);
      result.ep = p.epoch;
      result.off = p.offset;
      sub.offset = p.offset;
    }
    sub.epoch = result.ep;
    if (!this.isCurrent(channel, sub)) return false;
    if (this.session.user !== undefined)
      await adapter.presenceJoin(channel, this.session.user, this.session.id, this.session.info);
    if (presence) result.members = await adapter.presenceList(channel);
    if (!this.isCurrent(channel, sub)) return false;
    if (replyId !== undefined) this.host.reply(replyId, result);
    // Not awaited: the client's next messages (an unsub that cancels it, say) go on meanwhile.
    void this.replay(
      channel,
      sub,
      backlog.map((entry) => ({ epoch: sub.epoch, entry })),
    );
    return true;
  }

  /** Whether `sub` is still the session's subscription to `channel` and the connection is open. */
  private isCurrent(channel: string, sub: Subscription): boolean {
    return !this.host.closing() && this.map.get(channel) === sub;
  }

  /**
   * Sends `backlog`, then the live messages that arrived meanwhile, then goes live. In slices of
   * at most `REPLAY_SLICE_MESSAGES` messages or `highWaterBytes` per event-loop turn, only while
   * the socket keeps up (it waits for writes to complete, never filling the outbound queue), and
   * it stops as soon as the subscription ends or the connection is closing. Each stored message
   * is encoded once per codec for the whole server (`replayCacheBytes`).
   */
  private async replay(
    channel: string,
    sub: Subscription,
    backlog: Array<{ epoch: string; entry: ChannelEntry }>,
  ): Promise<void> {
    const highWater = this.outbound.highWaterBytes;
    let items = backlog;
    try {
      for (;;) {
        let i = 0;
        while (i < items.length) {
          if (!this.isCurrent(channel, sub)) return;
          if (!this.queue.writable) {
            await this.writable();
            continue;
          }
          let bytes = 0;
          // One slice leaves as one batch (one socket write).
          this.queue.cork();
          try {
            for (let n = 0; n < REPLAY_SLICE_MESSAGES && i < items.length && bytes < highWater; n++) {
              if (!this.queue.writable) break;
              const { epoch, entry } = items[i++]!;
              bytes += this.sendEntry(channel, sub, epoch, entry, undefined);
            }
          } finally {
            this.queue.uncork();
          }
          if (i < items.length) await nextTurn();
        }
        if (!this.isCurrent(channel, sub)) return;
        const pending = sub.pending ?? [];
        if (sub.missed) {
          // Live messages were dropped while the client was behind: read them from history.
          sub.missed = false;
          sub.pending = [];
          const h = await this.adapter.history(channel, { epoch: sub.epoch, offset: sub.offset });
          if (!this.isCurrent(channel, sub)) return;
          if (!h.ok) {
            // Gone from history: the client resubscribes from its position and is told (`reset`).
            return h.reason === 'epoch-changed'
              ? this.host.fail(DisconnectCode.SERVICE_RESTART, 'channel history lost: resubscribe')
              : this.host.fail(DisconnectCode.SLOW_CONSUMER, 'fell behind during history replay');
          }
          items = [...h.entries.map((entry) => ({ epoch: sub.epoch, entry })), ...pending];
          continue;
        }
        if (pending.length === 0) {
          sub.pending = undefined;
          return;
        }
        sub.pending = [];
        items = pending;
      }
    } catch (error) {
      this.reportError(error as Error);
      this.host.fail(DisconnectCode.SERVER_ERROR, 'internal error');
    }
  }

  /** Resolves when the outbound queue takes messages again (or, at the latest, after a short while). */
  private writable(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        cancel();
        resolve();
      };
      const cancel = this.queue.onWritable(done);
      const timer = setTimeout(done, REPLAY_RECHECK_MS);
    });
  }

  /** Ends the subscription to `channel`, if any, and the session's presence there. */
  async unsubscribe(channel: string): Promise<void> {
    if (!this.map.delete(channel)) return;
    this.hub.detach(channel, this.session);
    if (this.session.user !== undefined)
      await this.adapter.presenceLeave(channel, this.session.user, this.session.id);
  }

  /** Live messages from the hub's fan-out (encoded and framed once for all subscribers). */
  deliver(batch: LiveBatch): void {
    const sub = this.map.get(batch.channel);
    if (!sub || this.host.closing()) return;
    const messages = batch.messages;
    if (batch.plain && sub.pending === undefined) {
      const first = messages[0]!;
      if (first.epoch === sub.epoch && first.entry.off === sub.offset + 1) {
        // Live at the offset before the first, and the batch holds no gap, no new epoch, nothing
        // to leave out or to send with a message id: every message goes out as it is.
        sub.offset = messages[messages.length - 1]!.entry.off;
        this.host.sendLive(messages);
        return;
      }
    }
    for (let i = 0; i < messages.length; i++) {
      if (this.host.closing()) return;
      this.deliverOne(sub, messages[i]!);
    }
  }

  /** One live message, checked against the subscription's position. */
  private deliverOne(sub: Subscription, live: LiveMessage): void {
    const { channel, epoch, entry } = live;
    if (this.map.get(channel) !== sub) return;
    if (sub.pending) {
      // Behind a replay: wait there, as many as the outbound queue may hold; beyond that, drop
      // them and read them from history later (they were stored before being fanned out).
      if (sub.pending.length >= this.outbound.maxQueuedMessages) {
        sub.missed = true;
        sub.pending = [];
      }
      sub.pending.push({ epoch, entry });
      return;
    }
    this.sendEntry(channel, sub, epoch, entry, live);
  }

  /** Sends one stored message unless already sent; returns the bytes it took (0 if skipped). */
  private sendEntry(
    channel: string,
    sub: Subscription,
    epoch: string,
    entry: ChannelEntry,
    live: LiveMessage | undefined,
  ): number {
    if (epoch !== sub.epoch || entry.off > sub.offset + 1) {
      // The adapter delivers every offset of a channel, in order. A new epoch (its history was
      // lost: a Redis restart) or a skipped offset (trimmed while the adapter was cut off) means
      // this client may have missed messages nobody can send it any more. Only a resubscription
      // from its position tells it (`reset`), so close: it reconnects, resubscribes, and recovers
      // or resets. Never follow silently.
      this.host.fail(DisconnectCode.SERVICE_RESTART, 'channel history lost: resubscribe');
      return 0;
    }
    if (entry.off <= sub.offset) return 0;
    sub.offset = entry.off;
    if (entry.except === this.session.id) return 0;
    const own = entry.mid !== undefined && isFromClient(entry.mid, this.host.clientId());
    const key = live ? live.queueKey : entry.key === undefined ? undefined : `${channel}\u0000${entry.key}`;
    let data: Outgoing;
    if (own) {
      const mid = entry.mid!.split('\u0000')[2];
      const msg: ServerMessage = {
        t: 'msg',
        ch: channel,
        ev: entry.ev,
        d: entry.d,
        ep: epoch,
        off: entry.off,
        ...(mid !== undefined ? { mid } : {}),
      };
      data = this.session.codec.encode(msg);
    } else {
      data = live
        ? live.shared(this.session.codec)
        : this.hub.encodeEntry(this.session.codec, channel, epoch, entry);
    }
    this.host.send(data, key);
    return byteLength(data);
  }

  /** Whether presence changes of `channel` are for this session. */
  wantsPresence(channel: string): boolean {
    return !this.host.closing() && this.map.get(channel)?.presence === true;
  }

  /** Ends every subscription and the session's presence in each (the session is closing). */
  releaseAll(): void {
    for (const ch of [...this.map.keys()]) {
      this.map.delete(ch);
      this.hub.detach(ch, this.session);
      if (this.session.user !== undefined) {
        this.adapter
          .presenceLeave(ch, this.session.user, this.session.id)
          .catch((e: Error) => this.reportError(e));
      }
    }
  }
}

/**
 * Whether a stored message id (`user \0 clientId \0 messageId`) was published by `clientId`:
 * checked in place, without splitting, because it runs for every subscriber of every message.
 */
function isFromClient(storedId: string, clientId: string): boolean {
  const start = storedId.indexOf('\u0000') + 1;
  return (
    start !== 0 && storedId.startsWith(clientId, start) && storedId.charCodeAt(start + clientId.length) === 0
  );
}
