/**
 * @ieum/realtime/server: channels with history and recovery, events with acknowledgements,
 * presence, authentication (JWT ready), limits and metrics, over @ieum/websocket.
 */

export type {
  Adapter,
  AdapterEvent,
  ChannelEntry,
  ChannelPosition,
  DedupeLimits,
  HistoryByteLimits,
  HistoryLimits,
  HistoryResult,
  PresenceChange,
  PublishInput,
  PublishResult,
} from '../adapter/adapter.js';
export {
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  DEFAULT_HISTORY_BYTES,
  DEFAULT_MAX_CHANNELS,
} from '../adapter/adapter.js';
export { MemoryAdapter, type MemoryAdapterOptions } from '../adapter/memory.js';
export { isOverloaded } from '../adapter/realtime-error.js';
export * from '../codec/index.js';
export { DEFAULT_PAYLOAD_DEPTH, MAX_PAYLOAD_DEPTH, type PayloadLimits } from '../codec/payload-limits.js';
export {
  DEFAULT_OUTBOUND,
  type OutboundLimits,
  type SlowConsumerPolicy,
} from '../transports/outbound-queue.js';
export { DEFAULT_RATE_LIMIT, type RateLimit } from '../transports/rate-limit.js';
export { type ChannelRateLimit, DEFAULT_CHANNEL_RATE } from './channel-rate.js';
export { Connection } from './connection.js';
export { type JwtOptions, jwtAuthenticator } from './jwt.js';
export { type MetricsOptions, RealtimeMetrics } from './metrics.js';
export {
  type AuthContext,
  type Authenticate,
  type AuthResult,
  type ChannelAccess,
  type EventHandler,
  type EventMap,
  type PublishContext,
  RealtimeError,
  RealtimeServer,
  type RealtimeServerOptions,
} from './realtime-server.js';
export type { TrafficTap } from './traffic-tap.js';
