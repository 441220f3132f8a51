/**
 * Close status codes (RFC 6455 §7.4.1, IANA "WebSocket Close Code Number Registry").
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: never sent in a close frame; reported when a close frame carried no code. */
  NO_STATUS_RECEIVED: 1005,
  /** Reserved: never sent in a close frame; reported when the connection closed without a close frame. */
  ABNORMAL_CLOSURE: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reserved: never sent in a close frame (TLS handshake failure). */
  TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4).
 * 1000-1003 and 1007-1014 are defined by the IANA registry; 3000-4999 belong to libraries and
 * applications. 1004, 1005, 1006, 1015, the rest of 1000-2999, and everything outside 1000-4999
 * are reserved or invalid.
 */
export function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
