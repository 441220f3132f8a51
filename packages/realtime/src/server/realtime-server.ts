// RealtimeServer: channels with history and recovery, events with acknowledgements, presence,
// authentication and limits, over @ieum/websocket.
import { EventEmitter } from 'node:events';
import http, { type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { type DeflateOptions, type WebSocket, WebSocketServer } from '@ieum/websocket';
import type { Adapter, AdapterEvent, ChannelEntry } from '../adapter/adapter.js';
import { MemoryAdapter } from '../adapter/memory.js';
import { RealtimeError } from '../adapter/realtime-error.js';
import { type Codec, jsonCodec, msgpackCodec, subprotocolFor } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import { ErrorCodes, isName, MAX_NAME_LENGTH } from '../codec/messages.js';
import {
  checkPayload,
  DEFAULT_PAYLOAD_DEPTH,
  MAX_PAYLOAD_DEPTH,
  type PayloadLimits,
} from '../codec/payload-limits.js';
import { HttpFallback, type HttpFallbackOptions } from '../transports/http-fallback.js';
import { answer } from '../transports/http-io.js';
import { requestUrl } from '../transports/request-url.js';
import { type ChannelRateLimit, DEFAULT_CHANNEL_RATE } from './channel-rate.js';
import { Connection } from './connection.js';
import { DEFAULT_REPLAY_CACHE_BYTES, EncodedCache } from './encoded-cache.js';
import { type MetricsOptions, RealtimeMetrics } from './metrics.js';
import { DEFAULT_OUTBOUND, type OutboundLimits } from './outbound-queue.js';
import { DEFAULT_PRESENCE_FLUSH_INTERVAL_MS, PresenceFanout } from './presence-fanout.js';
import {
  DEFAULT_INPUT_BYTES_PER_SECOND,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SUBSCRIBE_RATE_LIMIT,
  type RateLimit,
} from './rate-limit.js';

/** Who a connection is, as the authentication hook decided. */
export interface AuthResult {
  /** Stable user id: presence counts users, not connections. */
  user: string;
  /** Shared with other members in presence events (keep it small and public). */
  info?: unknown;
  /** Milliseconds since the epoch when the credentials expire; the client is asked to refresh before. */
  expiresAt?: number;
}

export interface AuthContext {
  /** From the client's hello, else `Authorization: Bearer`, else the `token` query parameter. */
  token: string | undefined;
  req: IncomingMessage;
}

/** Returns who the client is, or throws to refuse (close 4401; the error's message is the reason). */
export type Authenticate = (ctx: AuthContext) => AuthResult | Promise<AuthResult>;

export interface PublishContext {
  channel: string;
  event: string;
  data: unknown;
  connection: Connection;
}

export interface ChannelAccess {
  channel: string;
  action: 'subscribe' | 'publish';
  user: string | undefined;
  info: unknown;
  connection: Connection;
}

/** Map of event names to handler signatures, e.g. `{ 'chat:send': (m: { text: string }) => { id: string } }`. */
// biome-ignore lint/suspicious/noExplicitAny: event maps are user-declared signatures
export type EventMap = Record<string, (data: any) => any>;

export type EventHandler<F extends (data: never) => unknown> = (
  data: Parameters<F>[0],
  connection: Connection,
) => Awaited<ReturnType<F>> | Promise<Awaited<ReturnType<F>>>;

export { RealtimeError };

export interface RealtimeServerOptions {
  /** Listen on this port (an HTTP server is created for the realtime endpoint and its fallbacks). */
  port?: number;
  host?: string;
  /** Attach to an existing HTTP(S) server. */
  server?: HttpServer | HttpsServer;
  /** Call `handleUpgrade` yourself. */
  noServer?: boolean;
  /** URL path of the realtime endpoint. Default `/realtime`. */
  path?: string;
  /** Allowed `Origin` values or a predicate (403 otherwise). Default: any. */
  allowedOrigins?: readonly string[] | ((origin: string | undefined, req: IncomingMessage) => boolean);
  requireOrigin?: boolean;
  /** Largest message accepted from a client, in bytes (close 1009). Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * Deepest nesting of arrays and objects in a published payload, client or server (`{}` is 1).
   * Deeper: a client's publish fails with `payload-too-deep`, `rt.publish` throws a
   * `RealtimeError` with that code; nothing is stored. Default 32, at most 90.
   */
  maxPayloadDepth?: number;
  /**
   * Largest published payload, in estimated bytes of its JSON form (binary data as base64).
   * Larger: the publish fails with `payload-too-large`. Default `maxMessageBytes`.
   */
  maxPayloadBytes?: number;
  /**
   * Channels one connection may be subscribed to at once; a `sub` beyond it fails with
   * `too-many-subscriptions` (unsubscribe first). Default 256.
   */
  maxSubscriptionsPerConnection?: number;
  /**
   * How fast one connection may start using channels (publishing or subscribing to a channel it
   * is not subscribed to and has not used lately), which bounds the new channels it can create: a
   * `pub` or `sub` beyond it fails with `too-many-new-channels` (retry later). Default 10 per
   * second, burst 256; `false` for none.
   */
  channelRate?: Partial<ChannelRateLimit> | false;
  /**
   * Longest client id (`hello.cid`) and message id (`pub.mid`), in UTF-16 code units. They are
   * remembered for deduplication (`dedupe.maxIds` of them), so this bounds that memory. Longer:
   * a `pub` fails with `message-id-too-long`; a hello is refused (close 4400). Default 64.
   */
  maxMessageIdLength?: number;
  perMessageDeflate?: boolean | DeflateOptions;
  /** Codecs offered, chosen by subprotocol `ieum.v1.<name>`. Default JSON and MessagePack. */
  codecs?: Codec[];
  /** Where channels live. Default: a `MemoryAdapter` owned (and closed) by this server. */
  adapter?: Adapter;
  /** Authentication hook (see `jwtAuthenticator`). Default: everyone is anonymous. */
  authenticate?: Authenticate;
  /** Per-channel authorization. Default: every connection may subscribe and publish everywhere. */
  authorizeChannel?: (access: ChannelAccess) => boolean | Promise<boolean>;
  /**
   * Runs before a client's publish is stored: return the data to store (validated, trimmed,
   * stamped with the sender), or throw a `RealtimeError` to refuse it (the client's publish
   * rejects with that code). Retries of an already stored message id are not stored twice.
   */
  beforePublish?: (ctx: PublishContext) => unknown | Promise<unknown>;
  /** Milliseconds between server pings; a client silent for twice this is closed (4408). Default 25,000. */
  heartbeatIntervalMs?: number;
  /** Milliseconds a new connection has to send its hello (else 4400). Default 10,000. */
  helloTimeoutMs?: number;
  /** Milliseconds before token expiry at which the client is asked to refresh. Default 30,000. */
  tokenRefreshLeadMs?: number;
  /** Milliseconds a server-to-client request waits for its reply. Default 10,000. */
  requestTimeoutMs?: number;
  /** Per-connection outbound queue bounds and slow-consumer policy. */
  outbound?: Partial<OutboundLimits>;
  /** Per-connection message rate (close 4429 when exceeded), or `false` for none. */
  rateLimit?: Partial<RateLimit> | false;
  /**
   * Bytes per second one connection may send, sustained (WebSocket message payloads; HTTP
   * fallback POST lines): beyond it the server stops reading the connection until the budget
   * has refilled (TCP backpressure; nothing fails). Parsing and checking input costs CPU by the
   * byte, and `rateLimit` counts messages, whatever their size. Default 1,048,576 (1 MiB/s);
   * `false` for none.
   */
  inputBytesPerSecond?: number | false;
  /** Bytes a connection may send at once after being idle. Default 2 × `maxMessageBytes`. */
  inputBurstBytes?: number;
  /**
   * Received messages of one connection waiting to be processed (they run one after another, and
   * a slow hook or a delayed `sub` holds the ones behind it). Past either bound the connection's
   * socket is not read until they drain, so what the server holds per connection stays near
   * `bytes` (plus one message) however fast the peer sends. `handlers` bounds the event
   * handlers (`rt.handle`) of one connection running at once: they run concurrently with later
   * messages, and at the bound the socket is not read until one returns. Default 64 messages,
   * 1 MiB and 16 handlers.
   */
  maxPendingInput?: { messages?: number; bytes?: number; handlers?: number };
  /**
   * Per-connection rate of `sub` and `unsub` messages (each counts one), on top of `rateLimit`:
   * every one of them costs a history read and a presence change seen by every member. Beyond
   * it they wait their turn, in order, with the client's later messages (its socket is paused
   * past `maxPendingInput`); nothing fails. Default 20 per second, burst `maxSubscriptionsPerConnection`
   * (so a reconnect resubscribing every channel is not delayed); `false` for none.
   */
  subscribeRateLimit?: Partial<RateLimit> | false;
  /**
   * Milliseconds over which a channel's presence changes are coalesced: a user's joins and leaves
   * within one interval reach members as one change, its latest state. The first change after a
   * quiet interval is sent at once. Default 100.
   */
  presenceFlushIntervalMs?: number;
  /**
   * Bytes of encoded channel messages kept so that each stored message is encoded once per codec
   * for all live deliveries and history replays (least recently used dropped first; a dropped
   * message is encoded again when next sent). Default 64 MiB.
   */
  replayCacheBytes?: number;
  /**
   * Milliseconds a client has to answer the server's close frame (auth failure, expired token,
   * rate limit, slow consumer...) before its TCP connection is destroyed. Nothing it sends after
   * the server decided to close is acted on. Default 5,000.
   */
  closeTimeoutMs?: number;
  /**
   * SSE and long-polling fallbacks at `<path>/http/...` for clients that cannot use WebSocket
   * (JSON codec). In `server` mode call `handleRequest(req, res)` from your request handler.
   * Default on; `false` to serve WebSocket only.
   */
  httpFallback?: HttpFallbackOptions | false;
  /** Prometheus metrics (prom-client). Default on, with a registry of the server's own. */
  metrics?: MetricsOptions | false;
  /**
   * With `port`: also serve the Prometheus text format at this path of the realtime port, to
   * anyone who can reach it. Default `false` (not served): mount `rt.metrics.handler()` on a
   * private port or path of your own instead, or opt in with e.g. `'/metrics'`.
   */
  metricsPath?: string | false;
}

export interface ResolvedOptions {
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  tokenRefreshLeadMs: number;
  requestTimeoutMs: number;
  outbound: OutboundLimits;
  rateLimit: RateLimit | false;
  /** `inputBytesPerSecond` and `inputBurstBytes` as a bucket of bytes (`messagesPerSecond` is bytes). */
  inputRateLimit: RateLimit | false;
  subscribeRateLimit: RateLimit | false;
  authenticate: Authenticate | undefined;
  authorizeChannel: RealtimeServerOptions['authorizeChannel'];
  beforePublish: RealtimeServerOptions['beforePublish'];
  payload: PayloadLimits;
  maxSubscriptionsPerConnection: number;
  maxPendingInput: { messages: number; bytes: number; handlers: number };
  channelRate: ChannelRateLimit | false;
  maxMessageIdLength: number;
}

function originCheck(
  allowed: RealtimeServerOptions['allowedOrigins'],
  required: boolean,
): (origin: string | undefined, req: IncomingMessage) => boolean {
  return (origin, req) => {
    if (origin === undefined) return !required;
    if (allowed === undefined) return true;
    return typeof allowed === 'function' ? allowed(origin, req) : allowed.includes(origin);
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`RealtimeServer: ${name} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

export interface RealtimeServer<C2S extends EventMap = EventMap> {
  on(event: 'connection', listener: (connection: Connection) => void): this;
  on(event: 'disconnect', listener: (connection: Connection, code: number, reason: string) => void): this;
  on(event: 'unhandled', listener: (connection: Connection, event: string, data: unknown) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'listening' | 'close', listener: () => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter fallback
  on(event: string, listener: (...args: any[]) => void): this;
  /** @internal marker so the type parameter is used. */
  readonly __events?: C2S;
}

/** Local fan-out of one channel: one adapter subscription, many connections. */
interface LocalChannel {
  connections: Set<Connection>;
  listener: (event: AdapterEvent) => void;
  ready: Promise<void>;
  presence: PresenceFanout;
}

export class RealtimeServer<C2S extends EventMap = EventMap> extends EventEmitter {
  readonly wss: WebSocketServer;
  readonly adapter: Adapter;
  readonly metrics: RealtimeMetrics | undefined;
  /** Open, authenticated connections by session id. */
  readonly connections = new Map<string, Connection>();
  readonly options: ResolvedOptions;
  private readonly ownsAdapter: boolean;
  private readonly codecs: Map<string, Codec>;
  private readonly handlers = new Map<string, EventHandler<(data: never) => unknown>>();
  private readonly channels = new Map<string, LocalChannel>();
  private readonly encoded: EncodedCache;
  private readonly presenceFlushIntervalMs: number;
  private readonly httpServer: HttpServer | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RealtimeServerOptions = {}) {
    super();
    const outbound = { ...DEFAULT_OUTBOUND, ...options.outbound };
    for (const k of ['maxQueuedMessages', 'maxQueuedBytes', 'highWaterBytes'] as const) {
      positive(`outbound.${k}`, outbound[k], 1);
    }
    if (!['disconnect', 'drop', 'latest'].includes(outbound.policy)) {
      throw new RangeError(`RealtimeServer: outbound.policy must be 'disconnect', 'drop' or 'latest'`);
    }
    const maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes, 1024 * 1024);
    const maxSubscriptionsPerConnection = positive(
      'maxSubscriptionsPerConnection',
      options.maxSubscriptionsPerConnection,
      DEFAULT_SUBSCRIBE_RATE_LIMIT.burst,
    );
    this.options = {
      heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 25_000),
      helloTimeoutMs: positive('helloTimeoutMs', options.helloTimeoutMs, 10_000),
      tokenRefreshLeadMs: positive('tokenRefreshLeadMs', options.tokenRefreshLeadMs, 30_000),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 10_000),
      outbound,
      rateLimit: options.rateLimit === false ? false : { ...DEFAULT_RATE_LIMIT, ...options.rateLimit },
      inputRateLimit:
        options.inputBytesPerSecond === false
          ? false
          : {
              messagesPerSecond: positive(
                'inputBytesPerSecond',
                options.inputBytesPerSecond,
                DEFAULT_INPUT_BYTES_PER_SECOND,
              ),
              burst: positive('inputBurstBytes', options.inputBurstBytes, 2 * maxMessageBytes),
            },
      subscribeRateLimit:
        options.subscribeRateLimit === false
          ? false
          : {
              ...DEFAULT_SUBSCRIBE_RATE_LIMIT,
              // A reconnect resubscribes every channel at once: that much is never delayed.
              burst: maxSubscriptionsPerConnection,
              ...options.subscribeRateLimit,
            },
      authenticate: options.authenticate,
      authorizeChannel: options.authorizeChannel,
      beforePublish: options.beforePublish,
      payload: {
        maxPayloadDepth: positive('maxPayloadDepth', options.maxPayloadDepth, DEFAULT_PAYLOAD_DEPTH),
        maxPayloadBytes: positive('maxPayloadBytes', options.maxPayloadBytes, maxMessageBytes),
      },
      maxSubscriptionsPerConnection,
      maxPendingInput: {
        messages: positive('maxPendingInput.messages', options.maxPendingInput?.messages, 64),
        bytes: positive('maxPendingInput.bytes', options.maxPendingInput?.bytes, 1024 * 1024),
        handlers: positive('maxPendingInput.handlers', options.maxPendingInput?.handlers, 16),
      },
      channelRate:
        options.channelRate === false ? false : { ...DEFAULT_CHANNEL_RATE, ...options.channelRate },
      maxMessageIdLength: positive('maxMessageIdLength', options.maxMessageIdLength, 64),
    };
    if (this.options.channelRate) {
      positive('channelRate.burst', this.options.channelRate.burst, 1);
      if (!(this.options.channelRate.channelsPerSecond > 0)) {
        throw new RangeError('RealtimeServer: channelRate.channelsPerSecond must be positive');
      }
    }
    if (this.options.payload.maxPayloadDepth > MAX_PAYLOAD_DEPTH) {
      throw new RangeError(`RealtimeServer: maxPayloadDepth must be at most ${MAX_PAYLOAD_DEPTH}`);
    }
    this.presenceFlushIntervalMs = positive(
      'presenceFlushIntervalMs',
      options.presenceFlushIntervalMs,
      DEFAULT_PRESENCE_FLUSH_INTERVAL_MS,
    );
    this.encoded = new EncodedCache(
      positive('replayCacheBytes', options.replayCacheBytes, DEFAULT_REPLAY_CACHE_BYTES),
    );
    const closeTimeoutMs = positive('closeTimeoutMs', options.closeTimeoutMs, 5000);
    this.adapter = options.adapter ?? new MemoryAdapter();
    this.ownsAdapter = options.adapter === undefined;
    this.codecs = new Map((options.codecs ?? [jsonCodec, msgpackCodec]).map((c) => [subprotocolFor(c), c]));
    this.metrics =
      options.metrics === false
        ? undefined
        : new RealtimeMetrics(options.metrics ?? {}, () => {
            let n = 0;
            for (const c of this.connections.values()) n += c.queuedMessages;
            return n;
          });

    const path = options.path ?? '/realtime';
    const metricsPath = options.metricsPath ?? false;
    if (options.httpFallback !== false && options.httpFallback?.enabled !== false) {
      this.httpTransport = new HttpFallback(
        this,
        path,
        options.httpFallback ?? {},
        maxMessageBytes,
        originCheck(options.allowedOrigins, options.requireOrigin === true),
      );
    }
    let server = options.server;
    if (options.port !== undefined) {
      const handler = this.metrics && metricsPath !== false ? this.metrics.handler() : undefined;
      this.httpServer = http.createServer((req, res) => {
        try {
          if (this.handleRequest(req, res)) return;
          const url = requestUrl(req);
          if (!url) return answer(res, 400, 'bad request target', { connection: 'close' });
          if (handler && url.pathname === metricsPath) return handler(req, res);
          answer(res, 426, `Connect with WebSocket to ${path}`);
        } catch (error) {
          // Nothing a request carries may take the process down.
          this.reportError(error as Error);
          answer(res, 500, 'internal error');
        }
      });
      server = this.httpServer;
    }
    this.wss = new WebSocketServer({
      ...(server ? { server } : { noServer: true }),
      path,
      maxPayload: maxMessageBytes,
      protocols: [...this.codecs.keys()],
      closeTimeoutMs,
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      ...(options.requireOrigin ? { requireOrigin: true } : {}),
      ...(options.perMessageDeflate ? { perMessageDeflate: options.perMessageDeflate } : {}),
    });
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.accept(ws, req));
    this.wss.on('error', (error: Error) => this.emit('error', error));
    if (this.httpServer) {
      this.httpServer.on('error', (error) => this.emit('error', error));
      this.httpServer.listen(options.port, options.host, () => this.emit('listening'));
    }
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /**
   * Reports an error that concerns one connection or operation (a handler that threw, an adapter
   * that failed): emitted as `error` when someone listens, else printed as a process warning. It
   * never takes the process down; the connection concerned is closed by the caller as needed.
   */
  reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error.message, { type: 'RealtimeServerError', detail: error.stack });
  }

  /** @internal */
  readonly httpTransport: HttpFallback | undefined;

  /**
   * Serves the HTTP fallback endpoints (`<path>/http/...`). Returns false for other requests, so
   * your own handler can go on: `if (rt.handleRequest(req, res)) return;`. A request whose target
   * is not a valid URL (`GET http://:99999/`) is answered 400 here (true). Never throws.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return this.httpTransport?.handle(req, res) ?? false;
  }

  /** The listening address in `port` mode. */
  address() {
    return this.httpServer?.address() ?? null;
  }

  /** With `noServer`: hand an upgrade request to the realtime endpoint. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  /**
   * Handles client events named `event`: `emit` calls it, `request` also gets its return value
   * (or its `RealtimeError`) as the reply.
   */
  handle<E extends keyof C2S & string>(event: E, handler: EventHandler<C2S[E]>): this {
    this.handlers.set(event, handler as unknown as EventHandler<(data: never) => unknown>);
    return this;
  }

  /** @internal */
  handlerFor(event: string): EventHandler<(data: never) => unknown> | undefined {
    return this.handlers.get(event);
  }

  /**
   * Publishes to a channel from the server: stored in history, delivered to every subscriber in
   * every process. `except` skips one connection (e.g. the sender). `key` is the coalescing key for
   * the `latest` slow-consumer policy. Throws a `RealtimeError` (nothing stored) for a name that
   * is empty, longer than 200 or not well-formed UTF-16 (`bad-request`), a payload beyond
   * `maxPayloadDepth` / `maxPayloadBytes`, or one not every codec carries (`unsupported-payload`).
   */
  async publish(
    channel: string,
    event: string,
    data: unknown,
    options: { except?: Connection; key?: string } = {},
  ): Promise<{ epoch: string; offset: number }> {
    for (const [what, name] of [
      ['channel', channel],
      ['event', event],
    ] as const) {
      if (!isName(name)) {
        throw new RealtimeError(
          ErrorCodes.BAD_REQUEST,
          `the ${what} name must be a well-formed string without NUL, of 1 to ${MAX_NAME_LENGTH} characters`,
        );
      }
    }
    const check = checkPayload(data, this.options.payload);
    if (!check.ok) throw new RealtimeError(check.code, check.message);
    const r = await this.adapter.publish(channel, {
      ev: event,
      d: data,
      ...(options.except ? { except: options.except.id } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
    });
    return { epoch: r.epoch, offset: r.offset };
  }

  /** Members present in `channel` (users, not connections). */
  presence(channel: string): Promise<Array<{ user: string; info?: unknown }>> {
    return this.adapter.presenceList(channel);
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    // No subprotocol offered: JSON. Offered, but none of ours: refuse with the list we speak.
    const offered = req.headers['sec-websocket-protocol'] !== undefined;
    const codec = ws.protocol === '' ? (offered ? undefined : jsonCodec) : this.codecs.get(ws.protocol);
    if (!codec) {
      ws.close(
        DisconnectCode.PROTOCOL_ERROR,
        `unsupported subprotocol; use ${[...this.codecs.keys()].join(' or ')}`,
      );
      return;
    }
    new Connection(this, ws, req, codec);
  }

  /** Every live connection, authenticated or not (for shutdown). */
  private readonly all = new Set<Connection>();

  /** @internal */
  adopt(connection: Connection): void {
    this.all.add(connection);
  }

  /** @internal */
  registered(connection: Connection): void {
    this.connections.set(connection.id, connection);
    this.metrics?.connections.inc();
    this.emit('connection', connection);
  }

  /** @internal */
  unregistered(connection: Connection, code: number, reason: string): void {
    this.all.delete(connection);
    if (this.connections.delete(connection.id)) {
      this.metrics?.connections.dec();
      this.emit('disconnect', connection, code, reason);
    }
    this.metrics?.disconnects.inc({ code: String(code) });
  }

  /** @internal Adds a connection to the local fan-out of `channel`. */
  async attach(channel: string, connection: Connection): Promise<void> {
    let local = this.channels.get(channel);
    if (!local) {
      const connections = new Set<Connection>();
      const presence = new PresenceFanout(channel, this.presenceFlushIntervalMs, () => connections);
      const created: LocalChannel = {
        connections,
        listener: (event) => {
          if (event.type === 'message') {
            // Encoded once per codec for every local subscriber (and kept for replays, if it fits).
            const memo = new Map<Codec, string | Uint8Array>();
            const encode = (codec: Codec) => {
              let data = memo.get(codec);
              if (data === undefined) {
                data = this.encoded.encode(codec, channel, event.epoch, event.entry);
                memo.set(codec, data);
              }
              return data;
            };
            for (const c of connections) c.deliver(channel, event.epoch, event.entry, encode);
          } else {
            presence.add(event);
          }
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
    local.connections.add(connection);
    await local.ready;
  }

  /** @internal */
  detach(channel: string, connection: Connection): void {
    const local = this.channels.get(channel);
    if (!local) return;
    local.connections.delete(connection);
    if (local.connections.size === 0) {
      this.channels.delete(channel);
      local.presence.stop();
      this.adapter.unsubscribe(channel, local.listener).catch((error: Error) => this.reportError(error));
    }
  }

  /**
   * @internal The `msg` packet of a stored message in `codec`, encoded once per codec for every
   * live delivery and history replay (see `replayCacheBytes`).
   */
  encodeEntry(codec: Codec, channel: string, epoch: string, entry: ChannelEntry): string | Uint8Array {
    return this.encoded.encode(codec, channel, epoch, entry);
  }

  private beat(): void {
    const now = Date.now();
    for (const c of this.connections.values()) c.heartbeat(now);
  }

  /**
   * Graceful shutdown: stops accepting, closes connections in batches with 1012 (clients
   * reconnect elsewhere and recover), then closes the adapter if this server created it.
   */
  close(options: { batchSize?: number; batchIntervalMs?: number; timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      const batchSize = positive('batchSize', options.batchSize, 500);
      const interval = options.batchIntervalMs ?? 50;
      clearInterval(this.heartbeat);
      this.httpServer?.close();
      const all = [...this.all];
      const closed = all.map((c) => c.closedPromise);
      for (let i = 0; i < all.length; i += batchSize) {
        for (const c of all.slice(i, i + batchSize))
          c.close(DisconnectCode.SERVICE_RESTART, 'server shutting down');
        if (i + batchSize < all.length) await new Promise((r) => setTimeout(r, interval));
      }
      const timeout = new Promise<void>((r) => setTimeout(r, options.timeoutMs ?? 5000).unref());
      await Promise.race([Promise.all(closed), timeout]);
      for (const c of this.all) c.ws.terminate();
      // Sockets that never became a Connection (refused subprotocol, closing): like ws 8, the
      // WebSocketServer emits 'close' only once every socket it tracks has closed.
      for (const ws of this.wss.clients) ws.terminate();
      this.httpTransport?.close();
      await new Promise<void>((r) => this.wss.close(() => r()));
      this.encoded.clear();
      if (this.ownsAdapter) await this.adapter.close();
      this.emit('close');
    })();
    return this.closing;
  }
}
