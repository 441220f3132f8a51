import { argumentError } from './errors.js';
import { HandshakeError } from './handshake-error.js';

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Whether `c` (a UTF-16 code unit) is an RFC 7230 §3.2.6 `tchar`. */
export function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** Whether `s` is a non-empty RFC 7230 §3.2.6 `token` (`1*tchar`). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/** Whether `c` is RFC 7230 §3.2.3 optional whitespace (SP or HTAB). */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Whether `s` may be sent as a header field value by this library: RFC 7230 §3.2 `field-value`
 * restricted to ASCII, i.e. only HTAB, SP and visible characters (0x21-0x7E), so no CR, LF, NUL
 * or other control character can split or smuggle a header. `obs-text` (0x80-0xFF) is refused
 * because handshake heads are written as strings and would not survive encoding unchanged.
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x09) continue;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * One header value as a string. Node joins most repeated headers with ", " already; an array
 * (repeated lines kept apart) is joined with "," which RFC 7230 §3.2.2 makes equivalent for
 * list-valued headers.
 */
export function joinHeaderValue(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(',');
}

/**
 * Parses a comma-separated token list (RFC 7230 §7 `#token`), trimming optional whitespace and
 * skipping empty elements (which §7 requires recipients to accept). Elements are returned as
 * sent: callers compare them case-sensitively or not, as their header requires.
 *
 * One linear pass over the input; no regular expressions.
 *
 * @param maxItems Most non-empty elements accepted. Default 64.
 * @throws {HandshakeError} (HTTP 400) for an element that is not a token, or more than `maxItems`
 *   elements.
 */
export function parseTokenList(value: string | readonly string[] | undefined, maxItems = 64): string[] {
  const text = joinHeaderValue(value);
  if (text === undefined) return [];
  const out: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let comma = text.indexOf(',', i);
    if (comma === -1) comma = text.length;
    let start = i;
    let end = comma;
    while (start < end && isOws(text.charCodeAt(start))) start++;
    while (end > start && isOws(text.charCodeAt(end - 1))) end--;
    if (start < end) {
      for (let j = start; j < end; j++) {
        if (!isTokenChar(text.charCodeAt(j))) {
          throw new HandshakeError(`Invalid character in a header token list at offset ${j}`, 400);
        }
      }
      if (out.length === maxItems) {
        throw new HandshakeError(`Too many elements in a header token list (max ${maxItems})`, 400);
      }
      out.push(text.slice(start, end));
    }
    i = comma + 1;
  }
  return out;
}

/**
 * Whether a comma-separated header contains `token`, compared ASCII case-insensitively, e.g.
 * `Connection: keep-alive, Upgrade` contains `upgrade`. Other elements are not validated (an
 * `Upgrade: HTTP/2.0, websocket` still contains `websocket`). Linear time; never throws.
 */
export function headerHasToken(value: string | readonly string[] | undefined, token: string): boolean {
  const text = joinHeaderValue(value);
  if (text === undefined) return false;
  const wanted = token.toLowerCase();
  let i = 0;
  while (i <= text.length) {
    let comma = text.indexOf(',', i);
    if (comma === -1) comma = text.length;
    let start = i;
    let end = comma;
    while (start < end && isOws(text.charCodeAt(start))) start++;
    while (end > start && isOws(text.charCodeAt(end - 1))) end--;
    if (end - start === wanted.length && text.slice(start, end).toLowerCase() === wanted) return true;
    i = comma + 1;
  }
  return false;
}

/**
 * Validates caller-supplied extra headers and formats them as `Name: value\r\n` lines (a value
 * array gives one line per element). Used for both handshake directions.
 *
 * @param reserved Lowercase names the caller may not set (the handshake's own headers).
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when a name is not a token, a value is not a
 *   string, a finite number or an array of strings, a value holds a control character (CR/LF
 *   injection), or a name is reserved.
 */
export function formatHeaderLines(
  headers: Readonly<Record<string, string | number | readonly string[]>> | undefined,
  reserved: ReadonlySet<string>,
): string {
  if (headers === undefined) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    // RFC 7230 §3.2: field-name = token.
    if (!isToken(name)) throw argumentError(`Header name ${JSON.stringify(name)} is not an RFC 7230 token`);
    if (reserved.has(name.toLowerCase())) {
      throw argumentError(
        `Header "${name}" is set by the WebSocket handshake itself and cannot be overridden`,
      );
    }
    // A number (e.g. `Retry-After: 120`) is written in decimal, as Node's http module does.
    const values =
      typeof value === 'string'
        ? [value]
        : typeof value === 'number' && Number.isFinite(value)
          ? [String(value)]
          : value;
    if (!Array.isArray(values))
      throw argumentError(`Header "${name}" must be a string, a number or an array of strings`);
    for (const v of values) {
      if (typeof v !== 'string')
        throw argumentError(`Header "${name}" must be a string or an array of strings`);
      // RFC 7230 §3.2.4: no CR or LF inside a field value (header injection / response splitting).
      if (!isFieldValue(v)) {
        throw argumentError(
          `Header "${name}" has a control or non-ASCII character in its value (CR and LF are never allowed)`,
        );
      }
      out += `${name}: ${v}\r\n`;
    }
  }
  return out;
}
