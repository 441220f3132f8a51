import { createHash } from 'node:crypto';
// RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing.
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2 step 5.4). */
export function computeAcceptKey(key) {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}
