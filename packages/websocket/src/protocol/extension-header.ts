import { argumentError } from './errors.js';
import { HandshakeError } from './handshake-error.js';
import { isOws, isToken, isTokenChar, joinHeaderValue } from './http-tokens.js';

/**
 * One element of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): an extension name and its
 * parameters in the order sent. A parameter without `=` has the value `true`. Repeated
 * parameters are kept (never merged), so the extension itself can reject them
 * (e.g. RFC 7692 §7: a repeated permessage-deflate parameter makes the offer invalid).
 */
export interface ExtensionOffer {
  name: string;
  params: Array<[name: string, value: string | true]>;
}

/** Bounds for {@link parseExtensionHeader}. */
export interface ExtensionHeaderLimits {
  /** Most extension elements in the header. Default 16. Exceeded: HTTP 400. */
  maxOffers?: number;
  /** Most parameters on one element. Default 16. Exceeded: HTTP 400. */
  maxParams?: number;
}

const DQUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

function malformed(detail: string, offset: number): HandshakeError {
  return new HandshakeError(`Malformed Sec-WebSocket-Extensions header: ${detail} at offset ${offset}`, 400);
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw argumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Parses a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1):
 *
 * ```
 * extension-list  = 1#extension
 * extension       = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 *
 * with optional whitespace around every separator and empty list elements skipped (RFC 7230 §7).
 * A quoted-string value is unescaped and must then be a token (RFC 6455 §9.1). Names and values
 * are returned as sent. `undefined` (header absent) gives `[]`.
 *
 * Runs in one linear pass without regular expressions, and stops at the first element or
 * parameter past the limits, so hostile input costs at most one scan.
 *
 * @throws {HandshakeError} (HTTP 400) when the header is empty or malformed, or has more than
 *   `maxOffers` elements (default 16) or more than `maxParams` parameters on one (default 16).
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when a limit is not a positive integer.
 */
export function parseExtensionHeader(
  value: string | readonly string[] | undefined,
  opts: ExtensionHeaderLimits = {},
): ExtensionOffer[] {
  const maxOffers = positiveInt('maxOffers', opts.maxOffers, 16);
  const maxParams = positiveInt('maxParams', opts.maxParams, 16);
  const text = joinHeaderValue(value);
  if (text === undefined) return [];
  const n = text.length;
  const offers: ExtensionOffer[] = [];
  let i = 0;

  const skipOws = (): void => {
    while (i < n && isOws(text.charCodeAt(i))) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTokenChar(text.charCodeAt(i))) i++;
    return text.slice(start, i);
  };
  // RFC 7230 §3.2.6: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE. RFC 6455 §9.1: the
  // unescaped value MUST be a token, so every character (escaped or not) must be a tchar.
  const readQuoted = (): string => {
    const open = i;
    i++; // the opening DQUOTE
    let out = '';
    let runStart = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === DQUOTE) {
        out += text.slice(runStart, i);
        i++;
        if (out.length === 0) throw malformed('empty quoted parameter value', open);
        return out;
      }
      if (c === BACKSLASH) {
        out += text.slice(runStart, i);
        i++;
        if (i === n) break;
        runStart = i;
        if (!isTokenChar(text.charCodeAt(i))) throw malformed('quoted parameter value is not a token', i);
        i++;
        continue;
      }
      if (!isTokenChar(c)) throw malformed('quoted parameter value is not a token', i);
      i++;
    }
    throw malformed('unterminated quoted string', open);
  };

  for (;;) {
    skipOws();
    if (i === n) break;
    // RFC 7230 §7: empty list elements ("a, , b") are accepted and ignored.
    if (text.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const nameAt = i;
    const name = readToken();
    if (name.length === 0) throw malformed('expected an extension name', nameAt);
    if (offers.length === maxOffers) {
      throw new HandshakeError(`Too many Sec-WebSocket-Extensions elements (max ${maxOffers})`, 400);
    }
    const offer: ExtensionOffer = { name, params: [] };
    offers.push(offer);
    skipOws();
    while (i < n && text.charCodeAt(i) === SEMICOLON) {
      i++;
      skipOws();
      const paramAt = i;
      const paramName = readToken();
      if (paramName.length === 0) throw malformed('expected a parameter name', paramAt);
      skipOws();
      let paramValue: string | true = true;
      if (i < n && text.charCodeAt(i) === EQUALS) {
        i++;
        skipOws();
        const valueAt = i;
        paramValue = i < n && text.charCodeAt(i) === DQUOTE ? readQuoted() : readToken();
        if (paramValue.length === 0) throw malformed('expected a parameter value', valueAt);
        skipOws();
      }
      if (offer.params.length === maxParams) {
        throw new HandshakeError(`Too many parameters on one extension (max ${maxParams})`, 400);
      }
      offer.params.push([paramName, paramValue]);
    }
    if (i === n) break;
    if (text.charCodeAt(i) !== COMMA) throw malformed('unexpected character', i);
    i++;
  }
  // RFC 6455 §9.1: extension-list = 1#extension, so a present header names at least one.
  if (offers.length === 0) throw malformed('no extension named', 0);
  return offers;
}

/**
 * Serializes extension elements as a `Sec-WebSocket-Extensions` value, e.g.
 * `permessage-deflate; client_max_window_bits, x-foo; a=1`. Values are written as bare tokens
 * (RFC 6455 §9.1 only allows values that are tokens, so quoting is never needed). Returns `''`
 * for an empty list: send no header then.
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when a name or value is not a token.
 */
export function formatExtensionHeader(offers: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (!isToken(offer.name)) {
      throw argumentError(`Extension name ${JSON.stringify(offer.name)} is not an RFC 7230 token`);
    }
    let part = offer.name;
    for (const [name, value] of offer.params) {
      if (!isToken(name)) {
        throw argumentError(`Extension parameter name ${JSON.stringify(name)} is not an RFC 7230 token`);
      }
      if (value === true) {
        part += `; ${name}`;
      } else {
        if (typeof value !== 'string' || !isToken(value)) {
          throw argumentError(
            `Value of extension parameter "${name}" must be an RFC 7230 token (RFC 6455 §9.1), got ${JSON.stringify(value)}`,
          );
        }
        part += `; ${name}=${value}`;
      }
    }
    parts.push(part);
  }
  return parts.join(', ');
}
