import * as crypto from 'node:crypto';

/** The GUID of RFC 6455 §1.3, appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 item 5.4): base64(SHA-1(key + GUID)). */
export function computeAcceptKey(key: string): string {
  return sha1Base64(key + WEBSOCKET_GUID);
}

/** One-shot `crypto.hash` (Node 20.12+, about 3x cheaper than a Hash object), else createHash. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;
const sha1Base64 =
  typeof oneShot === 'function'
    ? (data: string): string => oneShot('sha1', data, 'base64')
    : (data: string): string => crypto.createHash('sha1').update(data).digest('base64');

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 §4.1 item 7). */
export function generateKey(randomFill: (target: Uint8Array) => void): string {
  const bytes = new Uint8Array(16);
  randomFill(bytes);
  return Buffer.from(bytes).toString('base64');
}

const KEY_PATTERN = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: base64 that decodes to exactly 16 bytes
 * (RFC 6455 §4.2.1 item 5), i.e. 22 base64 characters, the last with its low 4 bits zero, then "==".
 */
export function isValidKey(key: string): boolean {
  return key.length === 24 && KEY_PATTERN.test(key);
}
