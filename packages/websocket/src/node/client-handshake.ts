import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { generateKey } from '../protocol/accept-key.js';
import { CloseCode } from '../protocol/close-codes.js';
import { argumentError, ErrorCode, WebSocketError } from '../protocol/errors.js';
import { validateServerHandshake } from '../protocol/handshake-client.js';
import { isToken } from '../protocol/http-tokens.js';
import { type Limits, resolveLimits } from '../protocol/limits.js';
import {
  buildDeflateOffer,
  type DeflateOptions,
  findDeflateResponse,
  PERMESSAGE_DEFLATE,
  resolveDeflateOptions,
  validateDeflateResponse,
} from '../protocol/permessage-deflate.js';
import type { ConnectionSettings } from '../websocket.js';
import { DEFAULT_DRIVER_OPTIONS, type MessageCompressor } from './connection-driver.js';
import { PerMessageDeflate } from './deflate.js';
import { randomFill } from './random.js';

/** Options for `new WebSocket(url, protocols, options)`. Names follow ws 8 where ws has them. */
export interface ClientOptions extends SecureContextOptions {
  /** Extra request headers (they may not replace the handshake's own headers). */
  headers?: Record<string, string>;
  /** Value of the `Origin` header (browsers always send one; Node clients do not by default). */
  origin?: string;
  /** Milliseconds from the request to the server's 101 response. Default 30,000. */
  handshakeTimeout?: number;
  /** Largest message accepted, in bytes (alias of `limits.maxMessageBytes`, as in ws). */
  maxPayload?: number;
  /** Protocol limits (see `Limits`). */
  limits?: Partial<Limits>;
  /** See `ConnectionDriver`: close handshake timeout in milliseconds. Default 30,000. */
  closeTimeoutMs?: number;
  /** See `ConnectionDriver`: unsent bytes allowed before the peer is deemed not reading. Default 64 MiB. */
  maxBufferedBytes?: number;
  /** Reply to pings automatically. Default true. */
  autoPong?: boolean;
  /**
   * Do not check that text messages and close reasons are valid UTF-8 (ws's option). Default
   * false. UNSAFE: RFC 6455 §8.1 requires failing the connection on invalid UTF-8; with this
   * set, invalid bytes reach your handlers (as replacement characters once decoded). Use it
   * only when the peer is trusted and you need the CPU back.
   */
  skipUTF8Validation?: boolean;
  /** Only 13 is supported (RFC 6455). */
  protocolVersion?: number;
  /** Verify the server's TLS certificate (wss). Default true. */
  rejectUnauthorized?: boolean;
  /** TLS server name (SNI) for wss. */
  servername?: string;
  /** An http(s) Agent, e.g. for a proxy. */
  agent?: Agent;
  /** Redirects are not followed (a 3xx response is a handshake error); accepted for ws compatibility. */
  followRedirects?: boolean;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for defaults or ws's option shape
   * (`{ threshold, zlibDeflateOptions, clientMaxWindowBits, ... }`). Default false.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

interface HandshakeHooks {
  onRequest(req: ClientRequest): void;
  onUpgrade(
    socket: Socket,
    head: Buffer,
    result: {
      protocol: string;
      extensions: string;
      response: IncomingMessage;
      compressor?: MessageCompressor;
    },
    settings: ConnectionSettings,
  ): void;
  /** Returns true if the application handles the non-101 response itself. */
  onUnexpectedResponse(req: ClientRequest, res: IncomingMessage): boolean;
  onFailure(error: Error): void;
}

const KNOWN_OPTIONS = new Set([
  'headers',
  'origin',
  'handshakeTimeout',
  'maxPayload',
  'limits',
  'closeTimeoutMs',
  'maxBufferedBytes',
  'autoPong',
  'skipUTF8Validation',
  'protocolVersion',
  'rejectUnauthorized',
  'servername',
  'agent',
  'followRedirects',
  'perMessageDeflate',
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'ciphers',
  'minVersion',
  'maxVersion',
  'ecdhCurve',
  'sigalgs',
  'secureOptions',
  'crl',
  'dhparam',
  'honorCipherOrder',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'secureProtocol',
  'sessionIdContext',
  'ticketKeys',
  'sessionTimeout',
  'clientCertEngine',
]);

function parseUrl(address: string | URL): URL {
  let url: URL;
  try {
    url = address instanceof URL ? new URL(address.href) : new URL(address);
  } catch {
    throw argumentError(`Invalid WebSocket URL: ${String(address)}`);
  }
  // WHATWG WebSocket: http(s) URLs are mapped to ws(s); fragments are not allowed.
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw argumentError(`The URL's scheme must be ws:, wss:, http: or https:, got ${url.protocol}`);
  }
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw argumentError('A WebSocket URL must not contain a fragment (#...)');
  }
  return url;
}

function validateProtocols(protocols: readonly string[]): void {
  const seen = new Set<string>();
  for (const p of protocols) {
    // RFC 6455 §4.1 item 10: each subprotocol is a token and appears once.
    if (typeof p !== 'string' || !isToken(p)) throw argumentError(`Invalid subprotocol ${JSON.stringify(p)}`);
    if (seen.has(p)) throw argumentError(`Subprotocol ${JSON.stringify(p)} is listed twice`);
    seen.add(p);
  }
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw argumentError(`${name} must be a positive integer number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** Sends the opening handshake (RFC 6455 §4.1) and validates the response. */
export function openClientHandshake(
  address: string | URL,
  protocols: readonly string[],
  options: ClientOptions,
  hooks: HandshakeHooks,
): { url: string } {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw argumentError(`Unknown WebSocket client option "${key}"`);
  }
  const url = parseUrl(address);
  validateProtocols(protocols);
  if (options.protocolVersion !== undefined && options.protocolVersion !== 13) {
    throw argumentError(`Unsupported protocol version ${options.protocolVersion} (only 13, RFC 6455)`);
  }
  // Off unless asked for (ws clients offer it by default; see docs: differences from ws).
  const deflate = resolveDeflateOptions(options.perMessageDeflate);
  const limits = resolveLimits({
    ...options.limits,
    ...(options.maxPayload !== undefined ? { maxMessageBytes: options.maxPayload } : {}),
  });
  const settings: ConnectionSettings = {
    limits,
    closeTimeoutMs: positiveMs(
      'closeTimeoutMs',
      options.closeTimeoutMs,
      DEFAULT_DRIVER_OPTIONS.closeTimeoutMs,
    ),
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_DRIVER_OPTIONS.maxBufferedBytes,
    autoPong: options.autoPong ?? true,
    skipUTF8Validation: options.skipUTF8Validation === true,
  };
  const handshakeTimeout = positiveMs('handshakeTimeout', options.handshakeTimeout, 30_000);

  const key = generateKey(randomFill);
  const headers: OutgoingHttpHeaders = {};
  const reserved = new Set([
    'connection',
    'upgrade',
    'sec-websocket-key',
    'sec-websocket-version',
    'sec-websocket-protocol',
    'sec-websocket-extensions',
  ]);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (reserved.has(name.toLowerCase())) {
      throw argumentError(`Header "${name}" is set by the WebSocket handshake and cannot be overridden`);
    }
    headers[name] = value;
  }
  headers.Connection = 'Upgrade';
  headers.Upgrade = 'websocket';
  headers['Sec-WebSocket-Version'] = '13';
  headers['Sec-WebSocket-Key'] = key;
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  if (options.origin !== undefined) headers.Origin = options.origin;
  if (deflate) headers['Sec-WebSocket-Extensions'] = buildDeflateOffer(deflate);

  const secure = url.protocol === 'wss:';
  const request = (secure ? https : http).request({
    method: 'GET',
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    headers,
    maxHeaderSize: limits.maxHandshakeBytes,
    ...(options.agent ? { agent: options.agent } : { agent: false }),
    ...(secure
      ? {
          rejectUnauthorized: options.rejectUnauthorized ?? true,
          servername: options.servername ?? (isIp(url.hostname) ? '' : url.hostname),
          ...pickTls(options),
        }
      : {}),
  });
  let done = false;
  const fail = (error: Error): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    request.destroy();
    hooks.onFailure(error);
  };
  const timer = setTimeout(() => {
    fail(
      new WebSocketError(
        ErrorCode.HANDSHAKE_TIMEOUT,
        `Opening handshake timed out after ${handshakeTimeout} ms`,
        CloseCode.ABNORMAL_CLOSURE,
      ),
    );
  }, handshakeTimeout);
  request.on('error', (error) => fail(error));
  request.on('response', (res) => {
    if (done) return;
    if (hooks.onUnexpectedResponse(request, res)) {
      done = true;
      clearTimeout(timer);
      return;
    }
    res.resume();
    fail(
      new WebSocketError(
        ErrorCode.HANDSHAKE,
        `Unexpected server response: ${res.statusCode ?? 0}`,
        CloseCode.ABNORMAL_CLOSURE,
      ),
    );
  });
  request.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    if (done) {
      socket.destroy();
      return;
    }
    let protocol: string;
    let compressor: PerMessageDeflate | undefined;
    try {
      const result = validateServerHandshake(
        { statusCode: res.statusCode ?? 0, headers: res.headers },
        { key, protocols, offeredExtensions: deflate ? [PERMESSAGE_DEFLATE] : [] },
      );
      protocol = result.protocol;
      const accepted = deflate ? findDeflateResponse(result.extensions) : undefined;
      // RFC 7692 §5.1: a response the client cannot accept fails the connection.
      if (deflate && accepted)
        compressor = new PerMessageDeflate(validateDeflateResponse(accepted, deflate), 'client', deflate);
    } catch (error) {
      socket.destroy();
      fail(error as Error);
      return;
    }
    done = true;
    clearTimeout(timer);
    hooks.onUpgrade(
      socket,
      head,
      {
        protocol,
        extensions: String(res.headers['sec-websocket-extensions'] ?? ''),
        response: res,
        ...(compressor ? { compressor } : {}),
      },
      settings,
    );
  });
  hooks.onRequest(request);
  request.end();
  return { url: url.href };
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.startsWith('[');
}

function pickTls(options: ClientOptions): SecureContextOptions {
  const out: Record<string, unknown> = {};
  for (const key of [
    'ca',
    'cert',
    'key',
    'pfx',
    'passphrase',
    'ciphers',
    'minVersion',
    'maxVersion',
  ] as const) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out as SecureContextOptions;
}
