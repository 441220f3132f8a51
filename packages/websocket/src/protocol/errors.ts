import { CloseCode } from './close-codes.js';

/** Stable machine-readable error codes. Never change a code once published. */
export const ErrorCode = {
  // The peer broke the protocol (close 1002).
  INVALID_OPCODE: 'WS_ERR_INVALID_OPCODE',
  UNEXPECTED_RSV: 'WS_ERR_UNEXPECTED_RSV',
  EXPECTED_MASK: 'WS_ERR_EXPECTED_MASK',
  UNEXPECTED_MASK: 'WS_ERR_UNEXPECTED_MASK',
  INVALID_CONTROL_FRAME: 'WS_ERR_INVALID_CONTROL_FRAME',
  UNEXPECTED_CONTINUATION: 'WS_ERR_UNEXPECTED_CONTINUATION',
  EXPECTED_CONTINUATION: 'WS_ERR_EXPECTED_CONTINUATION',
  INVALID_LENGTH: 'WS_ERR_INVALID_LENGTH',
  INVALID_CLOSE_CODE: 'WS_ERR_INVALID_CLOSE_CODE',
  INVALID_CLOSE_PAYLOAD: 'WS_ERR_INVALID_CLOSE_PAYLOAD',
  // The peer sent bytes that are not what the opcode says (close 1007).
  INVALID_UTF8: 'WS_ERR_INVALID_UTF8',
  INVALID_COMPRESSED_DATA: 'WS_ERR_INVALID_COMPRESSED_DATA',
  // A limit was hit (close 1009).
  MESSAGE_TOO_BIG: 'WS_ERR_MESSAGE_TOO_BIG',
  FRAME_TOO_BIG: 'WS_ERR_FRAME_TOO_BIG',
  TOO_MANY_FRAGMENTS: 'WS_ERR_TOO_MANY_FRAGMENTS',
  // Handshake failures (HTTP status, or client-side rejection of the server's response).
  HANDSHAKE: 'WS_ERR_HANDSHAKE',
  HANDSHAKE_TIMEOUT: 'WS_ERR_HANDSHAKE_TIMEOUT',
  // Transport and lifecycle.
  CLOSE_TIMEOUT: 'WS_ERR_CLOSE_TIMEOUT',
  UNEXPECTED_EOF: 'WS_ERR_UNEXPECTED_EOF',
  PEER_NOT_READING: 'WS_ERR_PEER_NOT_READING',
  HEARTBEAT_TIMEOUT: 'WS_ERR_HEARTBEAT_TIMEOUT',
  // The caller misused the API (thrown synchronously).
  INVALID_ARGUMENT: 'WS_ERR_INVALID_ARGUMENT',
  INVALID_STATE: 'WS_ERR_INVALID_STATE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An error raised by the WebSocket protocol or its driver.
 * `code` is stable; `closeCode` is the close status sent to the peer (or 1006 when the
 * connection is dropped without one); `httpStatus` is set for handshake rejections.
 * The message is for the local developer and is never sent to the peer.
 */
export class WebSocketError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number;
  readonly httpStatus: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    closeCode: number = CloseCode.PROTOCOL_ERROR,
    httpStatus?: number,
  ) {
    super(message);
    this.name = 'WebSocketError';
    this.code = code;
    this.closeCode = closeCode;
    this.httpStatus = httpStatus;
  }
}

/** A protocol violation by the peer: close 1002. */
export function protocolError(code: ErrorCode, message: string): WebSocketError {
  return new WebSocketError(code, message, CloseCode.PROTOCOL_ERROR);
}

/** Thrown at once when the caller misuses the API; the message says what to do instead. */
export function argumentError(message: string): WebSocketError {
  return new WebSocketError(ErrorCode.INVALID_ARGUMENT, message, CloseCode.INTERNAL_ERROR);
}

/** Thrown at once when an operation is not allowed in the current state. */
export function stateError(message: string): WebSocketError {
  return new WebSocketError(ErrorCode.INVALID_STATE, message, CloseCode.INTERNAL_ERROR);
}
