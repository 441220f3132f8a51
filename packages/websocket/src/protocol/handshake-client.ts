import { computeAcceptKey, isValidKey } from './accept-key.js';
import { argumentError } from './errors.js';
import { type ExtensionOffer, parseExtensionHeader } from './extension-header.js';
import { HandshakeError } from './handshake-error.js';
import { formatHeaderLines, headerHasToken, isFieldValue, isToken, joinHeaderValue } from './http-tokens.js';

/** What {@link buildClientHandshakeRequest} writes into the opening handshake (RFC 6455 §4.1). */
export interface ClientRequestOptions {
  /** The `Host` header: `host[:port]` (IPv6 literals in brackets). */
  host: string;
  /** The resource name: path and query, starting with "/" and without a fragment. */
  path: string;
  /** `Sec-WebSocket-Key` from `generateKey`. */
  key: string;
  /** Subprotocols to offer, most preferred first; unique tokens. */
  protocols?: readonly string[];
  /** `Sec-WebSocket-Extensions` value to offer (see `formatExtensionHeader`); `''` offers none. */
  extensions?: string;
  /** The `Origin` header, if any. */
  origin?: string;
  /** Extra request headers (e.g. `Authorization`). May not replace the handshake's own. */
  headers?: Record<string, string>;
}

const REQUEST_RESERVED = [
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-accept',
  // A body on the upgrade request would be read as WebSocket frames by the server.
  'content-length',
  'transfer-encoding',
];
const RESERVED = new Set(REQUEST_RESERVED);
const RESERVED_WITH_ORIGIN = new Set([...REQUEST_RESERVED, 'origin']);

/**
 * The client's opening handshake request (RFC 6455 §4.1), ready to write:
 *
 * ```
 * GET <path> HTTP/1.1\r\n
 * Host: <host>\r\n
 * Upgrade: websocket\r\n
 * Connection: Upgrade\r\n
 * Sec-WebSocket-Key: <key>\r\n
 * Sec-WebSocket-Version: 13\r\n
 * [Sec-WebSocket-Protocol: a, b\r\n]
 * [Sec-WebSocket-Extensions: ...\r\n]
 * [Origin: ...\r\n]
 * [extra headers]\r\n
 * ```
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` for an invalid host, path (must start with
 *   "/", no whitespace, controls or "#") or key; a subprotocol that is not a token or is listed
 *   twice; a malformed extensions value; CR, LF or another control character in any value; or an
 *   extra header that would replace a handshake header (`Origin` too when `origin` is given).
 */
export function buildClientHandshakeRequest(o: ClientRequestOptions): string {
  if (typeof o.host !== 'string' || !isHost(o.host)) {
    throw argumentError(`Invalid host ${JSON.stringify(o.host)}: expected host[:port]`);
  }
  if (typeof o.path !== 'string' || !isResourceName(o.path)) {
    throw argumentError(
      `Invalid path ${JSON.stringify(o.path)}: it must start with "/" and hold no whitespace, control character or "#"`,
    );
  }
  if (typeof o.key !== 'string' || !isValidKey(o.key)) {
    throw argumentError('key must be 16 random bytes, base64-encoded (use generateKey)');
  }
  let head =
    `GET ${o.path} HTTP/1.1\r\n` +
    `Host: ${o.host}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${o.key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n';

  const protocols = o.protocols ?? [];
  const seen = new Set<string>();
  for (const p of protocols) {
    // RFC 6455 §4.1 item 10: each subprotocol is a token, and all are unique.
    if (typeof p !== 'string' || !isToken(p)) {
      throw argumentError(`Subprotocol ${JSON.stringify(p)} is not an RFC 7230 token`);
    }
    if (seen.has(p)) throw argumentError(`Subprotocol ${JSON.stringify(p)} is listed twice`);
    seen.add(p);
  }
  if (protocols.length > 0) head += `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n`;

  if (o.extensions !== undefined && o.extensions !== '') {
    if (typeof o.extensions !== 'string' || !isFieldValue(o.extensions) || !isExtensionHeader(o.extensions)) {
      throw argumentError('extensions must be a valid Sec-WebSocket-Extensions value (RFC 6455 §9.1)');
    }
    head += `Sec-WebSocket-Extensions: ${o.extensions}\r\n`;
  }
  if (o.origin !== undefined) {
    if (typeof o.origin !== 'string' || o.origin.length === 0 || !isFieldValue(o.origin)) {
      throw argumentError('origin must be a non-empty header value without control characters');
    }
    head += `Origin: ${o.origin}\r\n`;
  }
  head += formatHeaderLines(o.headers, o.origin === undefined ? RESERVED : RESERVED_WITH_ORIGIN);
  return `${head}\r\n`;
}

// RFC 7230 §5.4: Host = uri-host [ ":" port ]; visible ASCII with no delimiter that would end
// the authority.
function isHost(host: string): boolean {
  if (host.length === 0) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */ || c === 0x40 /* @ */) return false;
  }
  return true;
}

// RFC 6455 §3: resource name = path [ "?" query ]; a fragment MUST NOT be used.
function isResourceName(path: string): boolean {
  if (!path.startsWith('/')) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) return false;
  }
  return true;
}

function isExtensionHeader(value: string): boolean {
  try {
    parseExtensionHeader(value, { maxOffers: 1024, maxParams: 1024 });
    return true;
  } catch {
    return false;
  }
}

/** A short, printable rendering of a server-sent value for a local error message. */
function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** What the client sent, for {@link validateServerHandshake}. */
export interface ClientHandshakeExpectation {
  /** The `Sec-WebSocket-Key` sent. */
  key: string;
  /** The subprotocols offered (empty when none). */
  protocols: readonly string[];
  /** Names of the extensions offered. */
  offeredExtensions: readonly string[];
}

/**
 * Validates the server's opening-handshake response (RFC 6455 §4.1, the client's checks 1-6)
 * and returns the selected subprotocol (`''` when none) and the extensions the server accepted,
 * parameters as sent (the extension itself must still validate them). Pure; linear time.
 *
 * @throws {HandshakeError} (no `httpStatus`) when the status is not 101; `Upgrade` is not
 *   `websocket`; `Connection` lacks `Upgrade`; `Sec-WebSocket-Accept` is missing or wrong; the
 *   extensions header is malformed or names an extension that was not offered; or the
 *   subprotocol header is empty, lists several, or names one that was not offered (or any, when
 *   none was offered).
 */
export function validateServerHandshake(
  res: { statusCode: number; headers: Record<string, string | string[] | undefined> },
  expect: ClientHandshakeExpectation,
): { protocol: string; extensions: ExtensionOffer[] } {
  // RFC 6455 §4.1 item 1: anything but 101 means the handshake did not complete.
  if (res.statusCode !== 101) throw new HandshakeError(`Unexpected server response: ${res.statusCode}`);
  const h = res.headers;
  // §4.1 item 2: |Upgrade| must be an ASCII case-insensitive match for "websocket".
  const upgrade = joinHeaderValue(h.upgrade);
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    throw new HandshakeError(
      'Missing or invalid Upgrade header in the server response: expected "websocket"',
    );
  }
  // §4.1 item 3: |Connection| must carry the token "Upgrade" (case-insensitive).
  if (!headerHasToken(h.connection, 'upgrade')) {
    throw new HandshakeError(
      'Missing or invalid Connection header in the server response: expected "Upgrade"',
    );
  }
  // §4.1 item 4: |Sec-WebSocket-Accept| must be base64(SHA-1(key + GUID)), compared exactly.
  const accept = h['sec-websocket-accept'];
  if (typeof accept !== 'string') {
    throw new HandshakeError('Missing or repeated Sec-WebSocket-Accept header in the server response');
  }
  if (accept.trim() !== computeAcceptKey(expect.key)) {
    throw new HandshakeError('Invalid Sec-WebSocket-Accept header: it does not match the key sent');
  }
  // §4.1 item 5: every extension in use must have been offered. A malformed header fails too.
  let extensions: ExtensionOffer[];
  try {
    extensions = parseExtensionHeader(h['sec-websocket-extensions']);
  } catch (error) {
    // Re-thrown without the HTTP status: that one is for a server rejecting a request.
    throw new HandshakeError(error instanceof Error ? error.message : String(error));
  }
  for (const ext of extensions) {
    if (!expect.offeredExtensions.includes(ext.name)) {
      throw new HandshakeError(`Server accepted extension ${quote(ext.name)}, which was not offered`);
    }
  }
  // §4.1 item 6: a subprotocol, if any, must be one we offered; none at all when we offered none.
  const raw = joinHeaderValue(h['sec-websocket-protocol']);
  let protocol = '';
  if (raw !== undefined) {
    protocol = raw.trim();
    if (expect.protocols.length === 0) {
      throw new HandshakeError('Server selected a subprotocol, but none was offered');
    }
    if (protocol === '')
      throw new HandshakeError('Empty Sec-WebSocket-Protocol header in the server response');
    if (!isToken(protocol)) {
      throw new HandshakeError(
        'Invalid Sec-WebSocket-Protocol header: the server must select one subprotocol',
      );
    }
    if (!expect.protocols.includes(protocol)) {
      throw new HandshakeError(`Server selected subprotocol ${quote(protocol)}, which was not offered`);
    }
  }
  return { protocol, extensions };
}
