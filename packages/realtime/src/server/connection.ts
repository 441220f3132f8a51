// One client connection on the server: the hello, the message loop and its dispatch, heartbeats,
// the outbound queue and the close. Authentication (session-auth.ts), requests in both directions
// (session-requests.ts), channel commands (channel-commands.ts), subscriptions with recovery
// (channel-subscriptions.ts), input limits (session-input.ts) and counted output
// (session-output.ts) are its parts.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isValidCloseCode } from '@ieum/websocket';
import type { Codec } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import type { EventData, EventMapShape, EventName, EventReply, ServerToClient } from '../codec/event-map.js';
import {
  type ClientMessage,
  type ErrorBody,
  ErrorCodes,
  PROTOCOL_VERSION,
  ProtocolViolation,
  parseClientMessage,
  type ServerMessage,
} from '../codec/messages.js';
import { checkPayload } from '../codec/payload-limits.js';
import { OutboundQueue } from '../transports/outbound-queue.js';
import { TokenBucket } from '../transports/rate-limit.js';
import type { Outgoing, SharedMessage, Transport, TransportKind } from '../transports/transport.js';
import { ChannelCommands } from './channel-commands.js';
import { ChannelSubscriptions } from './channel-subscriptions.js';
import { truncateReason } from './close-reason.js';
import type { LiveBatch } from './hub.js';
import { PresenceWriter } from './presence-writer.js';
import { SessionAuth } from './session-auth.js';
import type { SessionDeps, SessionOptions } from './session-deps.js';
import { SessionInput } from './session-input.js';
import { SessionOutput } from './session-output.js';
import { SessionRequests } from './session-requests.js';

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
  /** Sends through the queue, counted in the metrics. */
  private readonly output: SessionOutput<Connection>;
  private readonly subscribeBucket: TokenBucket | undefined;
  /** The client's `sub`, `pub` and `who`. */
  private readonly commands: ChannelCommands<Connection>;
  /** Received messages, in order and within the input limits. */
  private readonly input: SessionInput;
  /** This connection's presence state writes, latest value per channel. */
  private readonly presenceWriter: PresenceWriter;
  private readonly auth: SessionAuth;
  /** Requests in both directions. */
  private readonly requests: SessionRequests<Connection>;
  private lastSeen = Date.now();
  private helloTimer: NodeJS.Timeout | undefined;

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
    this.output = new SessionOutput<Connection>(this, this.queue, codec, deps.metrics, deps.taps, {
      closing: () => this.closing,
      fail: (code, reason) => this.fail(code, reason),
    });
    this.subscriptions = new ChannelSubscriptions<Connection>(
      this,
      {
        closing: () => this.closing,
        clientId: () => this.clientId,
        fail: (code, reason) => this.fail(code, reason),
        reply: (id, data) => this.reply(id, data),
        send: (data, key) => this.sendEncoded(data, key),
        sendLive: (messages) => this.output.sendLive(messages),
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
    this.commands = new ChannelCommands(
      this,
      o,
      this.subscriptions,
      deps.hub,
      deps.adapter,
      {
        closing: () => this.closing,
        clientId: () => this.clientId,
        reply: (id, data, err) => this.reply(id, data, err),
      },
      deps.reportError,
    );
    this.auth = new SessionAuth(
      o,
      req,
      {
        closing: () => this.closing,
        fail: (code, reason) => this.fail(code, reason),
        send: (message) => this.send(message),
        user: () => this.user,
        identify: (user, info) => {
          this.user = user;
          this.info = info;
        },
      },
      deps.reportError,
    );
    this.requests = new SessionRequests<Connection>(
      this,
      o,
      deps.handlers,
      {
        closing: () => this.closing,
        send: (message) => this.send(message),
        reply: (id, data, err) => this.reply(id, data, err),
      },
      deps.reportError,
    );
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
    return this.requests.request(event, data, options.timeoutMs) as Promise<EventReply<ServerToClient<M>, E>>;
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
    this.output.send(data, key);
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
    else if (message.t === 'res') this.requests.receiveReply(message);
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
        await this.auth.authenticate(message.token);
        return;
      case 'sub':
        return this.commands.subscribe(message);
      case 'unsub':
        this.presenceWriter.drop(message.ch);
        await this.subscriptions.unsubscribe(message.ch);
        return this.reply(message.id, null);
      case 'pub':
        return this.commands.publish(message);
      case 'presence': {
        // Accepted states are written to the adapter latest value first (`PresenceWriter`).
        const refused = this.presenceRefusal(message);
        if (!refused) this.presenceWriter.set(message.ch, message.d ?? null);
        return this.reply(message.id, null, refused);
      }
      case 'who':
        return this.commands.who(message);
      case 'emit':
        return this.requests.receiveEmit(message);
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
    const auth = await this.auth.authenticate(hello.token ?? this.auth.tokenFromRequest());
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
    this.auth.release();
    // Input waiting for a handler slot ends now; requests waiting for a reply reject.
    this.requests.release();
    this.queue.clear();
    this.presenceWriter.stop();
    this.subscriptions.releaseAll();
  }
}

export { ProtocolViolation };
