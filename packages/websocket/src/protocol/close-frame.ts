import { isUtf8 } from 'node:buffer';
import { CloseCode, isValidCloseCode } from './close-codes.js';
import { argumentError, ErrorCode, protocolError, WebSocketError } from './errors.js';

/** A decoded close frame payload. `code` is 1005 when the frame carried no status code. */
export interface ClosePayload {
  code: number;
  reason: string;
}

/**
 * Decodes and validates a received close frame payload (RFC 6455 §5.5.1, §7.4).
 * Throws 1002 for a 1-byte payload or an invalid code, 1007 for a reason that is not UTF-8.
 */
export function decodeClosePayload(payload: Uint8Array, validateUtf8 = true): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NO_STATUS_RECEIVED, reason: '' };
  if (payload.length === 1) {
    throw protocolError(
      ErrorCode.INVALID_CLOSE_PAYLOAD,
      'Close frame payload of 1 byte: a status code needs 2',
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw protocolError(ErrorCode.INVALID_CLOSE_CODE, `Close code ${code} is not allowed on the wire`);
  }
  const reasonBytes = payload.subarray(2);
  // RFC 6455 §5.5.1: the reason is UTF-8 encoded data.
  if (validateUtf8 && !isUtf8(reasonBytes)) {
    throw new WebSocketError(
      ErrorCode.INVALID_UTF8,
      'Close reason is not valid UTF-8',
      CloseCode.INVALID_PAYLOAD,
    );
  }
  return {
    code,
    reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString(),
  };
}

/**
 * Encodes a close payload to send. Without a code the payload is empty.
 * Throws WS_ERR_INVALID_ARGUMENT for a code that may not be sent, a reason without a code, or a
 * reason longer than 123 UTF-8 bytes (a control frame payload is at most 125 bytes).
 */
export function encodeClosePayload(code?: number, reason?: string | Uint8Array): Buffer {
  if (code === undefined) {
    if (reason !== undefined && reason.length > 0)
      throw argumentError('A close reason requires a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw argumentError(
      `Close code ${String(code)} may not be sent: use 1000-1003, 1007-1014, or 3000-4999 (1005, 1006 and 1015 are reserved)`,
    );
  }
  const reasonBytes =
    reason === undefined ? Buffer.alloc(0) : typeof reason === 'string' ? Buffer.from(reason) : reason;
  if (reasonBytes.length > 123) {
    throw argumentError(`Close reason is ${reasonBytes.length} bytes of UTF-8; the maximum is 123`);
  }
  const out = Buffer.allocUnsafe(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  out.set(reasonBytes, 2);
  return out;
}
