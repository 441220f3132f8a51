// The reconnecting realtime client, for browsers and Node (no Node API used). It resubscribes and
// recovers channels after every reconnect, retries publishes with their ids until acknowledged
// (the server deduplicates), drops duplicate deliveries by offset, and follows the disconnect table.
import { jsonCodec, subprotocolFor } from '../codec/codec.js';
import type {
  ChannelName,
  ChannelPayloads,
  ClientToServer,
  EventData,
  EventMapShape,
  EventName,
  EventReply,
  ServerToClient,
} from '../codec/event-map.js';
import {
  type ClientMessage,
  ErrorCodes,
  type Position,
  type ServerMessage,
  type SubscribeResult,
} from '../codec/messages.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { Channel, type ChannelHost, type PublishAck } from './channel.js';
import { ClientConnection, type ConnectionState, type DisconnectInfo } from './client-connection.js';
import type { ClientEvents, RealtimeClientOptions } from './client-options.js';
import { ClientStorage, DEFAULT_STORAGE_KEY, type PersistedState } from './client-storage.js';
import { DurableOutbox, hasIndexedDb } from './durable-outbox.js';
import { Emitter } from './emitter.js';
import { Outbox, type PendingPublish } from './outbox.js';
import { randomId } from './random-id.js';
import { RequestError, toRequestError } from './request-error.js';
import { canShareConnection, SharedConnection, sharedClientId } from './shared-connection.js';
import { DEFAULT_TRANSPORTS, type TransportName, TransportSelector } from './transport-selector.js';
import type { WebSocketConstructor } from './websocket-like.js';

export type { ConnectionState } from './client-connection.js';
export type { ClientEvents, RealtimeClientOptions } from './client-options.js';

/** A request or emit waiting for its reply. */
interface Pending {
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timeoutMs: number;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The reconnecting client. It connects at once; channels, publishes and requests made before the
 * connection opens wait for it. `M` is the application's event map (see `EventMapShape`), shared
 * with `RealtimeServer<M>`: event names, payloads and replies are then checked by the compiler.
 */
export class RealtimeClient<M extends EventMapShape = EventMapShape> extends Emitter<ClientEvents> {
  private readonly connection: ClientConnection | SharedConnection;
  /** This client's id among the tabs: the prefix of its message ids. */
  private readonly tabId: string;
  private durable: DurableOutbox | undefined;
  private durableCount = 0;
  private draining = false;
  /** Message id prefixes of this client: its tab id, and those of the publishes it restored. */
  private readonly ownPrefixes = new Set<string>();
  private readonly maxStored: number;
  private readonly maxQueued: number;
  private readonly requestTimeoutMs: number;
  private readonly channelsByName = new Map<string, Channel<object>>();
  private readonly channelHost: ChannelHost;
  private readonly outbox = new Outbox();
  /** Emits and requests waiting for a connection. */
  private readonly waiting: Array<{ message: ClientMessage; pending?: Pending }> = [];
  private readonly inFlight = new Map<
    number,
    Pending | { publish: PendingPublish } | { channel: Channel<object> }
  >();
  private readonly handlers = new Map<string, (data: unknown) => unknown>();
  private readonly storage: ClientStorage | undefined;
  private readonly saved: PersistedState | undefined;
  private cid: string;
  private seq = 0;
  private nextId = 1;

  /** @throws TypeError when no transport can run (no WebSocket and a binary codec). */
  constructor(
    readonly url: string,
    options: RealtimeClientOptions = {},
  ) {
    super();
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const codec = options.codec ?? jsonCodec;
    const random = options.random ?? Math.random;
    this.maxQueued = options.maxQueuedMessages ?? 1000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.cid = randomId(random);
    this.tabId = randomId(random).slice(0, 12);
    this.ownPrefixes.add(`${this.tabId}.`);
    this.maxStored = options.maxStoredPublishes ?? 1000;
    this.channelHost = {
      sendSubscribe: (ch) => this.sendSubscribe(ch),
      request: (message) => this.requestOnce(message),
      connectionId: () => this.connection.sessionId,
      publish: (ch, ev, d, key) => this.publish(ch, ev, d, key),
      persist: () => this.storage?.schedule(),
    };
    if (options.storage) {
      this.storage = new ClientStorage(
        options.storage,
        options.storageKey ?? DEFAULT_STORAGE_KEY,
        () => this.snapshot(),
        (error) => this.fire('error', error),
      );
      this.saved = this.storage.load();
      if (this.saved) {
        this.cid = this.saved.cid;
        this.seq = this.saved.seq;
        for (const o of this.saved.outbox) {
          this.outbox.add({ ...o });
          this.ownPrefixes.add(o.mid.slice(0, o.mid.indexOf('.') + 1));
        }
      }
    }
    const transports = new TransportSelector(options.transports ?? DEFAULT_TRANSPORTS, WS, codec);
    const connect = (clientId: string) =>
      new ClientConnection({
        url,
        codec,
        transports,
        backoff: options.reconnect === false ? false : { ...DEFAULT_BACKOFF, ...options.reconnect },
        token: options.token,
        upgradeProbeMs: options.upgradeProbeMs ?? 30_000,
        random,
        clientId: () => clientId,
      });
    const shared = (options.shareConnection ?? true) && canShareConnection();
    const name = options.sharedName ?? `${url} ${subprotocolFor(codec)}`;
    if (shared) {
      // One connection at a time uses the shared client id (the leader's, under the lock), and
      // message ids start with the tab's id: so they never collide, and a publish resent by
      // another tab, or after a restart, is deduplicated by the server.
      const cid = sharedClientId(name, random);
      this.connection = new SharedConnection({ name, tabId: this.tabId, connect: () => connect(cid) });
    } else {
      this.connection = connect(this.cid);
    }
    if (shared && (options.durableOutbox ?? true) && hasIndexedDb()) this.openDurable(name);
    this.connection
      .on('welcome', () => this.onWelcome())
      .on('message', (m) => this.onMessage(m))
      .on('state', (state) => this.fire('state', state))
      .on('disconnect', (info) => this.onDisconnect(info))
      .on('stopped', (reason) => this.failAll(new RequestError(ErrorCodes.DISCONNECTED, reason), true))
      .on('error', (error) => this.fire('error', error));
    this.connection.start();
  }

  /** The connection's state; `closed` is final. */
  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Session id from the server's welcome (changes every connection). */
  get sessionId(): string | undefined {
    return this.connection.sessionId;
  }

  /** The user the server authenticated. */
  get user(): string | undefined {
    return this.connection.user;
  }

  /** The transport of the current (or last) connection. */
  get transport(): TransportName {
    return this.connection.transport;
  }

  /** Whether this client holds the connection (false in the tabs that share another's). */
  get leader(): boolean {
    return this.connection instanceof SharedConnection ? this.connection.leader : true;
  }

  /**
   * The channel named `name` (one object per name). `presence: true` asks for join/leave events
   * (the server reports users it authenticated: see `authenticate`). Its payload types come from
   * the client's event map; `channel<{ tick: number }>('feed')` names them for one channel.
   */
  channel<P extends object = never, N extends ChannelName<M> = ChannelName<M>>(
    name: N,
    options: { presence?: boolean } = {},
  ): Channel<[P] extends [never] ? ChannelPayloads<M, N> : P> {
    let ch = this.channelsByName.get(name);
    if (!ch) {
      ch = new Channel<object>(name, this.channelHost, options.presence ?? false);
      const saved = this.saved?.channels[name];
      if (saved) ch.position = saved;
      this.channelsByName.set(name, ch);
    } else if (options.presence) {
      ch.presenceEvents = true; // from the next subscription on
    }
    return ch as Channel<[P] extends [never] ? ChannelPayloads<M, N> : P>;
  }

  /** Answers server events (`emit`) and requests (`request`): the return value is the reply. */
  handle<E extends EventName<ServerToClient<M>>>(
    event: E,
    handler: (
      data: EventData<ServerToClient<M>, E>,
    ) => EventReply<ServerToClient<M>, E> | Promise<EventReply<ServerToClient<M>, E>>,
  ): this {
    this.handlers.set(event, handler as (data: unknown) => unknown);
    return this;
  }

  /** Fire-and-forget event to the server; sent once connected (at most once). */
  emit<E extends EventName<ClientToServer<M>>>(event: E, data: EventData<ClientToServer<M>, E>): void {
    this.enqueue({ message: { t: 'emit', ev: event, d: data ?? null } });
  }

  /** Event with a reply. Not retried after a disconnect (it may have run): rejects with `disconnected`. */
  request<E extends EventName<ClientToServer<M>>>(
    event: E,
    data: EventData<ClientToServer<M>, E>,
    options: { timeoutMs?: number } = {},
  ): Promise<EventReply<ClientToServer<M>, E>> {
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (d: unknown) => void,
        reject,
        timeoutMs: options.timeoutMs ?? this.requestTimeoutMs,
      };
      this.enqueue({ message: { t: 'emit', id: 0, ev: event, d: data ?? null }, pending });
    });
  }

  /**
   * Closes for good (no reconnect). Pending requests and publishes reject with `disconnected`;
   * unacknowledged publishes stay in `storage` if configured, for a later client to send.
   */
  close(): void {
    this.connection.close();
    this.durable?.close();
    this.durable = undefined;
    // Unacknowledged publishes stay in `storage` (a later client sends them once), but their
    // promises settle now: nobody would settle them after close.
    this.storage?.flush();
    this.failAll(new RequestError(ErrorCodes.DISCONNECTED, 'the client was closed'), true);
  }

  private publish(ch: string, ev: string, d: unknown, key: string | undefined): Promise<PublishAck> {
    if (this.state === 'closed')
      return Promise.reject(new RequestError(ErrorCodes.DISCONNECTED, 'the client is closed'));
    if (this.outbox.size + this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new RequestError('queue-full', `${this.maxQueued} messages are already waiting (maxQueuedMessages)`),
      );
    }
    if (this.durable && this.durableCount >= this.maxStored) {
      this.fire('outboxFull', { max: this.maxStored });
      return Promise.reject(
        new RequestError('queue-full', `${this.maxStored} publishes are already stored (maxStoredPublishes)`),
      );
    }
    return new Promise((resolve, reject) => {
      const mid = `${this.tabId}.${++this.seq}`;
      const p: PendingPublish = { ch, ev, d: d ?? null, mid, resolve, reject };
      if (key !== undefined) p.key = key;
      this.outbox.add(p);
      this.storage?.schedule();
      if (this.durable) {
        this.durableCount++;
        const { resolve: _r, reject: _j, ...stored } = p;
        this.durable.put(stored).catch((error: Error) => this.fire('error', error));
      }
      if (this.connection.ready) this.sendPublish(p);
    });
  }

  /** Requests that are not retried (unsub, who). */
  private requestOnce(
    message: { t: 'unsub' | 'who'; ch: string } | { t: 'presence'; ch: string; d: unknown },
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        message: { ...message, id: 0 } as ClientMessage,
        pending: { resolve, reject, timeoutMs: this.requestTimeoutMs },
      });
    });
  }

  private sendSubscribe(ch: Channel<object>): void {
    if (!this.connection.ready) return; // done on welcome
    const id = this.nextId++;
    this.inFlight.set(id, { channel: ch });
    this.connection.send({
      t: 'sub',
      id,
      ch: ch.name,
      ...(ch.position ? { since: ch.position } : {}),
      ...(ch.presenceEvents ? { presence: true } : {}),
    });
  }

  private enqueue(item: { message: ClientMessage; pending?: Pending }): void {
    if (this.state === 'closed') {
      item.pending?.reject(new RequestError(ErrorCodes.DISCONNECTED, 'the client is closed'));
      return;
    }
    if (this.connection.ready) {
      this.sendNow(item);
      return;
    }
    if (this.outbox.size + this.waiting.length >= this.maxQueued) {
      const error = new RequestError(
        'queue-full',
        `${this.maxQueued} messages are already waiting (maxQueuedMessages)`,
      );
      if (item.pending) item.pending.reject(error);
      else this.fire('error', error);
      return;
    }
    this.waiting.push(item);
  }

  private sendNow(item: { message: ClientMessage; pending?: Pending }): void {
    const m = item.message as ClientMessage & { id?: number };
    if (item.pending) {
      const id = this.nextId++;
      m.id = id;
      const pending = item.pending;
      pending.timer = setTimeout(() => {
        this.inFlight.delete(id);
        pending.reject(new RequestError(ErrorCodes.TIMEOUT, `no reply within ${pending.timeoutMs} ms`));
      }, pending.timeoutMs);
      this.inFlight.set(id, pending);
    }
    this.connection.send(m);
  }

  private sendPublish(p: PendingPublish): void {
    const id = this.nextId++;
    p.id = id;
    this.inFlight.set(id, { publish: p });
    this.connection.send({
      t: 'pub',
      id,
      ch: p.ch,
      ev: p.ev,
      d: p.d,
      mid: p.mid,
      ...(p.key !== undefined ? { key: p.key } : {}),
    });
  }

  private onMessage(m: ServerMessage): void {
    switch (m.t) {
      case 'msg': {
        const ch = this.channelsByName.get(m.ch);
        if (ch?.wanted)
          ch.receive(m, m.mid !== undefined && this.ownPrefixes.has(m.mid.slice(0, m.mid.indexOf('.') + 1)));
        return;
      }
      case 'res':
        this.onReply(m);
        return;
      case 'emit':
        return void this.onEmit(m);
      case 'join':
      case 'leave':
        this.channelsByName
          .get(m.ch)
          ?.presence(m.t, { user: m.user, ...(m.info !== undefined ? { info: m.info } : {}) });
        return;
      case 'update':
        this.channelsByName
          .get(m.ch)
          ?.presenceUpdate({ user: m.user, connection: m.conn, ...('d' in m ? { state: m.d } : {}) });
        return;
    }
  }

  private onWelcome(): void {
    for (const ch of this.channelsByName.values()) if (ch.wanted) this.sendSubscribe(ch);
    for (const p of this.outbox) this.sendPublish(p);
    for (const item of this.waiting.splice(0)) this.sendNow(item);
    if (this.leader) void this.drainDurable();
  }

  private openDurable(name: string): void {
    DurableOutbox.open(name)
      .then(async (durable) => {
        if (this.state === 'closed') return durable.close();
        this.durable = durable;
        // Publishes made while it opened are stored now.
        for (const { resolve: _r, reject: _j, id: _i, ...stored } of this.outbox) await durable.put(stored);
        this.durableCount = await durable.count();
        if (this.connection.ready && this.leader) await this.drainDurable();
      })
      .catch((error: Error) => this.fire('error', error));
  }

  /**
   * The leader sends what the durable outbox holds: publishes of tabs (or browser sessions) that
   * closed before the server acknowledged them. Those of live tabs are sent by them as well; the
   * server publishes each message id once.
   */
  private async drainDurable(): Promise<void> {
    const durable = this.durable;
    if (!durable || this.draining) return;
    this.draining = true;
    try {
      const stored = await durable.all();
      const mine = new Set<string>();
      for (const p of this.outbox) mine.add(p.mid);
      for (const s of stored) {
        if (mine.has(s.mid) || !this.connection.ready) continue;
        const p: PendingPublish = { ...s };
        this.outbox.add(p);
        this.sendPublish(p);
      }
    } finally {
      this.draining = false;
    }
  }

  private onDisconnect(info: DisconnectInfo): void {
    this.fire('disconnect', info);
    // In-flight requests may or may not have run: they fail. Publishes are retried with their ids.
    for (const [id, entry] of this.inFlight) {
      this.inFlight.delete(id);
      if ('resolve' in entry) {
        clearTimeout(entry.timer);
        entry.reject(new RequestError(ErrorCodes.DISCONNECTED, 'the connection closed before the reply'));
      }
    }
  }

  private onReply(m: Extract<ServerMessage, { t: 'res' }>): void {
    const entry = this.inFlight.get(m.id);
    if (!entry) return;
    this.inFlight.delete(m.id);
    const error = m.ok ? undefined : toRequestError(m.err);
    if ('channel' in entry) {
      if (error) entry.channel.subscribeFailed(error);
      else entry.channel.subscribed(m.d as SubscribeResult);
    } else if ('publish' in entry) {
      const p = entry.publish;
      this.outbox.remove(p);
      this.storage?.schedule();
      if (this.durable) {
        this.durableCount = Math.max(0, this.durableCount - 1);
        this.durable.delete(p.mid).catch((error: Error) => this.fire('error', error));
      }
      if (error) p.reject?.(error);
      else {
        const d = m.d as { ep: string; off: number; dup: boolean };
        p.resolve?.({ epoch: d.ep, offset: d.off, duplicate: d.dup });
      }
    } else {
      clearTimeout(entry.timer);
      if (error) entry.reject(error);
      else entry.resolve(m.d);
    }
  }

  private async onEmit(m: Extract<ServerMessage, { t: 'emit' }>): Promise<void> {
    const handler = this.handlers.get(m.ev);
    if (!handler) {
      if (m.id !== undefined) {
        this.connection.send({
          t: 'res',
          id: m.id,
          ok: false,
          err: { code: ErrorCodes.UNKNOWN_EVENT, message: `no handler for "${m.ev}"` },
        });
      }
      return;
    }
    try {
      const result = await handler(m.d);
      if (m.id !== undefined) this.connection.send({ t: 'res', id: m.id, ok: true, d: result ?? null });
    } catch (error) {
      const e = error as Error & { code?: string };
      if (m.id !== undefined) {
        this.connection.send({
          t: 'res',
          id: m.id,
          ok: false,
          err: { code: e.code ?? ErrorCodes.HANDLER_ERROR, message: e.message },
        });
      }
    }
  }

  private failAll(error: RequestError, includeOutbox: boolean): void {
    for (const [id, entry] of this.inFlight) {
      this.inFlight.delete(id);
      if ('resolve' in entry) {
        clearTimeout(entry.timer);
        entry.reject(error);
      }
    }
    for (const item of this.waiting.splice(0)) item.pending?.reject(error);
    if (includeOutbox) for (const p of this.outbox.takeAll()) p.reject?.(error);
    for (const ch of this.channelsByName.values()) ch.subscribeFailed(error);
  }

  /** The state to store: saved positions of channels this instance has not touched are kept. */
  private snapshot(): PersistedState {
    const channels: Record<string, Position> = { ...this.saved?.channels };
    for (const ch of this.channelsByName.values()) {
      if (ch.position) channels[ch.name] = ch.position;
      else delete channels[ch.name];
    }
    return { cid: this.cid, seq: this.seq, channels, outbox: this.outbox.stored() };
  }
}
