import { CloseCode } from './close-codes.js';
import { ErrorCode, WebSocketError } from './errors.js';

/**
 * An opening-handshake failure (RFC 6455 §4). Code `WS_ERR_HANDSHAKE`, close code 1006 (no
 * connection was ever open).
 *
 * On the server, `httpStatus` is the status to answer with and `headers` are the extra response
 * headers that status requires (e.g. `Sec-WebSocket-Version: 13, 8` with 400, RFC 6455 §4.4;
 * `Allow: GET` with 405). Pass both to `buildHandshakeRejection`. On the client, `httpStatus` is
 * undefined and `headers` is empty.
 *
 * The message describes what the peer did wrong without echoing its input, so a server may send
 * it as the rejection body.
 */
export class HandshakeError extends WebSocketError {
  /** Extra headers for the HTTP rejection; empty when none are required. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(message: string, httpStatus?: number, headers: Record<string, string> = {}) {
    super(ErrorCode.HANDSHAKE, message, CloseCode.ABNORMAL_CLOSURE, httpStatus);
    this.name = 'HandshakeError';
    this.headers = Object.freeze({ ...headers });
  }
}
