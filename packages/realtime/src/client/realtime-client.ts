// The reconnecting realtime client, for browsers and Node (no Node API used). It resubscribes and
// recovers channels after every reconnect, retries publishes with their ids until acknowledged
// (the server deduplicates), drops duplicate deliveries by offset, and follows the disconnect table.
import { type Codec, jsonCodec, subprotocolFor } from '../codec/codec.js';
import { DisconnectCode, disconnectAction } from '../codec/disconnect-codes.js';
import {
  type ClientMessage,
  type ErrorBody,
  ErrorCodes,
  type Position,
  PROTOCOL_VERSION,
  type PresenceMember,
  parseServerMessage,
  type ServerMessage,
  type SubscribeResult,
} from '../codec/messages.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { Emitter } from './emitter.js';
import { httpFallback } from './http-socket.js';

/** The part of the WHATWG WebSocket the client uses (browsers' and @ieum/websocket's both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** `localStorage`-shaped storage for surviving page reloads. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export type TransportName = 'websocket' | 'sse' | 'polling';

export interface RealtimeClientOptions {
  /** WebSocket implementation. Default `globalThis.WebSocket` (browsers, Node >= 22). */
  WebSocket?: WebSocketConstructor;
  /** Token sent in the hello; a function is called before every connection and on refresh. */
  token?: string | (() => string | Promise<string>);
  /** Default JSON. Must be one the server offers. */
  codec?: Codec;
  /** Reconnect backoff, or `false` to stay closed after the first disconnect. */
  reconnect?: Partial<BackoffOptions> | false;
  /** Publishes, emits and requests waiting to be sent or acknowledged. Default 1,000. */
  maxQueuedMessages?: number;
  /** Milliseconds a request, `members()` or `unsubscribe()` waits for its reply. Default 10,000. Publishes wait until acknowledged (retried across reconnects). */
  requestTimeoutMs?: number;
  /** Persist the client id, channel positions and unacknowledged publishes (e.g. `localStorage`). */
  storage?: StorageLike;
  /** Key under which `storage` keeps the state. Default `ieum-realtime`. */
  storageKey?: string;
  /**
   * Transports to try, in order: after a connection attempt on one fails before the server's
   * welcome, the next is tried. `sse` and `polling` are the HTTP fallbacks (JSON codec only).
   * Default `['websocket', 'sse', 'polling']`.
   */
  transports?: TransportName[];
  /**
   * While on a fallback, probe WebSocket this often (milliseconds) and move back to it when it
   * works. Default 30,000; 0 never.
   */
  upgradeProbeMs?: number;
  /** Random numbers in [0, 1) (tests). Default `Math.random`. */
  random?: () => number;
}

/** A failed request or publish: `code` is one of `ErrorCodes` or an application's code. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PublishAck {
  epoch: string;
  offset: number;
  /** The server had this message id already (a retry): it was not published twice. */
  duplicate: boolean;
}

export interface ChannelMessage<T = unknown> {
  event: string;
  data: T;
  offset: number;
  epoch: string;
  /** Published by this client. */
  own: boolean;
}

type ChannelEvents<T> = {
  message: (message: ChannelMessage<T>) => void;
  /** Subscribed (again): `result.recovered` says whether missed messages follow. */
  subscribed: (result: SubscribeResult) => void;
  /** Missed messages could not be recovered (history trimmed or reset): refetch state. */
  reset: (reason: string) => void;
  join: (member: PresenceMember) => void;
  leave: (member: PresenceMember) => void;
  error: (error: RequestError) => void;
};

interface PendingPublish {
  ch: string;
  ev: string;
  d: unknown;
  mid: string;
  key?: string;
  resolve?: (ack: PublishAck) => void;
  reject?: (error: Error) => void;
  /** Request id while in flight on the current connection. */
  id?: number;
}

export class Channel<T = unknown> extends Emitter<ChannelEvents<T>> {
  /** Last delivered message's position; survives reconnects (and reloads with `storage`). */
  position: Position | undefined;
  /** Whether the application wants this channel subscribed. */
  wanted = false;
  private subscribing: Array<{ resolve: (r: SubscribeResult) => void; reject: (e: Error) => void }> = [];

  constructor(
    readonly name: string,
    private readonly client: RealtimeClient,
    readonly presenceEvents: boolean,
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
      this.client.sendSubscribe(this);
    });
  }

  /** Stops delivery; no more recovery for this channel. */
  async unsubscribe(): Promise<void> {
    this.wanted = false;
    this.position = undefined;
    this.client.persist();
    await this.client.request0({ t: 'unsub', ch: this.name });
  }

  /** Publishes; retried across reconnects until the server acknowledges it, and applied once. */
  publish(event: string, data: T, options: { key?: string } = {}): Promise<PublishAck> {
    return this.client.publish(this.name, event, data, options.key);
  }

  /** Users present in the channel (subscribe first). */
  async members(): Promise<PresenceMember[]> {
    return (await this.client.request0({ t: 'who', ch: this.name })) as PresenceMember[];
  }

  /** @internal */
  subscribed(result: SubscribeResult): void {
    const before = this.position;
    if (result.recovered === false) this.fire('reset', result.reason ?? 'unknown');
    if (!before || result.recovered !== true) this.position = { ep: result.ep, off: result.off };
    this.client.persist();
    for (const s of this.subscribing.splice(0)) s.resolve(result);
    this.fire('subscribed', result);
    // After a reconnect the member list is fresh: report who left meanwhile, then who is new.
    if (result.members) {
      const now = new Set(result.members.map((m) => m.user));
      for (const user of [...this.present]) if (!now.has(user)) this.presence('leave', { user });
      for (const m of result.members) this.presence('join', m);
    }
  }

  /** @internal */
  subscribeFailed(error: RequestError): void {
    this.wanted = false;
    for (const s of this.subscribing.splice(0)) s.reject(error);
    this.fire('error', error);
  }

  /** @internal */
  receive(m: Extract<ServerMessage, { t: 'msg' }>, own: boolean): void {
    const p = this.position;
    if (p && p.ep === m.ep && m.off <= p.off) return; // already delivered
    this.position = { ep: m.ep, off: m.off };
    this.client.persist();
    this.fire('message', { event: m.ev, data: m.d as T, offset: m.off, epoch: m.ep, own });
  }

  /** Users present, as known from the subscribe result and join/leave events. */
  readonly present = new Set<string>();

  /** @internal Join/leave, each reported once per user (the member list and a live event may overlap). */
  presence(kind: 'join' | 'leave', member: PresenceMember): void {
    if (kind === 'join') {
      if (this.present.has(member.user)) return;
      this.present.add(member.user);
    } else if (!this.present.delete(member.user)) return;
    this.fire(kind, member);
  }
}

type ClientEvents = {
  state: (state: ConnectionState) => void;
  /** The connection closed: `action` is what the client does next (see the disconnect table). */
  disconnect: (info: { code: number; reason: string; action: string }) => void;
  error: (error: Error) => void;
};

interface Persisted {
  cid: string;
  seq: number;
  channels: Record<string, Position>;
  outbox: Array<Omit<PendingPublish, 'resolve' | 'reject' | 'id'>>;
}

function randomId(random: () => number): string {
  const c = globalThis.crypto;
  if (c?.getRandomValues) {
    const b = c.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }
  return Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
}

export class RealtimeClient extends Emitter<ClientEvents> {
  state: ConnectionState = 'connecting';
  /** Session id from the server's welcome (changes every connection). */
  sessionId: string | undefined;
  /** The user the server authenticated. */
  user: string | undefined;
  /** The transport of the current (or last) connection. */
  transport: TransportName;
  private ws: WebSocketLike | undefined;
  private readonly WS: WebSocketConstructor | undefined;
  private readonly transports: TransportName[];
  private transportIndex = 0;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private readonly codec: Codec;
  private readonly backoff: BackoffOptions | false;
  private readonly maxQueued: number;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private readonly channelsByName = new Map<string, Channel>();
  private readonly outbox: PendingPublish[] = [];
  /** Emits and requests waiting for a connection. */
  private readonly waiting: Array<{ message: ClientMessage; pending?: Pending }> = [];
  private readonly inFlight = new Map<number, Pending | { publish: PendingPublish } | { channel: Channel }>();
  private readonly handlers = new Map<string, (data: unknown) => unknown>();
  private cid: string;
  private seq = 0;
  private nextId = 1;
  private attempt = 0;
  private ready = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatMs = 0;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly url: string,
    private readonly options: RealtimeClientOptions = {},
  ) {
    super();
    this.WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.codec = options.codec ?? jsonCodec;
    const wanted = options.transports ?? ['websocket', 'sse', 'polling'];
    // Without a WebSocket implementation, or with a binary codec, some transports cannot run.
    this.transports = wanted.filter((t) =>
      t === 'websocket' ? this.WS !== undefined : this.codec.binary === false,
    );
    if (this.transports.length === 0) {
      throw new TypeError(
        `RealtimeClient: none of the transports ${wanted.join(', ')} can run here: ` +
          'pass { WebSocket } (e.g. from "@ieum/websocket"), or use the JSON codec for the HTTP fallbacks',
      );
    }
    this.transport = this.transports[0]!;
    this.backoff = options.reconnect === false ? false : { ...DEFAULT_BACKOFF, ...options.reconnect };
    this.maxQueued = options.maxQueuedMessages ?? 1000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.random = options.random ?? Math.random;
    this.cid = randomId(this.random);
    this.restore();
    this.connect();
    const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    g.addEventListener?.('online', () => {
      if (this.state === 'reconnecting' && !this.ws) {
        clearTimeout(this.reconnectTimer);
        this.connect();
      }
    });
  }

  /** The channel named `name` (one object per name). */
  channel<T = unknown>(name: string, options: { presence?: boolean } = {}): Channel<T> {
    let ch = this.channelsByName.get(name);
    if (!ch) {
      ch = new Channel<unknown>(name, this, options.presence ?? false);
      const saved = this.saved?.channels[name];
      if (saved) ch.position = saved;
      this.channelsByName.set(name, ch);
    }
    return ch as Channel<T>;
  }

  /** Answers server events (`emit`) and requests (`request`): the return value is the reply. */
  handle(event: string, handler: (data: unknown) => unknown): this {
    this.handlers.set(event, handler);
    return this;
  }

  /** Fire-and-forget event to the server; sent once connected (at most once). */
  emit(event: string, data: unknown): void {
    this.enqueue({ message: { t: 'emit', ev: event, d: data ?? null } });
  }

  /** Event with a reply. Not retried after a disconnect (it may have run): rejects with `disconnected`. */
  request<R = unknown>(event: string, data: unknown, options: { timeoutMs?: number } = {}): Promise<R> {
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
    clearInterval(this.probeTimer);
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.deadTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onclose = null;
      ws.close(DisconnectCode.NORMAL, 'client closed');
    }
    // Unacknowledged publishes stay in `storage` (a later client sends them once), but their
    // promises settle now: nobody would settle them after close.
    this.flushPersist();
    this.failAll(new RequestError(ErrorCodes.DISCONNECTED, 'the client was closed'), true);
  }

  /** @internal */
  publish(ch: string, ev: string, d: unknown, key: string | undefined): Promise<PublishAck> {
    if (this.state === 'closed')
      return Promise.reject(new RequestError(ErrorCodes.DISCONNECTED, 'the client is closed'));
    if (this.outbox.length + this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new RequestError('queue-full', `${this.maxQueued} messages are already waiting (maxQueuedMessages)`),
      );
    }
    return new Promise((resolve, reject) => {
      const p: PendingPublish = { ch, ev, d: d ?? null, mid: String(++this.seq), resolve, reject };
      if (key !== undefined) p.key = key;
      this.outbox.push(p);
      this.persist();
      if (this.ready) this.sendPublish(p);
    });
  }

  /** @internal Requests that are not retried (unsub, who). */
  request0(message: { t: 'unsub' | 'who'; ch: string }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        message: { ...message, id: 0 } as ClientMessage,
        pending: { resolve, reject, timeoutMs: this.requestTimeoutMs },
      });
    });
  }

  /** @internal */
  sendSubscribe(ch: Channel): void {
    if (!this.ready) return; // done on welcome
    const id = this.nextId++;
    this.inFlight.set(id, { channel: ch });
    this.write({
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
    if (this.ready) {
      this.sendNow(item);
      return;
    }
    if (this.outbox.length + this.waiting.length >= this.maxQueued) {
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
    this.write(m);
  }

  private sendPublish(p: PendingPublish): void {
    const id = this.nextId++;
    p.id = id;
    this.inFlight.set(id, { publish: p });
    this.write({
      t: 'pub',
      id,
      ch: p.ch,
      ev: p.ev,
      d: p.d,
      mid: p.mid,
      ...(p.key !== undefined ? { key: p.key } : {}),
    });
  }

  private write(message: ClientMessage): void {
    try {
      this.ws?.send(this.codec.encode(message) as string);
    } catch (error) {
      this.fire('error', error as Error);
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.fire('state', state);
  }

  private async connect(): Promise<void> {
    let token: string | undefined;
    try {
      const t = this.options.token;
      token = typeof t === 'function' ? await t() : t;
    } catch (error) {
      this.fire('error', error as Error);
      return this.scheduleReconnect();
    }
    if (this.state === 'closed') return;
    let ws: WebSocketLike;
    this.transport = this.transports[this.transportIndex % this.transports.length]!;
    const Ctor = this.transport === 'websocket' ? this.WS! : httpFallback(this.transport);
    try {
      ws = new Ctor(this.url, subprotocolFor(this.codec));
    } catch (error) {
      this.setState('closed');
      this.fire('error', error as Error);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.write({ t: 'hello', v: PROTOCOL_VERSION, cid: this.cid, ...(token ? { token } : {}) });
      this.armDeadTimer();
    };
    ws.onmessage = (event) => this.onData(event.data);
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.dropped(event.code, event.reason);
    };
  }

  private onData(raw: unknown): void {
    let m: ServerMessage;
    try {
      const data = typeof raw === 'string' ? raw : new Uint8Array(raw as ArrayBuffer);
      m = parseServerMessage(this.codec.decode(data));
    } catch (error) {
      this.fire('error', error as Error);
      this.abandon(DisconnectCode.PROTOCOL_ERROR, 'invalid message from the server');
      return;
    }
    this.armDeadTimer();
    switch (m.t) {
      case 'welcome':
        this.onWelcome(m);
        return;
      case 'msg': {
        const ch = this.channelsByName.get(m.ch);
        if (ch?.wanted) ch.receive(m, m.mid !== undefined);
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
      case 'refresh':
        return void this.refreshToken();
      case 'ping':
        this.write({ t: 'pong' });
        return;
      case 'pong':
        return;
    }
  }

  private onWelcome(m: Extract<ServerMessage, { t: 'welcome' }>): void {
    this.ready = true;
    this.sessionId = m.sid;
    this.user = m.user;
    this.heartbeatMs = m.hb;
    this.armDeadTimer();
    this.welcomedOn = this.transport;
    this.failuresBeforeWelcome = 0;
    this.scheduleUpgradeProbe();
    this.setState('open');
    for (const ch of this.channelsByName.values()) if (ch.wanted) this.sendSubscribe(ch);
    for (const p of this.outbox) this.sendPublish(p);
    for (const item of this.waiting.splice(0)) this.sendNow(item);
  }

  private onReply(m: Extract<ServerMessage, { t: 'res' }>): void {
    const entry = this.inFlight.get(m.id);
    if (!entry) return;
    this.inFlight.delete(m.id);
    const error = m.ok ? undefined : toError(m.err);
    if ('channel' in entry) {
      if (error) entry.channel.subscribeFailed(error);
      else entry.channel.subscribed(m.d as SubscribeResult);
    } else if ('publish' in entry) {
      const p = entry.publish;
      const i = this.outbox.indexOf(p);
      if (i >= 0) this.outbox.splice(i, 1);
      this.persist();
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
        this.write({
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
      if (m.id !== undefined) this.write({ t: 'res', id: m.id, ok: true, d: result ?? null });
    } catch (error) {
      const e = error as Error & { code?: string };
      if (m.id !== undefined) {
        this.write({
          t: 'res',
          id: m.id,
          ok: false,
          err: { code: e.code ?? ErrorCodes.HANDLER_ERROR, message: e.message },
        });
      }
    }
  }

  private async refreshToken(): Promise<void> {
    const t = this.options.token;
    if (typeof t !== 'function') return;
    try {
      const token = await t();
      this.write({ t: 'auth', token });
    } catch (error) {
      this.fire('error', error as Error);
    }
  }

  private armDeadTimer(): void {
    clearTimeout(this.deadTimer);
    // Before the welcome, the server's heartbeat is unknown: allow the hello timeout's worth.
    const ms = this.heartbeatMs > 0 ? this.heartbeatMs * 2 + 1000 : 15_000;
    this.deadTimer = setTimeout(
      () => this.abandon(DisconnectCode.HEARTBEAT_TIMEOUT, 'no heartbeat from the server'),
      ms,
    );
  }

  /** Gives up on the current socket without waiting for its close handshake. */
  private abandon(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(code === DisconnectCode.PROTOCOL_ERROR ? 1002 : 1000, reason);
    } catch {}
    this.dropped(code, reason);
  }

  /** Transport of the last connection the server welcomed (reconnects stay on it). */
  private welcomedOn: TransportName | undefined;
  private failuresBeforeWelcome = 0;

  private scheduleUpgradeProbe(): void {
    clearInterval(this.probeTimer);
    const every = this.options.upgradeProbeMs ?? 30_000;
    if (this.transport === 'websocket' || !this.WS || every <= 0 || !this.transports.includes('websocket'))
      return;
    this.probeTimer = setInterval(() => {
      const probe = new this.WS!(this.url, subprotocolFor(this.codec));
      probe.onerror = () => {};
      probe.onclose = null;
      probe.onopen = () => {
        probe.close(1000, 'probe');
        if (this.state !== 'open' || this.transport === 'websocket') return;
        clearInterval(this.probeTimer);
        this.transportIndex = this.transports.indexOf('websocket');
        this.abandon(DisconnectCode.GOING_AWAY, 'moving to websocket');
      };
    }, every);
  }

  private dropped(code: number, reason: string): void {
    clearInterval(this.probeTimer);
    // A connection that ends before the welcome counts against its transport: one failure moves
    // on from a transport that never worked, three from one that did (it may be a plain outage).
    if (!this.ready) {
      this.failuresBeforeWelcome++;
      if (this.failuresBeforeWelcome >= (this.welcomedOn === this.transport ? 3 : 1)) {
        this.transportIndex++;
        this.failuresBeforeWelcome = 0;
      }
    }
    // The backoff starts over after a connection that worked, unless the server closed it with
    // 1013 (try again later: overloaded): then the delays keep growing across welcomes, so an
    // overloaded server is not retried every few hundred milliseconds by every client.
    if (this.ready && code !== DisconnectCode.TRY_AGAIN_LATER) this.attempt = 0;
    this.ws = undefined;
    this.ready = false;
    clearTimeout(this.deadTimer);
    const action = this.state === 'closed' ? 'stop' : disconnectAction(code);
    this.fire('disconnect', { code, reason, action });
    // In-flight requests may or may not have run: they fail. Publishes are retried with their ids.
    for (const [id, entry] of this.inFlight) {
      this.inFlight.delete(id);
      if ('resolve' in entry) {
        clearTimeout(entry.timer);
        entry.reject(new RequestError(ErrorCodes.DISCONNECTED, 'the connection closed before the reply'));
      }
    }
    if (action === 'stop' || this.backoff === false) {
      this.setState('closed');
      this.failAll(new RequestError(ErrorCodes.DISCONNECTED, `disconnected (${code} ${reason})`), true);
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.backoff === false) return;
    if (this.attempt >= this.backoff.maxAttempts) {
      this.setState('closed');
      this.failAll(new RequestError(ErrorCodes.DISCONNECTED, 'gave up reconnecting (maxAttempts)'), true);
      return;
    }
    this.setState('reconnecting');
    const delay = backoffDelay(this.attempt++, this.backoff, this.random);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
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
    if (includeOutbox) for (const p of this.outbox.splice(0)) p.reject?.(error);
    for (const ch of this.channelsByName.values()) ch.subscribeFailed(error);
  }

  private saved: Persisted | undefined;

  private restore(): void {
    const s = this.options.storage;
    if (!s) return;
    try {
      const raw = s.getItem(this.options.storageKey ?? 'ieum-realtime');
      if (!raw) return;
      const p = JSON.parse(raw) as Persisted;
      if (typeof p.cid !== 'string' || typeof p.seq !== 'number') return;
      this.saved = p;
      this.cid = p.cid;
      this.seq = p.seq;
      for (const o of p.outbox ?? []) this.outbox.push({ ...o });
    } catch (error) {
      this.fire('error', error as Error);
    }
  }

  /** @internal Saves state to `storage` (batched). */
  persist(): void {
    if (!this.options.storage || this.persistTimer) return;
    this.persistTimer = setTimeout(() => this.flushPersist(), 100);
  }

  private flushPersist(): void {
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    const s = this.options.storage;
    if (!s) return;
    // Keep saved positions of channels this instance has not touched; unsubscribed ones go.
    const channels: Record<string, Position> = { ...this.saved?.channels };
    for (const ch of this.channelsByName.values()) {
      if (ch.position) channels[ch.name] = ch.position;
      else delete channels[ch.name];
    }
    const state: Persisted = {
      cid: this.cid,
      seq: this.seq,
      channels,
      outbox: this.outbox.map(({ ch, ev, d, mid, key }) => ({
        ch,
        ev,
        d,
        mid,
        ...(key !== undefined ? { key } : {}),
      })),
    };
    try {
      s.setItem(this.options.storageKey ?? 'ieum-realtime', JSON.stringify(state));
    } catch (error) {
      this.fire('error', error as Error);
    }
  }
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timeoutMs: number;
  timer?: ReturnType<typeof setTimeout>;
}

function toError(err: ErrorBody | undefined): RequestError {
  return new RequestError(err?.code ?? ErrorCodes.HANDLER_ERROR, err?.message ?? 'request failed');
}
