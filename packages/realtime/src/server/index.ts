/**
 * @ieum/realtime/server: channels with history and recovery, events with acknowledgements,
 * presence, authentication (JWT ready), limits and metrics, over @ieum/websocket.
 */
export * from '../protocol/index.js';
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
} from './adapter.js';
export { DEFAULT_DEDUPE, DEFAULT_HISTORY, DEFAULT_HISTORY_BYTES, DEFAULT_MAX_CHANNELS } from './adapter.js';
export { type ChannelRateLimit, DEFAULT_CHANNEL_RATE } from './channel-rate.js';
export { Connection } from './connection.js';
export { type JwtOptions, jwtAuthenticator } from './jwt.js';
export { MemoryAdapter, type MemoryAdapterOptions } from './memory-adapter.js';
export { type MetricsOptions, RealtimeMetrics } from './metrics.js';
export { DEFAULT_OUTBOUND, type OutboundLimits, type SlowConsumerPolicy } from './outbound-queue.js';
export { DEFAULT_PAYLOAD_DEPTH, MAX_PAYLOAD_DEPTH, type PayloadLimits } from './payload-limits.js';
export { DEFAULT_RATE_LIMIT, type RateLimit } from './rate-limit.js';
export { isOverloaded } from './realtime-error.js';
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
