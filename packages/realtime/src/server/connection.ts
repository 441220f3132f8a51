// One client connection on the server: hello and authentication, the message loop, channel
// subscriptions with recovery, requests in both directions, heartbeats and limits.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isValidCloseCode } from '@ieum/websocket';
import type { ChannelEntry, PublishResult } from '../adapter/adapter.js';
import { isOverloaded, RealtimeError } from '../adapter/realtime-error.js';
import type { Codec } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
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
  type SubscribeResult,
} from '../codec/messages.js';
import { checkPayload } from '../codec/payload-limits.js';
import { byteLength, OutboundQueue } from '../transports/outbound-queue.js';
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
import type { AuthResult } from './hooks.js';
import type { LiveMessage } from './hub.js';
import type { SessionDeps, SessionOptions } from './session-deps.js';

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

/** Largest close reason in UTF-8 bytes (RFC 6455 §5.5: a control frame carries at most 125 bytes). */
const MAX_REASON_BYTES = 123;

/**
 * `s` cut to fit a close frame, between code points, with `…` (3 bytes) marking the cut. Reasons
 * quote what a peer sent (an unknown type, a hook's message), and `WebSocket.close` throws for a
 * reason past 123 bytes: counted in UTF-16 units, 100 of them can be 300 bytes.
 */
function truncateReason(s: string): string {
  if (Buffer.byteLength(s) <= MAX_REASON_BYTES) return s;
  let out = '';
  let bytes = 3;
  for (const ch of s) {
    bytes += Buffer.byteLength(ch);
    if (bytes > MAX_REASON_BYTES) break;
    out += ch;
  }
  return `${out}…`;
}

export class Connection {
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
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly queue: OutboundQueue;
  private readonly bucket: TokenBucket | undefined;
  private readonly subscribeBucket: TokenBucket | undefined;
  /** `inputBytesPerSecond`: bytes the peer may send. */
  private readonly inputBudget: TokenBucket | undefined;
  /** Reading is stopped until the input byte budget has refilled (`inputBytesPerSecond`). */
  private throttle: NodeJS.Timeout | undefined;
  private readonly channelRate: ChannelRate | undefined;
  private input: Promise<void> = Promise.resolve();
  private inputDepth = 0;
  private inputBytes = 0;
  private inputPaused = false;
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
    this.bucket = o.rateLimit ? new TokenBucket(o.rateLimit) : undefined;
    this.subscribeBucket = o.subscribeRateLimit ? new TokenBucket(o.subscribeRateLimit) : undefined;
    this.inputBudget = o.inputRateLimit ? new TokenBucket(o.inputRateLimit) : undefined;
    this.channelRate = o.channelRate
      ? new ChannelRate(o.channelRate, (ch) => this.subscriptions.has(ch))
      : undefined;
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
    return [...this.subscriptions.keys()];
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
   * Sends a direct event to this connection only. `key` names the value it carries for the
   * `latest` slow-consumer policy: while this connection's outbound queue is backed up, a queued
   * emit of the same event and key is replaced by this one, so a slow client gets the newest
   * state instead of a backlog (game snapshots, gauges). Keys of emits never match keys of
   * channel messages.
   */
  emit(event: string, data: unknown, options: { key?: string } = {}): void {
    const message = this.codec.encode({ t: 'emit', ev: event, d: data ?? null });
    // Channel keys are `<channel>\u0000<key>` and channel names hold no NUL: these cannot collide.
    this.sendEncoded(message, options.key === undefined ? undefined : `\u0000${event}\u0000${options.key}`);
  }

  /** Sends an event and resolves with the client's reply (rejects on error, timeout or disconnect). */
  request(event: string, data: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.closing)
      return Promise.reject(new RealtimeError(ErrorCodes.DISCONNECTED, 'the connection is closed'));
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const ms = options.timeoutMs ?? this.options.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new RealtimeError(ErrorCodes.TIMEOUT, `no reply to "${event}" within ${ms} ms`));
      }, ms);
      this.requests.set(id, { resolve, reject, timer });
      this.send({ t: 'emit', id, ev: event, d: data ?? null });
    });
  }

  /** Subscribes this connection to `channel` from the server side (no recovery, no reply). */
  async join(channel: string, options: { presence?: boolean } = {}): Promise<void> {
    await this.subscribe(channel, undefined, options.presence ?? false);
  }

  async leave(channel: string): Promise<void> {
    await this.unsubscribe(channel);
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
    if (result !== 'dropped' && m) {
      m.messagesOut.inc();
      const raw = isShared(data) ? data.data : data;
      m.bytesOut.inc(typeof raw === 'string' ? raw.length : raw.byteLength);
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
    if (this.bucket && !this.bucket.take()) {
      this.fail(DisconnectCode.RATE_LIMITED, 'rate limit exceeded');
      return;
    }
    if (this.inputBudget) {
      // Over the byte budget, this message is still processed (it has been read) and reading
      // stops until the budget has refilled: at most one message ahead of it.
      const wait = this.inputBudget.reserve(bytes.length);
      if (wait > 0 && !this.throttle) {
        this.throttle = setTimeout(() => {
          this.throttle = undefined;
          if (!this.closing) this.throttleInput();
        }, wait);
        this.throttleInput();
      }
    }
    if (this.inputDepth === 0) {
      // Nothing waiting: decoded now, so pings, pongs and replies act at once.
      const message = this.decode(bytes, isBinary);
      if (message && !this.actNow(message)) this.enqueue(() => this.process(message), bytes.length);
      return;
    }
    // Behind earlier messages: kept as the bytes it arrived as until its turn. Decoded, a message
    // can take ~60 times its size (1 MiB of MessagePack empty maps is a million objects), and up
    // to `maxPendingInput` of them wait here.
    this.enqueue(async () => {
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

  /**
   * Runs `task` (for a message of `size` bytes) after the earlier messages, in arrival order: a
   * publish after a subscribe sees the subscription. Past `maxPendingInput` waiting, the socket
   * is not read.
   */
  private enqueue(task: () => Promise<void>, size: number): void {
    this.inputDepth++;
    this.inputBytes += size;
    this.throttleInput();
    this.input = this.input
      .then(task)
      .catch((error: Error) => {
        this.deps.reportError(error as Error);
        // An adapter out of capacity (Redis at maxmemory...): the client retries later, with backoff.
        if (isOverloaded(error))
          this.fail(DisconnectCode.TRY_AGAIN_LATER, 'server overloaded: try again later');
        else this.fail(DisconnectCode.SERVER_ERROR, 'internal error');
      })
      .finally(() => {
        this.inputDepth--;
        this.inputBytes -= size;
        this.throttleInput();
      });
  }

  /**
   * Pauses reading while too much received input waits to be processed, or while the input byte
   * budget refills (`inputBytesPerSecond`); resumes once neither holds.
   */
  private throttleInput(): void {
    const max = this.options.maxPendingInput;
    const over = this.throttle !== undefined || this.inputDepth > max.messages || this.inputBytes > max.bytes;
    if (over === this.inputPaused) return;
    this.inputPaused = over;
    if (over) this.ws.pause();
    else this.ws.resume();
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
          await this.subscribe(message.ch, message.since, message.presence ?? false, message.id);
        } catch (error) {
          // An adapter refusing on purpose (e.g. too many channels): the client is told why.
          if (!(error instanceof RealtimeError)) throw error;
          await this.unsubscribe(message.ch);
          return this.reply(message.id, undefined, { code: error.code, message: error.message });
        }
        return;
      }
      case 'unsub':
        await this.unsubscribe(message.ch);
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

  private async subscribe(
    channel: string,
    since: { ep: string; off: number } | undefined,
    presence: boolean,
    replyId?: number,
  ): Promise<boolean> {
    if (this.closing) return false;
    if (this.subscriptions.has(channel)) await this.unsubscribe(channel);
    const sub: Subscription = { epoch: '', offset: 0, pending: [], missed: false, presence };
    this.subscriptions.set(channel, sub);
    const adapter = this.deps.adapter;
    await this.deps.hub.attach(channel, this);
    const result: SubscribeResult = { ep: '', off: 0 };
    let backlog: ChannelEntry[] = [];
    if (since) {
      const h = await adapter.history(channel, { epoch: since.ep, offset: since.off });
      result.ep = h.position.epoch;
      result.off = h.position.offset;
      result.recovered = h.ok;
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
    if (this.user !== undefined) await adapter.presenceJoin(channel, this.user, this.id, this.info);
    if (presence) result.members = await adapter.presenceList(channel);
    if (!this.isCurrent(channel, sub)) return false;
    if (replyId !== undefined) this.reply(replyId, result);
    // Not awaited: the client's next messages (an unsub that cancels it, say) go on meanwhile.
    void this.replay(
      channel,
      sub,
      backlog.map((entry) => ({ epoch: sub.epoch, entry })),
    );
    return true;
  }

  /** Whether `sub` is still this connection's subscription to `channel` and the connection is open. */
  private isCurrent(channel: string, sub: Subscription): boolean {
    return !this.closing && this.subscriptions.get(channel) === sub;
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
    const highWater = this.options.outbound.highWaterBytes;
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
          const h = await this.deps.adapter.history(channel, { epoch: sub.epoch, offset: sub.offset });
          if (!this.isCurrent(channel, sub)) return;
          if (!h.ok) {
            // Gone from history: the client resubscribes from its position and is told (`reset`).
            return h.reason === 'epoch-changed'
              ? this.fail(DisconnectCode.SERVICE_RESTART, 'channel history lost: resubscribe')
              : this.fail(DisconnectCode.SLOW_CONSUMER, 'fell behind during history replay');
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
      this.deps.reportError(error as Error);
      this.fail(DisconnectCode.SERVER_ERROR, 'internal error');
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

  private async unsubscribe(channel: string): Promise<void> {
    if (!this.subscriptions.delete(channel)) return;
    this.deps.hub.detach(channel, this);
    if (this.user !== undefined) await this.deps.adapter.presenceLeave(channel, this.user, this.id);
  }

  /** @internal A live message from the hub's fan-out (encoded and framed once for all subscribers). */
  deliver(live: LiveMessage): void {
    const { channel, epoch, entry } = live;
    const sub = this.subscriptions.get(channel);
    if (!sub || this.closing) return;
    if (sub.pending) {
      // Behind a replay: wait there, as many as the outbound queue may hold; beyond that, drop
      // them and read them from history later (they were stored before being fanned out).
      if (sub.pending.length >= this.options.outbound.maxQueuedMessages) {
        sub.missed = true;
        sub.pending = [];
      }
      sub.pending.push({ epoch, entry });
      return;
    }
    this.sendEntry(channel, sub, epoch, entry, live);
  }

  /** @internal Gathers what this connection writes until `uncork`, which writes it as one batch. */
  cork(): void {
    this.queue.cork();
  }

  /** @internal */
  uncork(): void {
    this.queue.uncork();
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
      this.fail(DisconnectCode.SERVICE_RESTART, 'channel history lost: resubscribe');
      return 0;
    }
    if (entry.off <= sub.offset) return 0;
    sub.offset = entry.off;
    if (entry.except === this.id) return 0;
    const own = entry.mid !== undefined && isFromClient(entry.mid, this.clientId);
    const key = entry.key === undefined ? undefined : `${channel}\u0000${entry.key}`;
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
      data = this.codec.encode(msg);
    } else {
      data = live ? live.shared(this.codec) : this.deps.hub.encodeEntry(this.codec, channel, epoch, entry);
    }
    this.sendEncoded(data, key);
    return byteLength(data);
  }

  /** @internal Whether presence changes of `channel` are for this connection. */
  wantsPresence(channel: string): boolean {
    return !this.closing && this.subscriptions.get(channel)?.presence === true;
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
    clearTimeout(this.throttle);
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
    const channels = [...this.subscriptions.keys()];
    for (const ch of channels) {
      this.subscriptions.delete(ch);
      this.deps.hub.detach(ch, this);
      if (this.user !== undefined) {
        this.deps.adapter.presenceLeave(ch, this.user, this.id).catch((e: Error) => this.deps.reportError(e));
      }
    }
  }
}

export { ProtocolViolation };

const newChannelsRefused = (): ErrorBody => ({
  code: ErrorCodes.TOO_MANY_NEW_CHANNELS,
  message: 'new channels used too fast: retry later',
});

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
