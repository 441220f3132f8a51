// One client connection on the server: hello and authentication, the message loop, channel
// subscriptions with recovery, requests in both directions, heartbeats and limits.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isValidCloseCode } from '@ieum/websocket';
import type { PublishResult } from '../adapter/adapter.js';
import { RealtimeError } from '../adapter/realtime-error.js';
import type { Codec } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import type { EventData, EventMapShape, EventName, EventReply, ServerToClient } from '../codec/event-map.js';
import {
  type ClientMessage,
  type ErrorBody,
  ErrorCodes,
  isName,
  MAX_NAME_LENGTH,
  PROTOCOL_VERSION,
  ProtocolViolation,
  parseClientMessage,
  type ServerMessage,
} from '../codec/messages.js';
import { checkPayload } from '../codec/payload-limits.js';
import { OutboundQueue } from '../transports/outbound-queue.js';
import { TokenBucket } from '../transports/rate-limit.js';
import { requestUrl } from '../transports/request-url.js';
import {
  isShared,
  type Outgoing,
  type SharedMessage,
  type Transport,
  type TransportKind,
} from '../transports/transport.js';
import { ChannelRate } from './channel-rate.js';
import { ChannelSubscriptions } from './channel-subscriptions.js';
import { truncateReason } from './close-reason.js';
import type { AuthResult } from './hooks.js';
import type { LiveBatch, LiveMessage } from './hub.js';
import { PresenceWriter } from './presence-writer.js';
import type { SessionDeps, SessionOptions } from './session-deps.js';
import { SessionInput } from './session-input.js';

export class Connection<M extends EventMapShape = EventMapShape> {
  /** Session id, random, unique per connection. */
  readonly id = randomBytes(9).toString('base64url');
  /** Authenticated user id (undefined for anonymous connections). */
  user: string | undefined;
  /** What the authentication hook returned as `info`. */
  info: unknown;
  /** Free slot for the application. */
  data: Record<string, unknown> = {};
  private clientId = '';
  private ready = false;
  /** The server decided to close (or the transport closed): nothing the peer sends acts any more. */
  private closing = false;
  private closed = false;
  private readonly subscriptions: ChannelSubscriptions<Connection>;
  private readonly queue: OutboundQueue;
  private readonly subscribeBucket: TokenBucket | undefined;
  private readonly channelRate: ChannelRate | undefined;
  /** This connection's presence state writes, latest value per channel. */
  private readonly presenceWriter: PresenceWriter;
  /** Received messages, in order and within the input limits. */
  private readonly input: SessionInput;
  private handlersInFlight = 0;
  /** Wakes the input waiting for a handler slot (`maxPendingInput.handlers`). */
  private handlerReturned: (() => void) | undefined;
  private lastSeen = Date.now();
  private helloTimer: NodeJS.Timeout | undefined;
  private expiryTimers: NodeJS.Timeout[] = [];
  private nextRequestId = 1;
  private readonly requests = new Map<
    number,
    { resolve: (d: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();

  /** How this connection reaches its client. */
  readonly transport: TransportKind;
  private readonly deps: SessionDeps<Connection>;
  private readonly options: SessionOptions<Connection>;

  /** @internal Sessions are created by the server (`RealtimeServer`) for each client. */
  constructor(
    deps: SessionDeps<Connection>,
    readonly ws: Transport,
    readonly req: IncomingMessage,
    readonly codec: Codec,
  ) {
    this.deps = deps;
    const o = deps.options;
    this.options = o;
    this.transport = ws.kind;
    this.queue = new OutboundQueue(ws, o.outbound);
    this.subscriptions = new ChannelSubscriptions<Connection>(
      this,
      {
        closing: () => this.closing,
        clientId: () => this.clientId,
        fail: (code, reason) => this.fail(code, reason),
        reply: (id, data) => this.reply(id, data),
        send: (data, key) => this.sendEncoded(data, key),
        sendLive: (messages) => this.sendLive(messages),
        resumed: (recovered) =>
          this.deps.metrics?.recoveries?.inc({ outcome: recovered ? 'recovered' : 'reset' }),
      },
      deps.adapter,
      deps.hub,
      this.queue,
      o.outbound,
      deps.reportError,
    );
    this.subscribeBucket = o.subscribeRateLimit ? new TokenBucket(o.subscribeRateLimit) : undefined;
    this.input = new SessionInput(
      o,
      {
        closing: () => this.closing,
        fail: (code, reason) => this.fail(code, reason),
        pause: () => ws.pause(),
        resume: () => ws.resume(),
      },
      deps.reportError,
    );
    this.channelRate = o.channelRate
      ? new ChannelRate(o.channelRate, (ch) => this.subscriptions.has(ch))
      : undefined;
    this.presenceWriter = new PresenceWriter(
      (channel, state) => deps.adapter.presenceUpdate(channel, this.user ?? '', this.id, state),
      o.presenceFlushIntervalMs,
      deps.reportError,
    );
    deps.registry.adopt(this);
    ws.on('message', (data, isBinary) => this.onData(data, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.on('error', () => {}); // the close event follows with the code
    this.helloTimer = setTimeout(
      () => this.fail(DisconnectCode.PROTOCOL_ERROR, 'no hello in time'),
      o.helloTimeoutMs,
    );
  }

  get queuedMessages(): number {
    return this.queue.length;
  }

  /** Channels this connection is subscribed to. */
  get channels(): string[] {
    return this.subscriptions.channels();
  }

  /**
   * Closes with `code` (see `DisconnectCode`) and a short reason. From this moment nothing the
   * peer sends is acted on, its subscriptions and presence end, and nothing more is sent to it;
   * a peer that does not answer the close frame within `closeTimeoutMs` is cut off.
   */
  close(code: number = DisconnectCode.NORMAL, reason = ''): void {
    // Checked before anything ends: a code the transport would refuse must not leave the
    // connection released on this side and open on the wire.
    if (!isValidCloseCode(code)) {
      throw new RangeError(
        `Connection.close: ${code} may not be sent in a close frame (RFC 6455 §7.4); use 1000, 1001 or a code from 3000-4999`,
      );
    }
    if (this.closing) return;
    this.release();
    this.ws.close(code, truncateReason(reason));
  }

  private fail(code: number, reason: string): void {
    this.close(code, reason);
  }

  /**
   * Sends a direct event to this connection only (typed by the server's event map `M`). `key` names the value it carries for the
   * `latest` slow-consumer policy: while this connection's outbound queue is backed up, a queued
   * emit of the same event and key is replaced by this one, so a slow client gets the newest
   * state instead of a backlog (game snapshots, gauges). Keys of emits never match keys of
   * channel messages.
   */
  emit<E extends EventName<ServerToClient<M>>>(
    event: E,
    data: EventData<ServerToClient<M>, E>,
    options: { key?: string } = {},
  ): void {
    const message = this.codec.encode({ t: 'emit', ev: event, d: data ?? null });
    // Channel keys are `<channel>\u0000<key>` and channel names hold no NUL: these cannot collide.
    this.sendEncoded(message, options.key === undefined ? undefined : `\u0000${event}\u0000${options.key}`);
  }

  /** Sends an event and resolves with the client's reply (rejects on error, timeout or disconnect). */
  request<E extends EventName<ServerToClient<M>>>(
    event: E,
    data: EventData<ServerToClient<M>, E>,
    options: { timeoutMs?: number } = {},
  ): Promise<EventReply<ServerToClient<M>, E>> {
    if (this.closing)
      return Promise.reject(new RealtimeError(ErrorCodes.DISCONNECTED, 'the connection is closed'));
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const ms = options.timeoutMs ?? this.options.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new RealtimeError(ErrorCodes.TIMEOUT, `no reply to "${event}" within ${ms} ms`));
      }, ms);
      this.requests.set(id, { resolve: resolve as (data: unknown) => void, reject, timer });
      this.send({ t: 'emit', id, ev: event, d: data ?? null });
    });
  }

  /** Subscribes this connection to `channel` from the server side (no recovery, no reply). */
  async join(channel: string, options: { presence?: boolean } = {}): Promise<void> {
    await this.subscriptions.subscribe(channel, undefined, options.presence ?? false);
  }

  async leave(channel: string): Promise<void> {
    this.presenceWriter.drop(channel);
    await this.subscriptions.unsubscribe(channel);
  }

  private send(message: ServerMessage): void {
    this.sendEncoded(this.codec.encode(message));
  }

  private sendEncoded(data: Outgoing, key?: string): void {
    if (this.closing) return;
    const result = this.queue.push(data, key);
    const m = this.deps.metrics;
    if (result === 'overflow') {
      this.queue.clear();
      this.fail(DisconnectCode.SLOW_CONSUMER, 'outbound queue full');
      return;
    }
    if (result === 'dropped' || result === 'replaced') m?.dropped.inc();
    if (result === 'dropped') return;
    const raw = isShared(data) ? data.data : data;
    if (m) {
      m.messagesOut.inc();
      m.bytesOut.inc(typeof raw === 'string' ? raw.length : raw.byteLength);
    }
    for (const tap of this.deps.taps) tap.sent?.(this, raw);
  }

  /** `sendEncoded` for each of a fan-out's messages, with the metrics counted once. */
  private sendLive(messages: readonly LiveMessage[]): void {
    if (this.closing) return;
    const codec = this.codec;
    let sent = 0;
    let bytes = 0;
    let dropped = 0;
    for (let i = 0; i < messages.length; i++) {
      const live = messages[i]!;
      const data = live.shared(codec);
      const result = this.queue.push(data, live.queueKey);
      if (result === 'overflow') {
        this.queue.clear();
        this.fail(DisconnectCode.SLOW_CONSUMER, 'outbound queue full');
        break;
      }
      if (result === 'dropped' || result === 'replaced') dropped++;
      if (result !== 'dropped') {
        sent++;
        const raw = data.data;
        bytes += typeof raw === 'string' ? raw.length : raw.byteLength;
        if (this.deps.taps.size !== 0) for (const tap of this.deps.taps) tap.sent?.(this, raw);
      }
    }
    const m = this.deps.metrics;
    if (m) {
      if (dropped !== 0) m.dropped.inc(dropped);
      if (sent !== 0) {
        m.messagesOut.inc(sent);
        m.bytesOut.inc(bytes);
      }
    }
  }

  private onData(data: unknown, isBinary: boolean): void {
    // The server decided to close: what the peer sends until the TCP connection ends is dropped.
    if (this.closing) return;
    this.lastSeen = Date.now();
    // binaryType is 'nodebuffer' (the default): every message arrives as one Buffer.
    const bytes = data as Buffer;
    const m = this.deps.metrics;
    m?.messagesIn.inc();
    m?.bytesIn.inc(bytes.length);
    for (const tap of this.deps.taps) tap.received?.(this, bytes, isBinary);
    if (!this.input.admit(bytes.length)) return;
    if (this.input.idle) {
      // Nothing waiting: decoded now, so pings, pongs and replies act at once.
      const message = this.decode(bytes, isBinary);
      if (message && !this.actNow(message)) this.input.enqueue(() => this.process(message), bytes.length);
      return;
    }
    // Behind earlier messages: kept as the bytes it arrived as until its turn. Decoded, a message
    // can take ~60 times its size (1 MiB of MessagePack empty maps is a million objects), and up
    // to `maxPendingInput` of them wait here.
    this.input.enqueue(async () => {
      if (this.closing) return;
      const message = this.decode(bytes, isBinary);
      if (message && !this.actNow(message)) await this.process(message);
    }, bytes.length);
  }

  /** The message in `bytes`, or undefined after closing the connection with 4400. */
  private decode(bytes: Buffer, isBinary: boolean): ClientMessage | undefined {
    try {
      return parseClientMessage(this.codec.decode(isBinary ? bytes : bytes.toString('utf8')));
    } catch (error) {
      this.fail(DisconnectCode.PROTOCOL_ERROR, (error as Error).message);
      return undefined;
    }
  }

  /** Handles the messages that need no turn (heartbeats, replies); false for the others. */
  private actNow(message: ClientMessage): boolean {
    if (message.t === 'ping') this.send({ t: 'pong' });
    else if (message.t === 'res') this.onReply(message);
    else if (message.t !== 'pong') return false;
    return true;
  }

  private async process(message: ClientMessage): Promise<void> {
    if (this.closing) return;
    if (!this.ready && message.t !== 'hello') {
      return this.fail(DisconnectCode.PROTOCOL_ERROR, `expected hello, got ${message.t}`);
    }
    if ((message.t === 'sub' || message.t === 'unsub') && this.subscribeBucket) {
      // Over `subscribeRateLimit`, subscriptions wait their turn (and the client's later messages
      // with them; past `maxPendingInput` its socket is paused) rather than fail.
      const wait = this.subscribeBucket.reserve();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.closing) return;
    }
    switch (message.t) {
      case 'hello':
        return this.onHello(message);
      case 'auth':
        return this.onAuth(message.token);
      case 'sub': {
        const denied = await this.denied(message.ch, 'subscribe');
        if (denied) return this.reply(message.id, undefined, denied);
        const max = this.options.maxSubscriptionsPerConnection;
        if (!this.subscriptions.has(message.ch) && this.subscriptions.size >= max) {
          return this.reply(message.id, undefined, {
            code: ErrorCodes.TOO_MANY_SUBSCRIPTIONS,
            message: `at most ${max} subscriptions per connection: unsubscribe first`,
          });
        }
        if (this.channelRate && !this.channelRate.admit(message.ch))
          return this.reply(message.id, undefined, newChannelsRefused());
        try {
          await this.subscriptions.subscribe(
            message.ch,
            message.since,
            message.presence ?? false,
            message.id,
          );
        } catch (error) {
          // An adapter refusing on purpose (e.g. too many channels): the client is told why.
          if (!(error instanceof RealtimeError)) throw error;
          await this.subscriptions.unsubscribe(message.ch);
          return this.reply(message.id, undefined, { code: error.code, message: error.message });
        }
        return;
      }
      case 'unsub':
        this.presenceWriter.drop(message.ch);
        await this.subscriptions.unsubscribe(message.ch);
        return this.reply(message.id, null);
      case 'pub': {
        const denied = await this.denied(message.ch, 'publish');
        if (denied) return this.reply(message.id, undefined, denied);
        const maxId = this.options.maxMessageIdLength;
        if (message.mid.length > maxId) {
          return this.reply(message.id, undefined, {
            code: ErrorCodes.MESSAGE_ID_TOO_LONG,
            message: `pub.mid may be at most ${maxId} characters`,
          });
        }
        if (this.channelRate && !this.channelRate.admit(message.ch))
          return this.reply(message.id, undefined, newChannelsRefused());
        let data = message.d;
        const hook = this.options.beforePublish;
        if (hook) {
          try {
            data = await hook({ channel: message.ch, event: message.ev, data, connection: this });
          } catch (error) {
            if (!(error instanceof RealtimeError)) this.deps.reportError(error as Error);
            const body =
              error instanceof RealtimeError
                ? { code: error.code, message: error.message }
                : { code: ErrorCodes.HANDLER_ERROR, message: 'beforePublish failed' };
            return this.reply(message.id, undefined, body);
          }
        }
        // Closed while the hooks ran (its token expired, say): the publish must not happen.
        if (this.closing) return;
        let r: PublishResult;
        try {
          // The server's one publish path: the payload is checked there, once for every codec.
          r = await this.deps.hub.publish(message.ch, message.ev, data ?? null, {
            mid: `${this.user ?? ''}\u0000${this.clientId}\u0000${message.mid}`,
            ...(message.key !== undefined ? { key: message.key } : {}),
          });
        } catch (error) {
          // Refused: a payload past the limits, or an adapter refusing on purpose (e.g. too many
          // channels). The client is told why.
          if (!(error instanceof RealtimeError)) throw error;
          return this.reply(message.id, undefined, { code: error.code, message: error.message });
        }
        return this.reply(message.id, { ep: r.epoch, off: r.offset, dup: r.duplicate });
      }
      case 'presence': {
        // Accepted states are written to the adapter latest value first (`PresenceWriter`).
        const refused = this.presenceRefusal(message);
        if (!refused) this.presenceWriter.set(message.ch, message.d ?? null);
        return this.reply(message.id, null, refused);
      }
      case 'who':
        if (!this.subscriptions.has(message.ch)) {
          return this.reply(message.id, undefined, {
            code: ErrorCodes.NOT_SUBSCRIBED,
            message: `subscribe to "${message.ch}" before listing its presence`,
          });
        }
        return this.reply(message.id, await this.deps.adapter.presenceList(message.ch));
      case 'emit':
        // Handlers run concurrently with later messages; only the reply waits for them.
        // At `maxPendingInput.handlers` in flight, this message (and the input behind it, which
        // then pauses the socket past `maxPendingInput`) waits until one returns.
        while (this.handlersInFlight >= this.options.maxPendingInput.handlers) {
          await new Promise<void>((resolve) => {
            this.handlerReturned = resolve;
          });
          if (this.closing) return;
        }
        this.handlersInFlight++;
        void this.onEmit(message.ev, message.d, message.id).finally(() => {
          this.handlersInFlight--;
          const wake = this.handlerReturned;
          this.handlerReturned = undefined;
          wake?.();
        });
        return;
    }
  }

  /** Why this connection may not set `message` as its presence state, if it may not. */
  private presenceRefusal(message: Extract<ClientMessage, { t: 'presence' }>): ErrorBody | undefined {
    if (this.user === undefined) {
      return {
        code: ErrorCodes.NO_USER,
        message: 'presence needs an authenticated user (see the authenticate option)',
      };
    }
    if (!this.subscriptions.has(message.ch)) {
      return {
        code: ErrorCodes.NOT_SUBSCRIBED,
        message: `subscribe to "${message.ch}" before setting presence there`,
      };
    }
    const max = this.options.maxPresenceStateBytes;
    const check = checkPayload(message.d, {
      maxPayloadDepth: this.options.payload.maxPayloadDepth,
      maxPayloadBytes: max,
    });
    if (check.ok) return undefined;
    return check.code === ErrorCodes.PAYLOAD_TOO_LARGE
      ? {
          code: ErrorCodes.PRESENCE_STATE_TOO_LARGE,
          message: `presence state larger than maxPresenceStateBytes (${max} bytes): send less`,
        }
      : { code: check.code, message: check.message };
  }

  private reply(id: number, data: unknown, err?: ErrorBody): void {
    this.send(err ? { t: 'res', id, ok: false, err } : { t: 'res', id, ok: true, d: data ?? null });
  }

  private async denied(channel: string, action: 'subscribe' | 'publish'): Promise<ErrorBody | undefined> {
    if (channel.startsWith('$')) {
      return { code: ErrorCodes.FORBIDDEN, message: 'channel names starting with $ are reserved' };
    }
    const authorize = this.options.authorizeChannel;
    if (!authorize) return undefined;
    const ok = await authorize({ channel, action, user: this.user, info: this.info, connection: this });
    return ok ? undefined : { code: ErrorCodes.FORBIDDEN, message: `may not ${action} to "${channel}"` };
  }

  private async onHello(hello: Extract<ClientMessage, { t: 'hello' }>): Promise<void> {
    if (this.ready) return this.fail(DisconnectCode.PROTOCOL_ERROR, 'hello sent twice');
    clearTimeout(this.helloTimer);
    if (hello.v !== PROTOCOL_VERSION) {
      return this.fail(DisconnectCode.PROTOCOL_ERROR, `unsupported protocol version ${hello.v}`);
    }
    const maxId = this.options.maxMessageIdLength;
    if (hello.cid.length > maxId) {
      return this.fail(DisconnectCode.PROTOCOL_ERROR, `hello.cid may be at most ${maxId} characters`);
    }
    this.clientId = hello.cid;
    const auth = await this.authenticate(hello.token ?? this.tokenFromRequest());
    if (!auth || this.closing) return;
    this.ready = true;
    this.ws.authenticated?.();
    this.deps.registry.registered(this);
    this.send({
      t: 'welcome',
      v: PROTOCOL_VERSION,
      sid: this.id,
      hb: this.options.heartbeatIntervalMs,
      ...(this.user !== undefined ? { user: this.user } : {}),
    });
  }

  private tokenFromRequest(): string | undefined {
    const header = this.req.headers.authorization;
    if (header?.startsWith('Bearer ')) return header.slice(7).trim();
    return requestUrl(this.req)?.searchParams.get('token') ?? undefined;
  }

  private async authenticate(
    token: string | undefined,
  ): Promise<AuthResult | { user: undefined } | undefined> {
    const hook = this.options.authenticate;
    if (!hook) return { user: undefined };
    let result: AuthResult;
    try {
      result = await hook({ token, req: this.req });
      if (this.closing) return undefined;
      // The user id becomes a storage key (presence, deduplication): a lone surrogate or a NUL
      // could merge two users, and its length is paid in every key.
      if (!result || !isName(result.user)) {
        throw new Error(
          `authenticate must return { user: a non-empty, well-formed string without NUL, at most ${MAX_NAME_LENGTH} characters }`,
        );
      }
      // `info` is stored with presence and sent to every member: the checks of a publish apply.
      if (result.info !== undefined) {
        const check = checkPayload(result.info, this.options.payload);
        if (!check.ok) {
          this.deps.reportError(new Error(`authenticate returned presence info refused: ${check.message}`));
          throw new Error(`presence info refused (${check.code})`);
        }
      }
    } catch (error) {
      this.fail(DisconnectCode.UNAUTHORIZED, (error as Error).message || 'unauthorized');
      return undefined;
    }
    if (this.user !== undefined && result.user !== this.user) {
      this.fail(DisconnectCode.FORBIDDEN, 'a refreshed token must name the same user');
      return undefined;
    }
    this.user = result.user;
    this.info = result.info;
    this.scheduleExpiry(result.expiresAt);
    return result;
  }

  private scheduleExpiry(expiresAt: number | undefined): void {
    for (const t of this.expiryTimers) clearTimeout(t);
    this.expiryTimers = [];
    if (expiresAt === undefined) return;
    const left = expiresAt - Date.now();
    if (left <= 0) {
      this.fail(DisconnectCode.TOKEN_EXPIRED, 'token expired');
      return;
    }
    const lead = this.options.tokenRefreshLeadMs;
    this.expiryTimers.push(setTimeout(() => this.send({ t: 'refresh' }), Math.max(0, left - lead)));
    this.expiryTimers.push(setTimeout(() => this.fail(DisconnectCode.TOKEN_EXPIRED, 'token expired'), left));
  }

  private async onAuth(token: string): Promise<void> {
    await this.authenticate(token);
  }

  /** @internal Live messages from the hub's fan-out (encoded and framed once for all subscribers). */
  deliver(batch: LiveBatch): void {
    this.subscriptions.deliver(batch);
  }

  /** @internal Gathers what this connection writes until `uncork`, which writes it as one batch. */
  cork(): void {
    this.queue.cork();
  }

  /** @internal */
  uncork(): void {
    this.queue.uncork();
  }

  /** @internal Whether presence changes of `channel` are for this connection. */
  wantsPresence(channel: string): boolean {
    return this.subscriptions.wantsPresence(channel);
  }

  /** @internal A message shared with other connections (presence changes). */
  sendShared(message: SharedMessage): void {
    this.sendEncoded(message);
  }

  private async onEmit(event: string, data: unknown, id: number | undefined): Promise<void> {
    const handler = this.deps.handlers.handlerFor(event);
    if (!handler) {
      if (id !== undefined) {
        this.reply(id, undefined, { code: ErrorCodes.UNKNOWN_EVENT, message: `no handler for "${event}"` });
      } else {
        this.deps.handlers.unhandled(this, event, data);
      }
      return;
    }
    try {
      const result = await handler(data as never, this);
      if (id !== undefined) this.reply(id, result);
    } catch (error) {
      if (error instanceof RealtimeError) {
        if (id !== undefined) this.reply(id, undefined, { code: error.code, message: error.message });
      } else {
        this.deps.reportError(error as Error);
        if (id !== undefined) {
          this.reply(id, undefined, {
            code: ErrorCodes.HANDLER_ERROR,
            message: `handler for "${event}" failed`,
          });
        }
      }
    }
  }

  private onReply(message: Extract<ClientMessage, { t: 'res' }>): void {
    const r = this.requests.get(message.id);
    if (!r) return;
    this.requests.delete(message.id);
    clearTimeout(r.timer);
    if (message.ok) r.resolve(message.d);
    else
      r.reject(new RealtimeError(message.err?.code ?? ErrorCodes.HANDLER_ERROR, message.err?.message ?? ''));
  }

  /** @internal Called by the server's heartbeat timer. */
  heartbeat(now: number): void {
    if (now - this.lastSeen > 2 * this.options.heartbeatIntervalMs) {
      this.fail(DisconnectCode.HEARTBEAT_TIMEOUT, 'no heartbeat');
      return;
    }
    this.send({ t: 'ping' });
  }

  private resolveClosed!: () => void;
  /** Resolves once the connection has closed. */
  readonly closedPromise = new Promise<void>((r) => {
    this.resolveClosed = r;
  });

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.resolveClosed();
    this.deps.registry.unregistered(this, code, reason);
  }

  /**
   * Ends everything this connection does, once: when the server decides to close it, or when
   * the transport closes. Replays stop at their next message, input is dropped from now on.
   */
  private release(): void {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.helloTimer);
    this.input.release();
    for (const t of this.expiryTimers) clearTimeout(t);
    // Input waiting for a handler slot ends now, even if the handler never returns.
    this.handlerReturned?.();
    this.handlerReturned = undefined;
    this.queue.clear();
    for (const [id, r] of this.requests) {
      clearTimeout(r.timer);
      r.reject(new RealtimeError(ErrorCodes.DISCONNECTED, 'the connection closed before the reply'));
      this.requests.delete(id);
    }
    this.presenceWriter.stop();
    this.subscriptions.releaseAll();
  }
}

export { ProtocolViolation };

const newChannelsRefused = (): ErrorBody => ({
  code: ErrorCodes.TOO_MANY_NEW_CHANNELS,
  message: 'new channels used too fast: retry later',
});
