// One channel as the client sees it: its subscription (kept across reconnects), its position in
// the channel's history (so missed messages are recovered and duplicates dropped), and who is present.
import type { Position, PresenceMember, ServerMessage, SubscribeResult } from '../codec/messages.js';
import { Emitter } from './emitter.js';
import type { RequestError } from './request-error.js';

/** The server's acknowledgement of a publish. */
export interface PublishAck {
  epoch: string;
  offset: number;
  /** The server had this message id already (a retry): it was not published twice. */
  duplicate: boolean;
}

/**
 * A message delivered on a channel whose events are `P` (event name → payload): a union over the
 * events, so checking `event` narrows `data`.
 */
export type ChannelMessage<P = Record<string, unknown>> = {
  [E in keyof P & string]: {
    event: E;
    data: P[E];
    offset: number;
    epoch: string;
    /** Published by this client. */
    own: boolean;
  };
}[keyof P & string];

/** Events of a {@link Channel}. */
export type ChannelEvents<P> = {
  message: (message: ChannelMessage<P>) => void;
  /** Subscribed (again): `result.recovered` says whether missed messages follow. */
  subscribed: (result: SubscribeResult) => void;
  /** Missed messages could not be recovered (history trimmed or reset): refetch state. */
  reset: (reason: string) => void;
  join: (member: PresenceMember) => void;
  leave: (member: PresenceMember) => void;
  /** A connection's presence state changed; without `state`, that connection left. */
  update: (update: PresenceUpdate) => void;
  error: (error: RequestError) => void;
};

/** A change of one connection's presence state (see `Channel.updatePresence`). */
export interface PresenceUpdate {
  user: string;
  /** The connection's id (its session id): one user may have several, one per tab. */
  connection: string;
  /** Absent: the connection left, its state is gone. */
  state?: unknown;
}

/** What a channel needs from the client that owns it. */
export interface ChannelHost {
  /** Sends the subscription now if connected (else it is sent on the next welcome). */
  sendSubscribe(channel: Channel<object>): void;
  /** A request that is not retried after a disconnect. */
  request(
    message: { t: 'unsub' | 'who'; ch: string } | { t: 'presence'; ch: string; d: unknown },
  ): Promise<unknown>;
  /** The session id of the current connection (its own presence updates are not reported). */
  connectionId(): string | undefined;
  /** Queues a publish, retried until acknowledged. */
  publish(channel: string, event: string, data: unknown, key: string | undefined): Promise<PublishAck>;
  /** The channel's position changed: save it (batched). */
  persist(): void;
}

/**
 * A channel of a `RealtimeClient`; get one with `client.channel(name)`. `P` maps its event names
 * to their payloads (from the client's event map; untyped: any name, `unknown` data).
 */
export class Channel<P = Record<string, unknown>> extends Emitter<ChannelEvents<P>> {
  /** Last delivered message's position; survives reconnects (and reloads with `storage`). */
  position: Position | undefined;
  /** Whether the application wants this channel subscribed. */
  wanted = false;
  /** Users present, as known from the subscribe result and join/leave events. */
  readonly present = new Set<string>();
  private subscribing: Array<{ resolve: (r: SubscribeResult) => void; reject: (e: Error) => void }> = [];

  /** @internal Created by `RealtimeClient.channel`. */
  constructor(
    readonly name: string,
    private readonly host: ChannelHost,
    /** Whether the subscription asks for join/leave events (set by `channel(name, { presence: true })`). */
    public presenceEvents: boolean,
  ) {
    super();
  }

  /**
   * Subscribes, now or as soon as connected, and again after every reconnect (recovering what
   * was missed). `since` starts from a position the app stored itself.
   */
  subscribe(options: { since?: Position } = {}): Promise<SubscribeResult> {
    if (options.since) this.position = options.since;
    this.wanted = true;
    return new Promise((resolve, reject) => {
      this.subscribing.push({ resolve, reject });
      this.host.sendSubscribe(this as Channel<object>);
    });
  }

  /** Stops delivery; no more recovery for this channel. */
  async unsubscribe(): Promise<void> {
    this.wanted = false;
    this.position = undefined;
    this.host.persist();
    await this.host.request({ t: 'unsub', ch: this.name });
  }

  /** Publishes; retried across reconnects until the server acknowledges it, and applied once. */
  publish<E extends keyof P & string>(
    event: E,
    data: P[E],
    options: { key?: string } = {},
  ): Promise<PublishAck> {
    return this.host.publish(this.name, event, data, options.key);
  }

  /** Users present in the channel (subscribe first), with each connection's presence state. */
  async members(): Promise<PresenceMember[]> {
    return (await this.host.request({ t: 'who', ch: this.name })) as PresenceMember[];
  }

  /** This connection's presence state, as last given to `updatePresence`. */
  private ownState: { state: unknown } | undefined;

  /**
   * Presence state of the other connections in the channel (with `presence: true`): connection
   * id -> its user and latest state. Kept from the member list and `update` events.
   */
  readonly states = new Map<string, { user: string; state: unknown }>();

  /**
   * Sets this connection's presence state in the channel (subscribe first; needs a user): members
   * get an `update` event with it, and `members()` lists it. Latest value wins: rapid updates are
   * coalesced by the server. Sent again after every resubscription. Rejects with
   * `presence-state-too-large` past the server's `maxPresenceStateBytes`.
   */
  async updatePresence(state: unknown): Promise<void> {
    this.ownState = { state: state ?? null };
    await this.host.request({ t: 'presence', ch: this.name, d: state ?? null });
  }

  /** @internal A connection's presence state changed (or it left: no `state`). */
  presenceUpdate(update: PresenceUpdate): void {
    if (update.connection === this.host.connectionId()) return;
    if ('state' in update) this.states.set(update.connection, { user: update.user, state: update.state });
    else if (!this.states.delete(update.connection)) return;
    this.fire('update', update);
  }

  /** @internal */
  subscribed(result: SubscribeResult): void {
    const before = this.position;
    if (result.recovered === false) this.fire('reset', result.reason ?? 'unknown');
    if (!before || result.recovered !== true) this.position = { ep: result.ep, off: result.off };
    this.host.persist();
    for (const s of this.subscribing.splice(0)) s.resolve(result);
    this.fire('subscribed', result);
    // After a reconnect the member list is fresh: report who left meanwhile, then who is new.
    if (result.members) {
      const now = new Set(result.members.map((m) => m.user));
      for (const user of [...this.present]) if (!now.has(user)) this.presence('leave', { user });
      for (const m of result.members) this.presence('join', m);
      // And so are the connections' states: those gone are reported gone, the others anew.
      const fresh = new Map<string, { user: string; state: unknown }>();
      for (const m of result.members)
        for (const [connection, state] of Object.entries(m.states ?? {}))
          fresh.set(connection, { user: m.user, state });
      for (const [connection, { user }] of [...this.states])
        if (!fresh.has(connection)) this.presenceUpdate({ user, connection });
      for (const [connection, { user, state }] of fresh) this.presenceUpdate({ user, connection, state });
    }
    // The server forgets a connection's state with its subscription: set it again.
    if (this.ownState) {
      this.host
        .request({ t: 'presence', ch: this.name, d: this.ownState.state })
        .catch((error: RequestError) => this.fire('error', error));
    }
  }

  /** @internal */
  subscribeFailed(error: RequestError): void {
    this.wanted = false;
    for (const s of this.subscribing.splice(0)) s.reject(error);
    this.fire('error', error);
  }

  /** @internal Delivers a message unless it was delivered already (by offset). */
  receive(m: Extract<ServerMessage, { t: 'msg' }>, own: boolean): void {
    const p = this.position;
    if (p && p.ep === m.ep && m.off <= p.off) return; // already delivered
    this.position = { ep: m.ep, off: m.off };
    this.host.persist();
    const message = { event: m.ev, data: m.d, offset: m.off, epoch: m.ep, own };
    this.fire('message', message as ChannelMessage<P>);
  }

  /** @internal Join/leave, each reported once per user (the member list and a live event may overlap). */
  presence(kind: 'join' | 'leave', member: PresenceMember): void {
    if (kind === 'join') {
      if (this.present.has(member.user)) return;
      this.present.add(member.user);
    } else {
      // The user's last connection left: so did the states of all its connections.
      for (const [connection, s] of [...this.states])
        if (s.user === member.user) this.presenceUpdate({ user: s.user, connection });
      if (!this.present.delete(member.user)) return;
    }
    this.fire(kind, member);
  }
}
