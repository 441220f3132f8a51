/**
 * @ieum/realtime/client: the reconnecting realtime client for browsers and Node. In Node < 22,
 * pass `{ WebSocket }` from `@ieum/websocket`. No Node API is used here.
 */
export * from '../codec/index.js';
export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { type FallbackKind, httpFallback } from './http-socket.js';
export {
  Channel,
  type ChannelMessage,
  type ConnectionState,
  type PublishAck,
  RealtimeClient,
  type RealtimeClientOptions,
  RequestError,
  type StorageLike,
  type TransportName,
  type WebSocketConstructor,
  type WebSocketLike,
} from './realtime-client.js';
