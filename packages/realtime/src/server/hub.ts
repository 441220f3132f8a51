// The hub: which local sessions are subscribed to which channel, and the one path every publish
// takes, from the server or from a client. Fan-out is batched: the adapter's messages of one
// event-loop turn are delivered together on the next (a `setImmediate`), each encoded once per
// codec and framed once (`WebSocketServer.prepare`), and every session's share of the turn
// leaves as one batch (`Transport.writeMany`: one socket write), however many messages it holds.
import { WebSocketServer } from '@ieum/websocket';
import type { Adapter, AdapterEvent, ChannelEntry, PublishResult } from '../adapter/adapter.js';
import { RealtimeError } from '../adapter/realtime-error.js';
import type { Codec } from '../codec/codec.js';
import { ErrorCodes, isName, MAX_NAME_LENGTH } from '../codec/messages.js';
import { checkPayload, type PayloadLimits } from '../codec/payload-limits.js';
import type { SharedMessage } from '../transports/transport.js';
import type { EncodedCache } from './encoded-cache.js';
import { PresenceFanout, type PresenceTarget } from './presence-fanout.js';
import type { TrafficTap } from './traffic-tap.js';

/** What a publish carries besides channel, event and data. */
export interface PublishMeta {
  /** Stored message id (`user \0 clientId \0 messageId`) of a client's publish, for deduplication. */
  mid?: string;
  /** Session id that must not receive it (e.g. the sender). */
  except?: string;
  /** Coalescing key for the `latest` slow-consumer policy. */
  key?: string;
}

/**
 * A live message shared by every local subscriber of a channel: `shared(codec)` is its `msg`
 * packet in `codec`, encoded and framed once for all of them.
 */
export interface LiveMessage {
  readonly channel: string;
  readonly epoch: string;
  readonly entry: ChannelEntry;
  /** The outbound queue's key for the `latest` policy (`channel \0 entry.key`), if it has one. */
  readonly queueKey: string | undefined;
  shared(codec: Codec): SharedMessage;
}

/**
 * Consecutive live messages of one channel, delivered to each of its sessions in one call: the
 * checks that are the same for every session are made once here.
 */
export interface LiveBatch {
  readonly channel: string;
  /** In the adapter's order (at least one). */
  readonly messages: readonly LiveMessage[];
  /**
   * All of one epoch with consecutive offsets, none with `except` or a client's message id: a
   * session that is live at the offset before the first takes them all as they are.
   */
  readonly plain: boolean;
}

/** A session as the hub sees it. */
export interface HubSession extends PresenceTarget {
  /** Live messages of a channel it is attached to. */
  deliver(batch: LiveBatch): void;
  /** Gathers what it writes until `uncork`, which writes it as one batch. */
  cork(): void;
  uncork(): void;
}

/** Local fan-out of one channel: one adapter subscription, many sessions. */
interface LocalChannel<S> {
  readonly sessions: Set<S>;
  readonly listener: (event: AdapterEvent) => void;
  ready: Promise<void>;
  readonly presence: PresenceFanout;
}

/** A stored message waiting for the next fan-out turn, encoded lazily once per codec. */
class Pending implements LiveMessage {
  private codec: Codec | undefined;
  private message: SharedMessage | undefined;
  private others: Map<Codec, SharedMessage> | undefined;
  readonly queueKey: string | undefined;

  constructor(
    private readonly cache: EncodedCache,
    readonly channel: string,
    readonly epoch: string,
    readonly entry: ChannelEntry,
  ) {
    this.queueKey = entry.key === undefined ? undefined : `${channel}\u0000${entry.key}`;
  }

  shared(codec: Codec): SharedMessage {
    // Most servers speak one codec to most sessions: the first is kept without a Map.
    if (codec === this.codec) return this.message!;
    let m = this.others?.get(codec);
    if (m !== undefined) return m;
    const data = this.cache.encode(codec, this.channel, this.epoch, this.entry);
    m = { data, prepared: WebSocketServer.prepare(data, { binary: codec.binary }) };
    if (this.codec === undefined) {
      this.codec = codec;
      this.message = m;
    } else {
      this.others ??= new Map();
      this.others.set(codec, m);
    }
    return m;
  }
}

/** A run of consecutive messages of one channel within a fan-out turn. */
class Batch<S> implements LiveBatch {
  readonly messages: Pending[] = [];
  plain = true;

  constructor(
    readonly local: LocalChannel<S>,
    readonly channel: string,
  ) {}

  add(message: Pending): void {
    const last = this.messages[this.messages.length - 1];
    const e = message.entry;
    if (
      e.except !== undefined ||
      e.mid !== undefined ||
      (last !== undefined && (last.epoch !== message.epoch || last.entry.off + 1 !== e.off))
    ) {
      this.plain = false;
    }
    this.messages.push(message);
  }
}

export class Hub<S extends HubSession> {
  private readonly channels = new Map<string, LocalChannel<S>>();
  /** Messages of this turn, in the order the adapter delivered them, in runs of one channel. */
  private pending: Array<Batch<S>> = [];
  private scheduled = false;
  /** Sessions corked during the current fan-out turn. */
  private readonly corked = new Set<S>();
  private closed = false;

  constructor(
    private readonly adapter: Adapter,
    private readonly encoded: EncodedCache,
    private readonly payload: PayloadLimits,
    private readonly presenceFlushIntervalMs: number,
    private readonly reportError: (error: Error) => void,
    /** Observers told of every message fanned out (`rt.taps`). */
    private readonly taps: ReadonlySet<TrafficTap<S>> = new Set(),
  ) {}

  /**
   * The one publish path, for the server (`rt.publish`) and for clients: checks the names and
   * the payload, then stores it in the adapter, which delivers it to every subscriber in every
   * process (here through `deliver`). Throws a `RealtimeError` (nothing stored) for a name that is
   * empty, longer than 200 or not well-formed UTF-16 (`bad-request`), or a payload beyond the
   * limits or one not every codec carries; rejects with what the adapter rejects with.
   */
  async publish(
    channel: string,
    event: string,
    data: unknown,
    meta: PublishMeta = {},
  ): Promise<PublishResult> {
    if (!isName(channel)) throw badName('channel');
    if (!isName(event)) throw badName('event');
    const check = checkPayload(data, this.payload);
    if (!check.ok) throw new RealtimeError(check.code, check.message);
    return this.adapter.publish(channel, {
      ev: event,
      d: data,
      ...(meta.mid !== undefined ? { mid: meta.mid } : {}),
      ...(meta.except !== undefined ? { except: meta.except } : {}),
      ...(meta.key !== undefined ? { key: meta.key } : {}),
    });
  }

  /** Adds `session` to the local fan-out of `channel`; resolves once the adapter subscription is. */
  async attach(channel: string, session: S): Promise<void> {
    let local = this.channels.get(channel);
    if (!local) {
      const sessions = new Set<S>();
      const presence = new PresenceFanout(channel, this.presenceFlushIntervalMs, () => sessions);
      const created: LocalChannel<S> = {
        sessions,
        listener: (event) => {
          if (event.type === 'message') this.enqueue(created, channel, event.epoch, event.entry);
          else presence.add(event);
        },
        ready: Promise.resolve(),
        presence,
      };
      created.ready = this.adapter.subscribe(channel, created.listener);
      // Refused (e.g. too many channels): forget it, so the next attach asks the adapter again.
      created.ready.catch(() => {
        if (this.channels.get(channel) === created) this.channels.delete(channel);
        presence.stop();
      });
      this.channels.set(channel, created);
      local = created;
    }
    local.sessions.add(session);
    await local.ready;
  }

  /** Removes `session` from the local fan-out of `channel` (the last one unsubscribes the adapter). */
  detach(channel: string, session: S): void {
    const local = this.channels.get(channel);
    if (!local) return;
    local.sessions.delete(session);
    if (local.sessions.size === 0) {
      this.channels.delete(channel);
      local.presence.stop();
      this.adapter.unsubscribe(channel, local.listener).catch((error: Error) => this.reportError(error));
    }
  }

  /**
   * The `msg` packet of a stored message in `codec`, encoded once per codec for every live
   * delivery and history replay (see `replayCacheBytes`).
   */
  encodeEntry(codec: Codec, channel: string, epoch: string, entry: ChannelEntry): string | Uint8Array {
    return this.encoded.encode(codec, channel, epoch, entry);
  }

  /** Stops fan-out: what waits for the next turn is dropped (the server is closing). */
  close(): void {
    this.closed = true;
    this.pending = [];
    for (const local of this.channels.values()) local.presence.stop();
  }

  private enqueue(local: LocalChannel<S>, channel: string, epoch: string, entry: ChannelEntry): void {
    if (this.closed) return;
    let batch = this.pending[this.pending.length - 1];
    if (batch?.local !== local) {
      batch = new Batch(local, channel);
      this.pending.push(batch);
    }
    batch.add(new Pending(this.encoded, channel, epoch, entry));
    if (this.scheduled) return;
    this.scheduled = true;
    // The next turn: every message that arrives until then (a burst of publishes from one input
    // chunk, a batch of Redis pub/sub replies) leaves in the same writes.
    setImmediate(this.fanOut);
  }

  private readonly fanOut = (): void => {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    if (pending.length === 1) {
      // One channel this turn (a burst, a single message): each session appears once, so it is
      // corked for its own delivery only and nothing tracks who was corked.
      const batch = pending[0]!;
      for (const session of batch.local.sessions) {
        session.cork();
        try {
          session.deliver(batch);
        } catch (error) {
          this.reportError(error as Error);
        } finally {
          session.uncork();
        }
      }
      if (this.taps.size > 0) this.tap(batch);
      return;
    }
    const corked = this.corked;
    try {
      for (const batch of pending) {
        // A channel whose last session left since: `sessions` is empty, nothing is encoded.
        for (const session of batch.local.sessions) {
          if (!corked.has(session)) {
            corked.add(session);
            session.cork();
          }
          session.deliver(batch);
        }
        if (this.taps.size > 0) this.tap(batch);
      }
    } catch (error) {
      this.reportError(error as Error);
    } finally {
      for (const session of corked) session.uncork();
      corked.clear();
    }
  };

  /** Tells the taps of each message of `batch`, now fanned out. */
  private tap(batch: Batch<S>): void {
    const n = batch.local.sessions.size;
    for (const message of batch.messages)
      for (const tap of this.taps) tap.channelMessage?.(batch.channel, message.entry, n);
  }
}

function badName(what: string): RealtimeError {
  return new RealtimeError(
    ErrorCodes.BAD_REQUEST,
    `the ${what} name must be a well-formed string without NUL, of 1 to ${MAX_NAME_LENGTH} characters`,
  );
}
