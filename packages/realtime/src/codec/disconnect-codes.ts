// The one table of WebSocket close codes a realtime server uses, and what a client does on each.

export type DisconnectAction = 'reconnect' | 'stop' | 'reconnect-with-new-token';

export const DisconnectCode = {
  /** The application closed the connection on purpose. */
  NORMAL: 1000,
  /** The server or page is going away. */
  GOING_AWAY: 1001,
  /** A message was larger than the server's limit. */
  MESSAGE_TOO_BIG: 1009,
  /** The server hit an unexpected error. */
  SERVER_ERROR: 1011,
  /**
   * The server is shutting down or restarting (graceful shutdown), or a subscribed channel lost
   * its history under the connection (resubscribing from the client's position reports the reset).
   */
  SERVICE_RESTART: 1012,
  /** The server is overloaded. */
  TRY_AGAIN_LATER: 1013,
  /** The client broke the protocol (malformed message, unsupported version, no hello). */
  PROTOCOL_ERROR: 4400,
  /** Authentication failed: the credentials were refused. */
  UNAUTHORIZED: 4401,
  /** The token expired and was not refreshed in time. */
  TOKEN_EXPIRED: 4402,
  /** A refreshed token named another user, or the user may not connect. */
  FORBIDDEN: 4403,
  /** No message from the peer within the heartbeat timeout. */
  HEARTBEAT_TIMEOUT: 4408,
  /** The connection could not keep up with what it was sent (outbound queue full). */
  SLOW_CONSUMER: 4409,
  /** Too many messages per second from this connection. */
  RATE_LIMITED: 4429,
} as const;

const actions: Record<number, DisconnectAction> = {
  1000: 'stop',
  1001: 'reconnect',
  1005: 'reconnect',
  1006: 'reconnect',
  1009: 'stop',
  1011: 'reconnect',
  1012: 'reconnect',
  1013: 'reconnect',
  4400: 'stop',
  4401: 'stop',
  4402: 'reconnect-with-new-token',
  4403: 'stop',
  4408: 'reconnect',
  4409: 'reconnect',
  4429: 'reconnect',
};

/**
 * What a client should do after a close with `code`. Codes not in the table: 1002-1015 are
 * protocol faults (stop), 3000-4999 from the application default to reconnect.
 */
export function disconnectAction(code: number): DisconnectAction {
  const a = actions[code];
  if (a) return a;
  if (code >= 1002 && code <= 1015) return 'stop';
  return 'reconnect';
}
