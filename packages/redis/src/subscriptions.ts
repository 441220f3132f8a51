// The subscriber side of RedisAdapter: one pub/sub connection, channels reference-counted by
// listener, and the rule that keeps delivery gap-free: a subscription knows the position of the
// last message it delivered, and fetches from history whatever pub/sub did not bring (the
// connection was down, or a frame is missing), holding live frames back until it has.
import type { AdapterEvent, ChannelEntry, ChannelPosition, HistoryResult } from '@ieum/realtime/adapter';
import type { Redis } from 'ioredis';
import { RedisAdapterError, RedisAdapterErrorCode } from './errors.js';
import { decodeFrame } from './frames.js';
import { type ChannelKeys, channelKeys } from './keys.js';

type Listener = (event: AdapterEvent) => void;

interface Topic {
  channel: string;
  keys: ChannelKeys;
  listeners: Set<Listener>;
  /** Settles when the topic is subscribed and its position is known. */
  ready: Promise<void>;
  /** Position of the newest message delivered (or the channel's position when subscribed). */
  last: ChannelPosition | undefined;
  /** Events held back while missed messages are fetched; undefined when live. */
  held: AdapterEvent[] | undefined;
  /** Bumped by every catch-up, so a stale one (from before a reconnect) is ignored. */
  generation: number;
  /** The connection the topic is subscribed on (one per cluster shard; else the only one). */
  connection: Redis | undefined;
  /** A catch-up was refused by a cluster shard that no longer owns the slot: waits to be re-routed. */
  stalled: boolean;
}

/** Cluster replies that mean "not here, not now": the slot moved or its shard is failing over. */
const REROUTE = /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN) /;

/** A history read, where a `too-old` result may also carry the entries that are left. */
export type CatchUpHistory = HistoryResult | (HistoryResult & { ok: false; remainder: ChannelEntry[] });

/**
 * What the subscriber needs from its adapter. Scripts run on the subscriber connection itself:
 * with Redis Cluster that is the connection to the shard that owns the channel's slot.
 */
export interface SubscriptionsHost {
  /** The connection that carries `keys.topic` now (for Redis Cluster, the slot owner's). */
  route(keys: ChannelKeys): Redis;
  readonly prefix: string;
  /** Sharded pub/sub (Redis >= 7), else classic. Known once connected. */
  sharded(): boolean;
  /** Resolves when Redis is reachable (or rejects with REDIS_ERR_UNAVAILABLE / CLOSED). */
  online(): Promise<void>;
  position(connection: Redis, keys: ChannelKeys): Promise<ChannelPosition>;
  /** With `remainder`, a `too-old` result also carries the entries still in history. */
  history(
    connection: Redis,
    keys: ChannelKeys,
    since: ChannelPosition,
    remainder?: boolean,
  ): Promise<CatchUpHistory>;
  report(error: Error): void;
  /** A cluster shard refused a catch-up with MOVED/CLUSTERDOWN...: refresh the slot map. */
  rerouteSoon?(): void;
}

export class Subscriptions {
  /** By pub/sub topic. */
  private readonly topics = new Map<string, Topic>();

  constructor(private readonly host: SubscriptionsHost) {}

  /** Delivers the pub/sub frames that arrive on `connection` (call once per connection). */
  listen(connection: Redis): void {
    const onFrame = (topic: Buffer, frame: Buffer) => this.receive(topic.toString(), frame, connection);
    connection.on('smessageBuffer', onFrame);
    connection.on('messageBuffer', onFrame);
  }

  /** Channels with at least one listener in this process. */
  channels(): string[] {
    return [...this.topics.values()].map((t) => t.channel);
  }

  /** Whether this process listens to `channel`. */
  has(channel: string): boolean {
    return this.topics.has(channelKeys(this.host.prefix, channel).topic);
  }

  async add(channel: string, listener: Listener): Promise<void> {
    const keys = channelKeys(this.host.prefix, channel);
    let topic = this.topics.get(keys.topic);
    if (!topic) {
      const created: Topic = {
        channel,
        keys,
        listeners: new Set(),
        ready: Promise.resolve(),
        last: undefined,
        held: undefined,
        generation: 0,
        connection: undefined,
        stalled: false,
      };
      created.ready = this.open(created);
      this.topics.set(keys.topic, created);
      topic = created;
    }
    topic.listeners.add(listener);
    try {
      await topic.ready;
    } catch (error) {
      await this.remove(channel, listener);
      throw error;
    }
  }

  async remove(channel: string, listener: Listener): Promise<void> {
    const { topic: name } = channelKeys(this.host.prefix, channel);
    const topic = this.topics.get(name);
    if (!topic?.listeners.delete(listener) || topic.listeners.size > 0) return;
    this.topics.delete(name);
    // When the connection is down there is nothing to undo: only known topics are resubscribed.
    const c = topic.connection;
    if (c?.status !== 'ready') return;
    await (this.host.sharded() ? c.sunsubscribe(name) : c.unsubscribe(name)).catch(() => {});
  }

  /** Subscribes on Redis, then reads the channel's position on the same connection: every frame
   * published before that read arrives before its reply, every later one after it. */
  private async open(topic: Topic): Promise<void> {
    await this.host.online();
    // Removed while waiting: remove() has sent (or had no need of) the unsubscribe, and the last
    // command sent for a topic on this connection decides whether it is subscribed.
    if (this.topics.get(topic.keys.topic) !== topic) return;
    await this.subscribeOnRedis(topic);
    const position = await this.host.position(topic.connection!, topic.keys);
    topic.last ??= position;
  }

  private subscribeOnRedis(topic: Topic): Promise<unknown> {
    const c = this.host.route(topic.keys);
    topic.connection = c;
    return this.host.sharded() ? c.ssubscribe(topic.keys.topic) : c.subscribe(topic.keys.topic);
  }

  /**
   * The subscriber connection is back (ioredis's own resubscription is off), or a cluster slot
   * moved to another shard: subscribe the topics again (all, or those `which` picks), on the
   * connection that carries them now, then fetch what was published meanwhile.
   */
  async resubscribe(
    which: (connection: Redis | undefined, keys: ChannelKeys, stalled: boolean) => boolean = () => true,
  ): Promise<void> {
    const topics = [...this.topics.values()].filter((t) => which(t.connection, t.keys, t.stalled));
    for (const t of topics) t.stalled = false;
    // Hold live frames from now on, before the subscriptions are back, so none is delivered
    // ahead of the missed messages.
    for (const t of topics) if (t.last) t.held ??= [];
    const subscribed = await Promise.allSettled(topics.map((t) => this.subscribeOnRedis(t)));
    let failure: unknown;
    topics.forEach((t, i) => {
      const s = subscribed[i]!;
      if (s.status === 'fulfilled' || this.topics.get(t.keys.topic) !== t) return;
      // The shard it routes to is unreachable (a cluster failover under way): retried once the
      // slot map changes, or the connection is back.
      t.stalled = true;
      failure ??= s.reason;
    });
    if (failure !== undefined) {
      this.host.report(failure as Error);
      this.host.rerouteSoon?.();
    }
    for (const t of topics) {
      if (this.topics.get(t.keys.topic) !== t || t.stalled) continue;
      if (t.last) void this.catchUp(t);
      else
        this.host.position(t.connection!, t.keys).then(
          (p) => (t.last ??= p),
          (error) => this.host.report(error),
        );
    }
  }

  private receive(name: string, frame: Buffer, connection: Redis): void {
    const topic = this.topics.get(name);
    // A frame from a shard the topic has moved away from is late; history has it.
    if (!topic || topic.connection !== connection) return;
    let event: AdapterEvent;
    try {
      event = decodeFrame(topic.channel, frame);
    } catch (error) {
      this.host.report(error as Error);
      return;
    }
    this.receiveEvent(topic, event);
  }

  private receiveEvent(topic: Topic, event: AdapterEvent): void {
    if (topic.held) topic.held.push(event);
    else this.accept(topic, event);
  }

  private accept(topic: Topic, event: AdapterEvent): void {
    if (event.type === 'message') {
      const last = topic.last;
      if (last && event.epoch !== last.epoch) {
        // The channel started over under a new epoch: the catch-up delivers it from its start.
        topic.held = [event];
        void this.catchUp(topic);
        return;
      }
      if (last && event.epoch === last.epoch) {
        if (event.entry.off <= last.offset) return; // already delivered from history
        if (event.entry.off > last.offset + 1) {
          // A frame went missing (a pub/sub client can be dropped by Redis): fetch the gap.
          topic.held = [event];
          void this.catchUp(topic);
          return;
        }
      }
      topic.last = { epoch: event.epoch, offset: event.entry.off };
    }
    this.deliver(topic, event);
  }

  private async catchUp(topic: Topic): Promise<void> {
    const generation = ++topic.generation;
    const since = topic.last!;
    topic.held ??= [];
    let h: CatchUpHistory;
    let restarted: ChannelPosition | undefined;
    const connection = topic.connection!;
    try {
      h = await this.host.history(connection, topic.keys, since, true);
      if (!h.ok && h.reason === 'epoch-changed') {
        // The channel started over under a new epoch (Redis restarted or was restored, or the
        // channel expired): what the old epoch had beyond `since` is gone, but every message of
        // the new one is still there, acknowledged to its publishers: deliver it from the start.
        restarted = h.position;
        const start = { epoch: h.position.epoch, offset: 0 };
        h = await this.host.history(connection, topic.keys, start, true);
      }
    } catch (error) {
      this.host.report(error as Error);
      // Redis went away again: keep holding; the next resubscribe() catches up.
      if (connection.status !== 'ready' || topic.connection !== connection) return;
      if (REROUTE.test(String((error as Error).message))) {
        // Keep holding: once the slot map says where the channel lives, resubscribe() moves the
        // topic there and catches up.
        topic.stalled = true;
        this.host.rerouteSoon?.();
        return;
      }
      // Any other failure: give up on this gap rather than stall the channel.
      if (topic.generation !== generation) return;
      topic.last = undefined;
      h = { ok: true, entries: [], position: since };
    }
    if (this.topics.get(topic.keys.topic) !== topic || topic.generation !== generation) return;
    if (topic.last && restarted) {
      this.host.report(
        new RedisAdapterError(
          RedisAdapterErrorCode.MESSAGES_LOST,
          `RedisAdapter: channel "${topic.channel}" started over under a new epoch (after ` +
            `${since.epoch}:${since.offset}, now ${restarted.epoch}:${restarted.offset}: Redis restarted, was ` +
            'restored or failed over, or the channel expired); whatever the old epoch had beyond that is ' +
            'lost. The new epoch is delivered from its first message (realtime clients get a reset)',
        ),
      );
      topic.last = { epoch: restarted.epoch, offset: 0 };
    }
    if (topic.last && h.ok) {
      for (const entry of h.entries) {
        if (entry.off <= topic.last!.offset) continue;
        topic.last = { epoch: h.position.epoch, offset: entry.off };
        this.deliver(topic, { type: 'message', channel: topic.channel, epoch: h.position.epoch, entry });
      }
    } else if (topic.last && !h.ok) {
      this.host.report(
        new RedisAdapterError(
          RedisAdapterErrorCode.MESSAGES_LOST,
          `RedisAdapter: channel "${topic.channel}" lost the messages after ${since.epoch}:${since.offset} ` +
            `(${h.reason}; now ${h.position.epoch}:${h.position.offset}); its subscribers see a gap ` +
            '(realtime clients get a reset)',
        ),
      );
      // What is left in history is delivered after the gap: these messages reach subscribers,
      // and the gap shows at once (not at the channel's next publish).
      const remainder = 'remainder' in h ? h.remainder : [];
      topic.last = h.position;
      for (const entry of remainder) {
        const event: AdapterEvent = {
          type: 'message',
          channel: topic.channel,
          epoch: h.position.epoch,
          entry,
        };
        this.deliver(topic, event);
      }
    }
    const held = topic.held ?? [];
    topic.held = undefined;
    // A new gap found while draining starts another catch-up, which takes the rest. Frames of
    // the epoch just left cannot follow the read that found the new one (Redis orders frames and
    // replies on this connection); dropping any keeps a stray one from starting catch-ups forever.
    for (const event of held) {
      if (restarted && event.type === 'message' && event.epoch === since.epoch) continue;
      this.receiveEvent(topic, event);
    }
  }

  private deliver(topic: Topic, event: AdapterEvent): void {
    for (const listener of [...topic.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.host.report(error as Error);
      }
    }
  }

  clear(): void {
    this.topics.clear();
  }
}
