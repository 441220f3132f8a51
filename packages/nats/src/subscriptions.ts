// The subscriber side of NatsAdapter: one core NATS subscription per channel on its event subject
// (where its stream republishes every stored message with its sequence, and presence changes go),
// reference-counted by listener, and the rule that keeps delivery gap-free: a subscription knows
// the position of the last message it delivered, and fetches from the stream whatever the core
// subscription did not bring (the connection was down, a message went missing), holding live
// messages back until it has.
import type { AdapterEvent, ChannelPosition } from '@ieum/realtime/adapter';
import type { Msg, NatsConnection, Subscription } from 'nats';
import { NatsAdapterError, NatsAdapterErrorCode } from './errors.js';
import { decodeEntry, decodePresence, decodePresenceUpdate } from './frames.js';
import { type ChannelNames, channelNames } from './names.js';
import type { CatchUpHistory, ChannelStreams } from './streams.js';

type Listener = (event: AdapterEvent) => void;

interface Topic {
  names: ChannelNames;
  listeners: Set<Listener>;
  /** Settles when the subscription is in place and the position is known. */
  ready: Promise<void>;
  sub: Subscription | undefined;
  /** Position of the newest message delivered (or the channel's position when subscribed). */
  last: ChannelPosition | undefined;
  /** Events held back while missed messages are fetched; undefined when live. */
  held: AdapterEvent[] | undefined;
  /** Bumped by every catch-up, so a stale one is ignored. */
  generation: number;
}

/** What the subscriptions need from their adapter. */
export interface SubscriptionsHost {
  readonly prefix: string;
  connection(): Promise<NatsConnection>;
  streams(): ChannelStreams;
  report(error: Error): void;
}

export class Subscriptions {
  /** By stream name. */
  private readonly topics = new Map<string, Topic>();

  constructor(private readonly host: SubscriptionsHost) {}

  /** Channels with at least one listener in this process. */
  channels(): string[] {
    return [...this.topics.values()].map((t) => t.names.channel);
  }

  has(channel: string): boolean {
    return this.topics.has(channelNames(this.host.prefix, channel).stream);
  }

  async add(channel: string, listener: Listener): Promise<void> {
    const names = channelNames(this.host.prefix, channel);
    let topic = this.topics.get(names.stream);
    if (!topic) {
      const created: Topic = {
        names,
        listeners: new Set(),
        ready: Promise.resolve(),
        sub: undefined,
        last: undefined,
        held: undefined,
        generation: 0,
      };
      created.ready = this.open(created);
      this.topics.set(names.stream, created);
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
    const { stream } = channelNames(this.host.prefix, channel);
    const topic = this.topics.get(stream);
    if (!topic?.listeners.delete(listener) || topic.listeners.size > 0) return;
    this.topics.delete(stream);
    topic.sub?.unsubscribe();
  }

  /**
   * Subscribes, makes sure the server has the interest (flush), then reads the stream's position:
   * every message stored after that read is republished to us, every earlier one is in the
   * position. Messages that arrive meanwhile are held, then those at or below the position
   * dropped as not ours (the reply and the republished messages may arrive in either order).
   */
  private async open(topic: Topic): Promise<void> {
    const nc = await this.host.connection();
    if (this.topics.get(topic.names.stream) !== topic) return;
    topic.held = [];
    topic.sub = nc.subscribe(topic.names.events, {
      callback: (error, msg) => {
        if (error) this.host.report(error);
        else this.receive(topic, msg);
      },
    });
    try {
      await nc.flush();
      topic.last ??= await this.host.streams().position(topic.names);
    } finally {
      const held = topic.held ?? [];
      topic.held = undefined;
      for (const event of held) this.receiveEvent(topic, event);
    }
  }

  /** The connection dropped: hold live messages until the catch-up after the reconnect. */
  hold(): void {
    for (const t of this.topics.values()) if (t.last) t.held ??= [];
  }

  /** The connection is back (the client has resubscribed): fetch what was missed meanwhile. */
  caughtUpAfterReconnect(): void {
    // A topic still opening (no position yet) drains its held messages itself.
    for (const t of this.topics.values()) if (t.last) void this.catchUp(t);
  }

  /** A stream of ours was created again (after a deletion): its epoch changed. */
  restarted(stream: string): void {
    const t = this.topics.get(stream);
    if (t?.last) {
      t.held ??= [];
      void this.catchUp(t);
    }
  }

  private receive(topic: Topic, msg: Msg): void {
    if (this.topics.get(topic.names.stream) !== topic) return;
    let event: AdapterEvent;
    const h = msg.headers;
    try {
      const kind = h?.get('Ieum-Kind');
      if (kind === 'join' || kind === 'leave') {
        const p = decodePresence(msg.data);
        event = { type: kind, channel: topic.names.channel, ...p };
      } else if (kind === 'update') {
        event = { type: 'update', channel: topic.names.channel, ...decodePresenceUpdate(msg.data) };
      } else {
        const seq = Number(h?.get('Nats-Sequence'));
        if (!Number.isSafeInteger(seq) || seq < 1) return;
        // The epoch is the one the subscription knows: a recreated stream shows as sequences that
        // go back (dropped here) and as a creation advisory (restarted()), whose catch-up reads
        // the new epoch.
        const epoch = topic.last?.epoch ?? '';
        event = { type: 'message', channel: topic.names.channel, epoch, entry: decodeEntry(seq, msg.data) };
      }
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
      if (last) {
        if (event.entry.off <= last.offset) return; // delivered from history, or before subscribing
        if (event.entry.off > last.offset + 1) {
          // A message went missing (a slow consumer's messages are dropped by the server): fetch it.
          topic.held = [event];
          void this.catchUp(topic);
          return;
        }
        event = { ...event, epoch: last.epoch };
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
    const streams = this.host.streams();
    try {
      h = await streams.history(topic.names, since, true);
      if (!h.ok && h.reason === 'epoch-changed') {
        // The stream was created again: what the old one had beyond `since` is gone, but every
        // message of the new one is there, acknowledged to its publishers: deliver it from the start.
        restarted = h.position;
        h = await streams.history(topic.names, { epoch: h.position.epoch, offset: 0 }, true);
      }
    } catch (error) {
      this.host.report(error as Error);
      if (this.topics.get(topic.names.stream) !== topic || topic.generation !== generation) return;
      // Retry soon: held messages stay held, nothing is delivered past the gap.
      setTimeout(() => {
        if (this.topics.get(topic.names.stream) === topic && topic.generation === generation)
          void this.catchUp(topic);
      }, 500).unref();
      return;
    }
    if (this.topics.get(topic.names.stream) !== topic || topic.generation !== generation) return;
    if (restarted) {
      this.host.report(
        new NatsAdapterError(
          NatsAdapterErrorCode.MESSAGES_LOST,
          `NatsAdapter: channel "${topic.names.channel}" started over under a new epoch (after ` +
            `${since.epoch}:${since.offset}, now ${restarted.epoch}:${restarted.offset}: its stream was ` +
            'deleted or NATS lost its store); the new epoch is delivered from its first message ' +
            '(realtime clients get a reset)',
        ),
      );
      topic.last = { epoch: restarted.epoch, offset: 0 };
    }
    const last = topic.last!;
    if (h.ok) {
      for (const entry of h.entries) {
        if (entry.off <= topic.last!.offset) continue;
        topic.last = { epoch: h.position.epoch, offset: entry.off };
        this.deliver(topic, {
          type: 'message',
          channel: topic.names.channel,
          epoch: h.position.epoch,
          entry,
        });
      }
    } else {
      this.host.report(
        new NatsAdapterError(
          NatsAdapterErrorCode.MESSAGES_LOST,
          `NatsAdapter: channel "${topic.names.channel}" lost the messages after ${last.epoch}:${last.offset} ` +
            `(${h.reason}; now ${h.position.epoch}:${h.position.offset}); its subscribers see a gap ` +
            '(realtime clients get a reset)',
        ),
      );
      // What is left is delivered after the gap, so the gap shows at once.
      const remainder = 'remainder' in h ? h.remainder : [];
      topic.last = h.position;
      for (const entry of remainder) {
        this.deliver(topic, {
          type: 'message',
          channel: topic.names.channel,
          epoch: h.position.epoch,
          entry,
        });
      }
    }
    const held = topic.held ?? [];
    topic.held = undefined;
    // Held messages carry the epoch known when they arrived: those of a new epoch past what was
    // read are taken by the next gap check; a new gap starts another catch-up.
    for (const event of held) this.receiveEvent(topic, event);
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
    for (const t of this.topics.values()) t.sub?.unsubscribe();
    this.topics.clear();
  }
}
