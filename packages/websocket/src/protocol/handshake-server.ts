import { STATUS_CODES } from 'node:http';
import { computeAcceptKey, isValidKey } from './accept-key.js';
import { argumentError } from './errors.js';
import { type ExtensionOffer, parseExtensionHeader } from './extension-header.js';
import { HandshakeError } from './handshake-error.js';
import { formatHeaderLines, headerHasToken, isFieldValue, isToken, parseTokenList } from './http-tokens.js';
import { type Limits, resolveLimits } from './limits.js';

export { HandshakeError } from './handshake-error.js';

/**
 * The parts of an HTTP upgrade request the handshake needs; a Node `IncomingMessage` fits
 * (`headers` with lowercase names, repeated headers joined as Node does).
 */
export interface HandshakeRequest {
  /** Request method, case-sensitive (RFC 7230 §3.1.1). */
  method: string;
  /** e.g. `"1.1"`. */
  httpVersion: string;
  /** The request-target: origin-form (`/chat?room=1`) or absolute-form (`ws://host/chat`). */
  url: string;
  /** Header fields by lowercase name. */
  headers: Record<string, string | string[] | undefined>;
  /** Number of header lines as received (`rawHeaders.length / 2` in Node). Checked when given. */
  rawHeaderCount?: number;
  /**
   * The header lines as received, names and values alternating (Node's `rawHeaders`). When
   * given, headers that must appear once (`Host`, `Origin`) are counted here: Node keeps only
   * the first `Host` and joins repeated `Origin` lines, so `headers` cannot show the repeat.
   */
  rawHeaders?: readonly string[];
}

/** A validated client opening handshake (RFC 6455 §4.2.1). */
export interface ClientHandshake {
  /** `Sec-WebSocket-Key`, already checked to decode to 16 bytes. */
  key: string;
  /**
   * 13 (RFC 6455), or 8 (draft-ietf-hybi-08, same framing, still sent by some old clients and
   * accepted as ws accepts it).
   */
  version: 13 | 8;
  /** Offered subprotocols in the client's order of preference; unique, each a token. */
  protocols: string[];
  /** Offered extensions, in order, parameters as sent (RFC 6455 §9.1). */
  extensions: ExtensionOffer[];
  /**
   * The `Origin` header, when sent (browsers always send it); for version 8,
   * `Sec-WebSocket-Origin`, the name that draft used.
   */
  origin: string | undefined;
  /** The resource name: path and query, always starting with "/" (RFC 6455 §3). */
  path: string;
}

/** Most subprotocols accepted in one `Sec-WebSocket-Protocol` offer. */
const MAX_PROTOCOLS = 64;

/**
 * Validates a client's opening handshake (RFC 6455 §4.2.1) and extracts what the server needs
 * to answer it. Pure: reads only `req`. Checks, in order: header count and size, method, HTTP
 * version, `Upgrade`, `Connection`, `Host`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, the
 * request-target, `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`, `Origin`. The key is
 * checked before the version, as ws does, so a pre-RFC (Hixie-76) request, which has no
 * `Sec-WebSocket-Key`, gets the same 400 as from ws.
 *
 * Every header is parsed in linear time with bounded output, whatever its content.
 *
 * @param limits `maxHeaderCount` and `maxHandshakeBytes` are enforced (defaults from `limits.ts`).
 * @throws {HandshakeError} with `httpStatus`:
 *   - 431 more than `maxHeaderCount` header lines, or headers and target longer than `maxHandshakeBytes`;
 *   - 405 a method other than GET (with `Allow: GET` in `headers`);
 *   - 505 an HTTP major version other than 1; 400 HTTP/1.0 (HTTP/1.1 or later is required);
 *   - 400 `Upgrade` without `websocket`, `Connection` without `upgrade`, no or a repeated `Host`,
 *     a key that is not 16 bytes of base64 (or none: Hixie-75/76 requests), an unusable
 *     request-target, a malformed, empty or duplicated subprotocol list (or more than 64), a
 *     malformed extension header, a repeated `Origin`;
 *   - 400 a `Sec-WebSocket-Version` other than 13 or 8, with `Sec-WebSocket-Version: 13, 8` in
 *     `headers` (RFC 6455 §4.4; the status and header ws answers with).
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` for an invalid `limits` object.
 */
export function validateClientHandshake(req: HandshakeRequest, limits?: Partial<Limits>): ClientHandshake {
  const { maxHeaderCount, maxHandshakeBytes } = resolveLimits(limits);
  const headers = req.headers;

  if (req.rawHeaderCount !== undefined && req.rawHeaderCount > maxHeaderCount) {
    throw new HandshakeError(`Too many header lines (max ${maxHeaderCount})`, 431);
  }
  if (headSize(req) > maxHandshakeBytes) {
    throw new HandshakeError(`Request header fields too large (max ${maxHandshakeBytes} bytes)`, 431);
  }

  // RFC 6455 §4.2.1 item 1: an HTTP/1.1 or higher GET request.
  if (req.method !== 'GET') {
    throw new HandshakeError('The WebSocket handshake must be a GET request', 405, { Allow: 'GET' });
  }
  const version = /^(\d)\.(\d)$/.exec(req.httpVersion);
  if (!version) throw new HandshakeError('Malformed HTTP version', 400);
  if (version[1] !== '1') throw new HandshakeError('HTTP version not supported; use HTTP/1.1', 505);
  if (version[2] === '0') throw new HandshakeError('The WebSocket handshake requires HTTP/1.1 or later', 400);

  // RFC 6455 §4.2.1 item 3: an |Upgrade| header field containing "websocket" (case-insensitive).
  if (!headerHasToken(headers.upgrade, 'websocket')) {
    throw new HandshakeError('Missing or invalid Upgrade header: it must contain "websocket"', 400);
  }
  // RFC 6455 §4.2.1 item 4: a |Connection| header field that includes the token "Upgrade".
  if (!headerHasToken(headers.connection, 'upgrade')) {
    throw new HandshakeError('Missing or invalid Connection header: it must contain "Upgrade"', 400);
  }
  // RFC 6455 §4.2.1 item 2 and RFC 7230 §5.4: exactly one non-empty Host header.
  const host = headers.host;
  if (typeof host !== 'string' || host.trim().length === 0 || repeated(req.rawHeaders, 'host')) {
    throw new HandshakeError('Missing, empty or repeated Host header', 400);
  }
  // RFC 6455 §4.2.1 item 5: |Sec-WebSocket-Key|, base64 of 16 bytes. A repeated key arrives
  // joined with ", " (or as an array) and fails this check. (Messages of the key and version
  // refusals are ws's, word for word: they are the bodies ws clients' tests look for.)
  const key = headers['sec-websocket-key'];
  if (typeof key !== 'string' || !isValidKey(key)) {
    throw new HandshakeError('Missing or invalid Sec-WebSocket-Key header', 400);
  }
  // RFC 6455 §4.2.1 item 6 and §4.4: |Sec-WebSocket-Version| must be one we speak; otherwise
  // answer with the versions we speak, so the client can retry. Version 8 (hybi-08) frames as
  // 13 does; ws accepts it, and so do we.
  const versionHeader = headers['sec-websocket-version'];
  const wsVersion = versionHeader === '13' ? 13 : versionHeader === '8' ? 8 : undefined;
  if (wsVersion === undefined) {
    throw new HandshakeError('Missing or invalid Sec-WebSocket-Version header', 400, {
      'Sec-WebSocket-Version': '13, 8',
    });
  }
  const path = resourceName(req.url);
  if (path === undefined) throw new HandshakeError('Invalid request-target for a WebSocket resource', 400);

  const protocols = parseProtocols(headers['sec-websocket-protocol']);
  const extensions = parseExtensionHeader(headers['sec-websocket-extensions']);

  // RFC 6455 §4.2.1 item 7 / §10.2: Origin is optional; the server decides what to do with it.
  // RFC 6454 §7.3: at most one Origin header field. hybi-08 called it Sec-WebSocket-Origin.
  const originName = wsVersion === 8 ? 'sec-websocket-origin' : 'origin';
  const origin = headers[originName];
  if ((origin !== undefined && typeof origin !== 'string') || repeated(req.rawHeaders, originName)) {
    throw new HandshakeError('Repeated Origin header', 400);
  }
  return { key, version: wsVersion, protocols, extensions, origin, path };
}

/** Whether the header `name` (lowercase) appears on more than one line of `rawHeaders`. */
function repeated(rawHeaders: readonly string[] | undefined, name: string): boolean {
  if (rawHeaders === undefined) return false;
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length !== name.length || field.toLowerCase() !== name) continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/** Approximate size of the request head: target and every `name: value\r\n`. */
function headSize(req: HandshakeRequest): number {
  let size = req.method.length + req.url.length + 12; // "GET  HTTP/1.1\r\n"
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') size += name.length + value.length + 4;
    else for (const v of value) size += name.length + v.length + 4;
  }
  return size;
}

// RFC 6455 §4.2.1 item 8 and §4.1: Sec-WebSocket-Protocol = 1#token, elements unique.
function parseProtocols(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  let protocols: string[];
  try {
    protocols = parseTokenList(value, MAX_PROTOCOLS);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new HandshakeError(`Invalid Sec-WebSocket-Protocol header: ${detail}`, 400);
  }
  if (protocols.length === 0) throw new HandshakeError('Empty Sec-WebSocket-Protocol header', 400);
  // Uniqueness is exact: subprotocol names are compared case-sensitively (RFC 6455 §11.3.4).
  if (new Set(protocols).size !== protocols.length) {
    throw new HandshakeError('Duplicate subprotocol in Sec-WebSocket-Protocol header', 400);
  }
  return protocols;
}

const ABSOLUTE_FORM = /^(?:wss?|https?):\/\//i;

/**
 * The resource name (path and query) of a request-target, or undefined when it cannot name a
 * WebSocket resource. Origin-form is taken as is; absolute-form must be accepted too
 * (RFC 7230 §5.3.2). RFC 6455 §3: a fragment is never part of a WebSocket URI.
 */
function resourceName(url: string): string | undefined {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) return undefined;
  }
  if (url.startsWith('/')) return url;
  const scheme = ABSOLUTE_FORM.exec(url);
  if (!scheme) return undefined;
  const rest = url.slice(scheme[0].length);
  let end = 0;
  while (end < rest.length && rest[end] !== '/' && rest[end] !== '?') end++;
  if (end === 0) return undefined; // no authority
  if (end === rest.length) return '/';
  return rest[end] === '/' ? rest.slice(end) : `/${rest.slice(end)}`;
}

/**
 * The first subprotocol in the server's preference list (`supported`) that the client offered,
 * or undefined when none matches. Comparison is exact (case-sensitive).
 */
export function selectSubprotocol(
  offered: readonly string[],
  supported: readonly string[],
): string | undefined {
  const offeredSet = new Set(offered);
  for (const protocol of supported) if (offeredSet.has(protocol)) return protocol;
  return undefined;
}

const RESPONSE_RESERVED: ReadonlySet<string> = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/** Options for {@link buildServerHandshakeResponse}. */
export interface ServerResponseOptions {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The selected subprotocol; must be one the client offered (not checked here). */
  protocol?: string;
  /** The accepted extensions, already formatted (see `formatExtensionHeader`); `''` means none. */
  extensions?: string;
  /** Extra response headers, e.g. `Set-Cookie`. May not replace the handshake's own. */
  headers?: Record<string, string | string[]>;
}

/**
 * The complete 101 response head of RFC 6455 §4.2.2 item 5, ending in an empty line:
 *
 * ```
 * HTTP/1.1 101 Switching Protocols\r\n
 * Upgrade: websocket\r\n
 * Connection: Upgrade\r\n
 * Sec-WebSocket-Accept: <base64(SHA-1(key + GUID))>\r\n
 * [Sec-WebSocket-Protocol: <protocol>\r\n]
 * [Sec-WebSocket-Extensions: <extensions>\r\n]
 * [extra headers]\r\n
 * ```
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` for an invalid key, a protocol that is not
 *   a token, a malformed extensions value, an extra header with an invalid name or value
 *   (CR/LF injection), or an extra header that would replace a handshake header.
 */
export function buildServerHandshakeResponse(opts: ServerResponseOptions): string {
  if (typeof opts.key !== 'string' || !isValidKey(opts.key)) {
    throw argumentError("key must be the client's Sec-WebSocket-Key (16 bytes, base64)");
  }
  let head =
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${computeAcceptKey(opts.key)}\r\n`;
  if (opts.protocol !== undefined) {
    // RFC 6455 §4.2.2 item 5.4: the selected subprotocol is a single token.
    if (!isToken(opts.protocol)) {
      throw argumentError(`Subprotocol ${JSON.stringify(opts.protocol)} is not an RFC 7230 token`);
    }
    head += `Sec-WebSocket-Protocol: ${opts.protocol}\r\n`;
  }
  if (opts.extensions !== undefined && opts.extensions !== '') {
    if (!isFieldValue(opts.extensions) || !isExtensionHeader(opts.extensions)) {
      throw argumentError('extensions must be a valid Sec-WebSocket-Extensions value (RFC 6455 §9.1)');
    }
    head += `Sec-WebSocket-Extensions: ${opts.extensions}\r\n`;
  }
  head += formatHeaderLines(opts.headers, RESPONSE_RESERVED);
  return `${head}\r\n`;
}

function isExtensionHeader(value: string): boolean {
  try {
    parseExtensionHeader(value, { maxOffers: 1024, maxParams: 1024 });
    return true;
  } catch {
    return false;
  }
}

const REJECTION_RESERVED: ReadonlySet<string> = new Set([
  'connection',
  'content-length',
  'transfer-encoding',
]);

/**
 * A complete HTTP/1.1 error response for a refused handshake:
 * `HTTP/1.1 <status> <reason phrase>`, `Connection: close`,
 * `Content-Type: text/plain; charset=utf-8` (unless `headers` sets one), `Content-Length`, any
 * extra `headers` (numbers are written in decimal, arrays as repeated lines), then the body:
 * `reason`, or the status text. Control characters in `reason` become spaces. Write it, then
 * close the socket.
 *
 * @param status An HTTP status from 200 to 599 (typically 4xx; 3xx for redirects).
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` for a status outside 200-599, or an extra
 *   header with an invalid name or value, or one of `Connection`, `Content-Length`,
 *   `Transfer-Encoding`.
 */
export function buildHandshakeRejection(
  status: number,
  opts: { reason?: string; headers?: Readonly<Record<string, string | number | readonly string[]>> } = {},
): string {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw argumentError(`A handshake rejection needs an HTTP status from 200 to 599, got ${String(status)}`);
  }
  const text = STATUS_CODES[status] ?? 'Unknown';
  const body = stripControls(opts.reason ?? text);
  const extra = formatHeaderLines(opts.headers, REJECTION_RESERVED);
  const hasContentType =
    opts.headers !== undefined && Object.keys(opts.headers).some((n) => n.toLowerCase() === 'content-type');
  return (
    `HTTP/1.1 ${status} ${text}\r\n` +
    'Connection: close\r\n' +
    (hasContentType ? '' : 'Content-Type: text/plain; charset=utf-8\r\n') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    extra +
    '\r\n' +
    body
  );
}

function stripControls(s: string): string {
  let out = '';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      out += `${s.slice(run, i)} `;
      run = i + 1;
    }
  }
  return out + s.slice(run);
}
