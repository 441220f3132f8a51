import { CloseCode } from './close-codes.js';

/**
 * Stable machine-readable error codes. Where ws 8 documents a code for the same failure, the
 * value is ws's (so `error.code` checks written for ws keep working); several ieum names then
 * share one value (`FRAME_TOO_BIG` and `MESSAGE_TOO_BIG` are both ws's
 * `WS_ERR_UNSUPPORTED_MESSAGE_LENGTH`). The other values are ieum's own. Never change a code
 * once published.
 */
export const ErrorCode = {
  // The peer broke the protocol (close 1002).
  /** A reserved opcode, a continuation with no message to continue, or a new data frame inside a fragmented message. */
  INVALID_OPCODE: 'WS_ERR_INVALID_OPCODE',
  /** RSV1 set where no extension claims it (ws's code). */
  UNEXPECTED_RSV_1: 'WS_ERR_UNEXPECTED_RSV_1',
  /** RSV2 or RSV3 set (ws's code). */
  UNEXPECTED_RSV_2_3: 'WS_ERR_UNEXPECTED_RSV_2_3',
  /** Same value as `UNEXPECTED_RSV_1` (kept for code written against ieum 0.1). */
  UNEXPECTED_RSV: 'WS_ERR_UNEXPECTED_RSV_1',
  EXPECTED_MASK: 'WS_ERR_EXPECTED_MASK',
  UNEXPECTED_MASK: 'WS_ERR_UNEXPECTED_MASK',
  /** A fragmented control frame (ws's code). */
  EXPECTED_FIN: 'WS_ERR_EXPECTED_FIN',
  /** A control frame over 125 bytes, or a close frame of 1 byte (ws's code). */
  INVALID_CONTROL_PAYLOAD_LENGTH: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  /** Same value as `INVALID_CONTROL_PAYLOAD_LENGTH` (kept for code written against ieum 0.1). */
  INVALID_CONTROL_FRAME: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  /** Same value as `INVALID_OPCODE`, as in ws (kept for code written against ieum 0.1). */
  UNEXPECTED_CONTINUATION: 'WS_ERR_INVALID_OPCODE',
  /** Same value as `INVALID_OPCODE`, as in ws (kept for code written against ieum 0.1). */
  EXPECTED_CONTINUATION: 'WS_ERR_INVALID_OPCODE',
  /** A length that is not minimally encoded or has its top bit set (ieum only: ws accepts the first). */
  INVALID_LENGTH: 'WS_ERR_INVALID_LENGTH',
  INVALID_CLOSE_CODE: 'WS_ERR_INVALID_CLOSE_CODE',
  /** Same value as `INVALID_CONTROL_PAYLOAD_LENGTH`: a 1-byte close payload (kept for code written against ieum 0.1). */
  INVALID_CLOSE_PAYLOAD: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  // The peer sent bytes that are not what the opcode says (close 1007).
  INVALID_UTF8: 'WS_ERR_INVALID_UTF8',
  /** ieum only (ws passes on zlib's error, e.g. `Z_DATA_ERROR`). */
  INVALID_COMPRESSED_DATA: 'WS_ERR_INVALID_COMPRESSED_DATA',
  // A limit was hit (close 1009, or 1008 for too many fragments, as in ws).
  /** A message (inflated size for compressed ones) over `maxMessageBytes` (ws's code). */
  UNSUPPORTED_MESSAGE_LENGTH: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  /** Same value as `UNSUPPORTED_MESSAGE_LENGTH`. */
  MESSAGE_TOO_BIG: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  /** A frame over `maxFrameBytes`; same value as `UNSUPPORTED_MESSAGE_LENGTH`. */
  FRAME_TOO_BIG: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  /** A 64-bit frame length above 2^53 - 1 (ws's code, close 1009). */
  UNSUPPORTED_DATA_PAYLOAD_LENGTH: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  /** More than `maxFragments` frames in one message (ws's code, close 1008). */
  TOO_MANY_BUFFERED_PARTS: 'WS_ERR_TOO_MANY_BUFFERED_PARTS',
  /** Same value as `TOO_MANY_BUFFERED_PARTS`. */
  TOO_MANY_FRAGMENTS: 'WS_ERR_TOO_MANY_BUFFERED_PARTS',
  // Handshake failures (HTTP status, or client-side rejection of the server's response).
  HANDSHAKE: 'WS_ERR_HANDSHAKE',
  HANDSHAKE_TIMEOUT: 'WS_ERR_HANDSHAKE_TIMEOUT',
  // Transport and lifecycle.
  CLOSE_TIMEOUT: 'WS_ERR_CLOSE_TIMEOUT',
  UNEXPECTED_EOF: 'WS_ERR_UNEXPECTED_EOF',
  PEER_NOT_READING: 'WS_ERR_PEER_NOT_READING',
  HEARTBEAT_TIMEOUT: 'WS_ERR_HEARTBEAT_TIMEOUT',
  /** A message took longer than `messageAssemblyTimeoutMs` to arrive (close 1008). */
  MESSAGE_TIMEOUT: 'WS_ERR_MESSAGE_TIMEOUT',
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
