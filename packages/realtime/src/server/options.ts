// The options of `RealtimeServer`, public hook types bound to `Connection`, and how options are
// validated and resolved (defaults applied) before anything starts.
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { DeflateOptions } from '@ieum/websocket';
import type { Adapter } from '../adapter/adapter.js';
import type { Codec } from '../codec/codec.js';
import type { EventMapShape } from '../codec/event-map.js';
import { DEFAULT_PAYLOAD_DEPTH, MAX_PAYLOAD_DEPTH } from '../codec/payload-limits.js';
import type { HttpFallbackOptions } from '../transports/http-fallback.js';
import { DEFAULT_OUTBOUND, type OutboundLimits } from '../transports/outbound-queue.js';
import {
  DEFAULT_INPUT_BYTES_PER_SECOND,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SUBSCRIBE_RATE_LIMIT,
  type RateLimit,
} from '../transports/rate-limit.js';
import { type ChannelRateLimit, DEFAULT_CHANNEL_RATE } from './channel-rate.js';
import type { Connection } from './connection.js';
import { DEFAULT_REPLAY_CACHE_BYTES } from './encoded-cache.js';
import type { Authenticate, ChannelAccessOf, EventHandlerOf, PublishContextOf } from './hooks.js';
import type { MetricsOptions } from './metrics.js';
import { DEFAULT_PRESENCE_FLUSH_INTERVAL_MS } from './presence-fanout.js';
import { DEFAULT_MAX_PRESENCE_STATE_BYTES } from './presence-writer.js';
import type { SessionOptions } from './session-deps.js';

export type { AuthContext, Authenticate, AuthResult, EventMap } from './hooks.js';

/** What `beforePublish` is asked about: a client's publish. */
export interface PublishContext extends PublishContextOf<Connection> {}

/** What `authorizeChannel` is asked about: a connection subscribing or publishing to a channel. */
export interface ChannelAccess extends ChannelAccessOf<Connection> {}

/** A handler of client events of signature `F` (see `RealtimeServer.handle`). */
export type EventHandler<
  F extends (data: never) => unknown,
  M extends EventMapShape = EventMapShape,
> = EventHandlerOf<F, Connection<M>>;

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
  /**
   * Largest presence state a connection may set (`presence` packet, `channel.presence.update`),
   * in bytes of its JSON form, estimated as for `maxPayloadBytes`. It is stored in the adapter
   * and sent to every member on each change. Larger: the update fails with
   * `presence-state-too-large` and the previous state stays. Default 2,048.
   */
  maxPresenceStateBytes?: number;
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
   * within one interval reach members as one change, its latest state, and so do a connection's
   * presence state updates (each connection's state is also written to the adapter at most once
   * per interval: the latest one). The first change after a quiet interval is sent at once.
   * Default 100.
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

/** The options as sessions read them (see `SessionOptions`). */
export type ResolvedOptions = SessionOptions<Connection>;

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

export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`RealtimeServer: ${name} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

/** `options` validated, with defaults applied: what the server and its sessions run with. */
export interface Resolved {
  session: ResolvedOptions;
  maxMessageBytes: number;
  presenceFlushIntervalMs: number;
  replayCacheBytes: number;
  closeTimeoutMs: number;
  /** Whether a request's `Origin` is allowed (`allowedOrigins`, `requireOrigin`). */
  originAllowed: (origin: string | undefined, req: IncomingMessage) => boolean;
}

/** Validates `options` and applies the defaults. Throws a `RangeError` naming a bad option. */
export function resolveOptions(options: RealtimeServerOptions): Resolved {
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
  const session: ResolvedOptions = {
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
    channelRate: options.channelRate === false ? false : { ...DEFAULT_CHANNEL_RATE, ...options.channelRate },
    maxMessageIdLength: positive('maxMessageIdLength', options.maxMessageIdLength, 64),
    maxPresenceStateBytes: positive(
      'maxPresenceStateBytes',
      options.maxPresenceStateBytes,
      DEFAULT_MAX_PRESENCE_STATE_BYTES,
    ),
    presenceFlushIntervalMs: positive(
      'presenceFlushIntervalMs',
      options.presenceFlushIntervalMs,
      DEFAULT_PRESENCE_FLUSH_INTERVAL_MS,
    ),
  };
  if (session.channelRate) {
    positive('channelRate.burst', session.channelRate.burst, 1);
    if (!(session.channelRate.channelsPerSecond > 0)) {
      throw new RangeError('RealtimeServer: channelRate.channelsPerSecond must be positive');
    }
  }
  if (session.payload.maxPayloadDepth > MAX_PAYLOAD_DEPTH) {
    throw new RangeError(`RealtimeServer: maxPayloadDepth must be at most ${MAX_PAYLOAD_DEPTH}`);
  }
  const presenceFlushIntervalMs = positive(
    'presenceFlushIntervalMs',
    options.presenceFlushIntervalMs,
    DEFAULT_PRESENCE_FLUSH_INTERVAL_MS,
  );
  const replayCacheBytes = positive('replayCacheBytes', options.replayCacheBytes, DEFAULT_REPLAY_CACHE_BYTES);
  const closeTimeoutMs = positive('closeTimeoutMs', options.closeTimeoutMs, 5000);
  return {
    session,
    maxMessageBytes,
    presenceFlushIntervalMs,
    replayCacheBytes,
    closeTimeoutMs,
    originAllowed: originCheck(options.allowedOrigins, options.requireOrigin === true),
  };
}
