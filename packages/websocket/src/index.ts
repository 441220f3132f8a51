/**
 * @ieum/websocket: a strict RFC 6455 WebSocket server and client for Node.js with the ws 8 API
 * and the WHATWG WebSocket API. The sans-I/O protocol core is at `@ieum/websocket/protocol`.
 */
export type { CloseEventLike, ErrorEventLike, MessageEventLike, WebSocketEvent } from './event-target.js';
export { CloseCode, isValidCloseCode } from './protocol/close-codes.js';
export { ErrorCode, WebSocketError } from './protocol/errors.js';
export { DEFAULT_LIMITS, type Limits } from './protocol/limits.js';
export type { DeflateOptions } from './protocol/permessage-deflate.js';
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
