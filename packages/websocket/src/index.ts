/**
 * @ieum/websocket: a strict RFC 6455 WebSocket server and client for Node.js with the ws 8 API
 * and the WHATWG WebSocket API. The sans-I/O protocol core is at `@ieum/websocket/protocol`.
 */
import { createWebSocketStream } from './stream.js';
import { WebSocket } from './websocket.js';
import { WebSocketServer } from './websocket-server.js';

export type { CloseEventLike, ErrorEventLike, MessageEventLike, WebSocketEvent } from './event-target.js';
export { CloseCode, isValidCloseCode } from './protocol/close-codes.js';
export { ErrorCode, WebSocketError } from './protocol/errors.js';
export { DEFAULT_LIMITS, type Limits } from './protocol/limits.js';
export type { DeflateOptions } from './protocol/permessage-deflate.js';
export { createWebSocketStream } from './stream.js';
export {
  type BinaryType,
  type ClientOptions,
  type PreparedMessage,
  type RawData,
  type ReadyState,
  type SendCallback,
  WebSocket,
  WebSocket as default,
  type WebSocketSendOptions,
} from './websocket.js';
export {
  HandshakeRejection,
  rejectHandshake,
  type ServerOptions,
  type VerifyClient,
  type VerifyClientInfo,
  WebSocketServer,
} from './websocket-server.js';

// ws 8's default export is the WebSocket class carrying the rest as statics:
// `WebSocket.Server`, `WebSocket.WebSocketServer`, `WebSocket.WebSocket`,
// `WebSocket.createWebSocketStream` (and the CommonJS entry exports this same class).
for (const [name, value] of [
  ['Server', WebSocketServer],
  ['WebSocketServer', WebSocketServer],
  ['WebSocket', WebSocket],
  ['createWebSocketStream', createWebSocketStream],
] as const) {
  Object.defineProperty(WebSocket, name, { value, writable: true, configurable: true, enumerable: true });
}
