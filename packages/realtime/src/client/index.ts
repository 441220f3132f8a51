/**
 * @ieum/realtime/client: the reconnecting realtime client for browsers and Node. In Node < 22,
 * pass `{ WebSocket }` from `@ieum/websocket`. No Node API is used here.
 */
export * from '../codec/index.js';
export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export {
  Channel,
  type ChannelEvents,
  type ChannelMessage,
  type PresenceUpdate,
  type PublishAck,
} from './channel.js';
export type { PersistedState, StorageLike } from './client-storage.js';
export { type FallbackKind, httpFallback } from './http-socket.js';
export {
  type ClientEvents,
  type ConnectionState,
  RealtimeClient,
  type RealtimeClientOptions,
} from './realtime-client.js';
export { RequestError } from './request-error.js';
export type { TransportName } from './transport-selector.js';
export type { SocketEventHandler, WebSocketConstructor, WebSocketLike } from './websocket-like.js';
