// What a session needs from the server that runs it, as narrow interfaces: its resolved options,
// its metrics, the event handlers, error reporting, the registry of sessions and the hub. A
// session never sees the server object (and so never imports it). Generic in the session type `S`.
import type { Adapter, ChannelEntry, PublishResult } from '../adapter/adapter.js';
import type { Codec } from '../codec/codec.js';
import type { PayloadLimits } from '../codec/payload-limits.js';
import type { OutboundLimits } from '../transports/outbound-queue.js';
import type { RateLimit } from '../transports/rate-limit.js';
import type { ChannelRateLimit } from './channel-rate.js';
import type { Authenticate, ChannelAccessOf, EventHandlerOf, PublishContextOf } from './hooks.js';
import type { PublishMeta } from './hub.js';
import type { TrafficTap } from './traffic-tap.js';

/** The server's options as a session reads them: validated, defaults applied. */
export interface SessionOptions<S> {
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
  authorizeChannel: ((access: ChannelAccessOf<S>) => boolean | Promise<boolean>) | undefined;
  beforePublish: ((ctx: PublishContextOf<S>) => unknown | Promise<unknown>) | undefined;
  payload: PayloadLimits;
  maxSubscriptionsPerConnection: number;
  maxPendingInput: { messages: number; bytes: number; handlers: number };
  channelRate: ChannelRateLimit | false;
  maxMessageIdLength: number;
  maxPresenceStateBytes: number;
  presenceFlushIntervalMs: number;
}

/** A counter a session adds to (prom-client's `Counter` fits). */
export interface SessionCounter {
  inc(value?: number): void;
}

/** The metrics a session counts. */
export interface SessionMetrics {
  readonly messagesIn: SessionCounter;
  readonly bytesIn: SessionCounter;
  readonly messagesOut: SessionCounter;
  readonly bytesOut: SessionCounter;
  readonly dropped: SessionCounter;
  /** Subscriptions resumed from a client's position, by outcome (`recovered` or `reset`). */
  readonly recoveries?: { inc(labels: { outcome: 'recovered' | 'reset' }): void };
}

/** Reports an error that concerns one session or operation; never throws. */
export type ReportError = (error: Error) => void;

/** The application's event handlers (`rt.handle`) as a session finds them. */
export interface SessionHandlers<S> {
  handlerFor(event: string): EventHandlerOf<(data: never) => unknown, S> | undefined;
  /** A client event nobody handles, sent without a reply expected. */
  unhandled(session: S, event: string, data: unknown): void;
}

/** Where sessions are known: from creation, once authenticated, until closed. */
export interface SessionRegistry<S> {
  /** A new session (authenticated or not), so that shutdown reaches it. */
  adopt(session: S): void;
  /** The session is authenticated: it counts as connected from now on. */
  registered(session: S): void;
  /** The session closed with `code` and `reason`. */
  unregistered(session: S, code: number, reason: string): void;
}

/** The hub as a session uses it: local fan-out of channels, and the one publish path. */
export interface SessionHub<S> {
  /** Adds `session` to the fan-out of `channel`; resolves once the adapter delivers it. */
  attach(channel: string, session: S): Promise<void>;
  detach(channel: string, session: S): void;
  /** Validates and stores a message (see `Hub.publish`); throws a `RealtimeError` if refused. */
  publish(channel: string, event: string, data: unknown, meta?: PublishMeta): Promise<PublishResult>;
  /** The `msg` packet of a stored message in `codec`, encoded once for all sessions. */
  encodeEntry(codec: Codec, channel: string, epoch: string, entry: ChannelEntry): string | Uint8Array;
}

/** Everything a session depends on. */
export interface SessionDeps<S> {
  readonly options: SessionOptions<S>;
  readonly metrics: SessionMetrics | undefined;
  readonly adapter: Adapter;
  readonly hub: SessionHub<S>;
  readonly handlers: SessionHandlers<S>;
  readonly registry: SessionRegistry<S>;
  readonly reportError: ReportError;
  /** Observers of the traffic (`rt.taps`); usually empty. */
  readonly taps: ReadonlySet<TrafficTap<S>>;
}
