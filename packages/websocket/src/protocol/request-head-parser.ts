import { HandshakeError } from './handshake-error.js';
import { isTokenChar } from './http-tokens.js';
import { type Limits, resolveLimits } from './limits.js';

/** An HTTP/1.x request head (RFC 9112 §2-5), as read by {@link RequestHeadParser}. */
export interface RequestHead {
  /** The method token, case-sensitive. */
  method: string;
  /** The request-target as sent (origin-form, absolute-form, ...). */
  url: string;
  httpVersionMajor: number;
  httpVersionMinor: number;
  /** Header names and values alternating, as received (values without surrounding whitespace). */
  rawHeaders: string[];
}

/** What {@link RequestHeadParser.push} returns once the head is complete. */
export interface ParsedRequestHead {
  head: RequestHead;
  /** Bytes after the head's empty line (the start of the WebSocket stream, or a body). */
  rest: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/**
 * A strict, streaming HTTP/1.x request-head parser for the opening handshake, in linear time:
 * every byte is looked at once while looking for the end of the head, and once when the
 * complete head is split into fields. Nothing is retained beyond `maxHandshakeBytes`.
 *
 * Refusals (a {@link HandshakeError} whose `httpStatus` is the answer):
 * - 431 when the head (request line, header lines and the empty line) exceeds
 *   `maxHandshakeBytes`, or has more than `maxHeaderCount` header lines: as soon as that is
 *   known, without waiting for the rest;
 * - 400 for a bare CR or a bare LF (RFC 9112 §2.2: this parser does not accept them as line
 *   ends), a malformed request line (method not a token, request-target with spaces or
 *   controls, version not `HTTP/d.d`), a header line that starts with whitespace (obs-fold,
 *   RFC 9112 §5.2), a field name that is not a token or has whitespace before the colon
 *   (RFC 9112 §5.1), or a field value with control characters.
 *
 * Empty lines before the request line are skipped (RFC 9112 §2.2). After a refusal, or once
 * the head is complete, the parser takes no more input.
 */
export class RequestHeadParser {
  private readonly maxBytes: number;
  private readonly maxHeaders: number;
  private chunks: Buffer[] | undefined;
  private bytes = 0;
  /** Bytes of the current line so far (0 at the start of a line). */
  private lineBytes = 0;
  /** Complete non-empty lines so far (the request line, then header lines). */
  private lines = 0;
  /** Empty lines before the request line, skipped. */
  private leading = 0;
  private afterCr = false;
  private done = false;

  /** @param limits `maxHandshakeBytes` and `maxHeaderCount` apply (defaults from `limits.ts`). */
  constructor(limits?: Partial<Limits>) {
    const { maxHandshakeBytes, maxHeaderCount } = resolveLimits(limits);
    this.maxBytes = maxHandshakeBytes;
    this.maxHeaders = maxHeaderCount;
  }

  /**
   * Feeds the next bytes. Returns the head, and the bytes after it, once the empty line that
   * ends it has arrived; undefined while more is needed.
   *
   * @throws {HandshakeError} 400 or 431 (see the class); also when called after the head ended.
   */
  push(chunk: Buffer): ParsedRequestHead | undefined {
    if (this.done) throw new HandshakeError('The request head was already parsed or refused', 400);
    const start = this.bytes;
    let end = -1;
    let afterCr = this.afterCr;
    let lineBytes = this.lineBytes;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      if (start + i + 1 > this.maxBytes) return this.tooLarge();
      const c = chunk[i]!;
      if (afterCr) {
        if (c !== LF) return this.refuse('Bare CR in the request head', 400);
        afterCr = false;
        if (lineBytes === 0) {
          if (this.lines === 0) {
            this.leading++;
            continue;
          }
          end = i + 1;
          break;
        }
        lineBytes = 0;
        // Header lines are the lines after the request line.
        if (++this.lines - 1 > this.maxHeaders) {
          return this.refuse(`Too many header lines (max ${this.maxHeaders})`, 431);
        }
      } else if (c === CR) {
        afterCr = true;
      } else if (c === LF) {
        return this.refuse('Bare LF in the request head', 400);
      } else {
        lineBytes++;
      }
    }
    if (end === -1) {
      this.afterCr = afterCr;
      this.lineBytes = lineBytes;
      this.bytes = start + n;
      if (n > 0) {
        if (this.chunks === undefined) this.chunks = [chunk];
        else this.chunks.push(chunk);
      }
      return undefined;
    }
    this.done = true;
    const held = this.chunks;
    this.chunks = undefined;
    const whole = held === undefined ? chunk : Buffer.concat([...held, chunk]);
    const headEnd = start + end;
    const head = parseHead(whole.toString('latin1', this.leading * 2, headEnd - 4));
    return { head, rest: whole.subarray(headEnd) };
  }

  private tooLarge(): never {
    return this.refuse(`Request header fields too large (max ${this.maxBytes} bytes)`, 431);
  }

  private refuse(message: string, status: number): never {
    this.done = true;
    this.chunks = undefined;
    throw new HandshakeError(message, status);
  }
}

/** Splits a complete head (lines joined by CRLF, without the final empty line) into fields. */
function parseHead(text: string): RequestHead {
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  const { method, url, major, minor } = parseRequestLine(text, eol);
  const rawHeaders: string[] = [];
  let at = eol + 2;
  while (at < text.length) {
    let next = text.indexOf('\r\n', at);
    if (next === -1) next = text.length;
    parseHeaderLine(text, at, next, rawHeaders);
    at = next + 2;
  }
  return { method, url, httpVersionMajor: major, httpVersionMinor: minor, rawHeaders };
}

function badRequest(detail: string): HandshakeError {
  return new HandshakeError(`Malformed request head: ${detail}`, 400);
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version
function parseRequestLine(
  text: string,
  eol: number,
): { method: string; url: string; major: number; minor: number } {
  let i = 0;
  while (i < eol && isTokenChar(text.charCodeAt(i))) i++;
  if (i === 0 || i >= eol || text.charCodeAt(i) !== SP) throw badRequest('the method is not a token');
  const method = text.slice(0, i);
  const targetStart = ++i;
  // request-target: visible ASCII (RFC 3986 characters); no spaces or controls.
  while (i < eol) {
    const c = text.charCodeAt(i);
    if (c === SP) break;
    if (c <= SP || c >= 0x7f) throw badRequest('invalid character in the request-target');
    i++;
  }
  if (i === targetStart || i >= eol) throw badRequest('no request-target');
  const url = text.slice(targetStart, i);
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, then the end of the line.
  const v = i + 1;
  if (
    eol - v !== 8 ||
    !text.startsWith('HTTP/', v) ||
    !isDigit(text.charCodeAt(v + 5)) ||
    text.charCodeAt(v + 6) !== 0x2e ||
    !isDigit(text.charCodeAt(v + 7))
  ) {
    throw badRequest('the HTTP version is not HTTP/d.d');
  }
  return { method, url, major: text.charCodeAt(v + 5) - 0x30, minor: text.charCodeAt(v + 7) - 0x30 };
}

// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
function parseHeaderLine(text: string, start: number, end: number, out: string[]): void {
  const first = text.charCodeAt(start);
  // RFC 9112 §5.2: a server MUST reject obs-fold (or replace it); this one rejects it.
  if (first === SP || first === HTAB) throw badRequest('folded header line (obs-fold)');
  let i = start;
  while (i < end && isTokenChar(text.charCodeAt(i))) i++;
  // RFC 9112 §5.1: no whitespace between the field name and the colon (MUST reject with 400).
  if (i === start || i >= end || text.charCodeAt(i) !== COLON) {
    throw badRequest('a header field name is not a token followed by ":"');
  }
  const name = text.slice(start, i);
  let from = i + 1;
  let to = end;
  while (from < to && isOws(text.charCodeAt(from))) from++;
  while (to > from && isOws(text.charCodeAt(to - 1))) to--;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    // field-vchar, SP, HTAB and obs-text are allowed; other controls are not.
    if ((c < SP && c !== HTAB) || c === 0x7f) throw badRequest('control character in a header value');
  }
  out.push(name, text.slice(from, to));
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
