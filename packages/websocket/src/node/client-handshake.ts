import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
import { generateKey } from '../protocol/accept-key.js';
import { CloseCode } from '../protocol/close-codes.js';
import { argumentError, ErrorCode, WebSocketError } from '../protocol/errors.js';
import { validateServerHandshake } from '../protocol/handshake-client.js';
import { isToken } from '../protocol/http-tokens.js';
import type { Limits } from '../protocol/limits.js';
import {
  buildDeflateOffer,
  type DeflateOptions,
  findDeflateResponse,
  PERMESSAGE_DEFLATE,
  resolveDeflateOptions,
  validateDeflateResponse,
} from '../protocol/permessage-deflate.js';
import type { ConnectionSettings, WebSocket } from '../websocket.js';
import {
  checkOptionName,
  netConnect,
  pickRequestOptions,
  RedirectHeaders,
  type RequestTarget,
  requestTarget,
  tlsConnect,
} from './client-request.js';
import type { MessageCompressor } from './connection-driver.js';
import {
  CONNECTION_OPTION_NAMES,
  resolveConnectionSettings,
  type WebSocketConnectionOptions,
} from './connection-settings.js';
import { PerMessageDeflate } from './deflate.js';
import { randomFill } from './random.js';

/** Options for `new WebSocket(url, protocols, options)`. Names follow ws 8 where ws has them. */
export interface ClientOptions
  extends SecureContextOptions,
    WebSocketConnectionOptions,
    Pick<
      ConnectionOptions,
      | 'ALPNProtocols'
      | 'checkServerIdentity'
      | 'enableTrace'
      | 'minDHSize'
      | 'pskCallback'
      | 'secureContext'
      | 'session'
    >,
    Pick<
      RequestOptions,
      | 'auth'
      | 'defaultPort'
      | 'family'
      | 'hints'
      | 'insecureHTTPParser'
      | 'joinDuplicateHeaders'
      | 'localAddress'
      | 'localPort'
      | 'lookup'
      | 'maxHeaderSize'
      | 'setHost'
      | 'signal'
      | 'uniqueHeaders'
    > {
  /** tls.connect(): ask the server for an OCSP response (`'OCSPResponse'` on the socket). */
  requestOCSP?: boolean;
  /** net.connect() / tls.connect(): the socket's stream buffer size, in bytes. */
  highWaterMark?: number;
  /** Extra request headers (they may not replace the handshake's own headers). */
  headers?: OutgoingHttpHeaders;
  /** Value of the `Origin` header (browsers always send one; Node clients do not by default). */
  origin?: string;
  /**
   * Milliseconds from the first request to the server's 101 response, redirects included.
   * Default 30,000. Exceeded: an `error` event (WS_ERR_HANDSHAKE_TIMEOUT), then `close` 1006.
   */
  handshakeTimeout?: number;
  /** Same as `handshakeTimeout` when that is not set (ws ignores it; http.request's meaning). */
  timeout?: number;
  /**
   * The `Sec-WebSocket-Version` to send: 13 (RFC 6455, the default) or 8 (draft hybi-08, whose
   * handshake is the same but names the origin header `Sec-WebSocket-Origin`), as in ws.
   * Other values throw WS_ERR_INVALID_ARGUMENT.
   */
  protocolVersion?: number;
  /** Verify the server's TLS certificate (wss). Default true. */
  rejectUnauthorized?: boolean;
  /** TLS server name (SNI) for wss. Default: the URL's host name ('' for an IP address). */
  servername?: string;
  /** An http(s) Agent, e.g. for a proxy. Default none: the connection is made by `createConnection`. */
  agent?: Agent;
  /**
   * Makes the connection (without an `agent`): called with the request options (host, port, TLS
   * options...), returns a socket. Default: `net.connect`, or `tls.connect` for wss.
   */
  createConnection?: RequestOptions['createConnection'];
  /**
   * Follow 3xx responses with a `Location` header (default false). Each new request emits
   * `'redirect' (url, request)`. Without a 'redirect' listener, `Authorization` and `Cookie`
   * (and `Host`) are not sent to another host or from wss: down to ws:, as ws and curl do.
   */
  followRedirects?: boolean;
  /** Redirects followed at most; one more fails the handshake. Default 10. */
  maxRedirects?: number;
  /**
   * Called with each handshake request instead of `request.end()`: it may set headers, and must
   * end the request.
   */
  finishRequest?: (request: ClientRequest, websocket: WebSocket) => void;
  /**
   * Fills the 4-byte masking key of each frame (RFC 6455 §5.3). Default: cryptographically
   * strong random bytes. A predictable key lets a page poison proxy caches; use only for tests
   * or a peer you trust.
   */
  generateMask?: (mask: Buffer) => void;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for defaults or ws's option shape
   * (`{ threshold, zlibDeflateOptions, clientMaxWindowBits, ... }`). Default false.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

interface HandshakeHooks {
  /** The WebSocket, for `finishRequest`. */
  readonly target: WebSocket;
  /** A redirect is followed: `request` has not been ended yet. */
  onRedirect(url: string, request: ClientRequest): void;
  /** Whether the application listens to 'redirect' (then it chooses which headers to keep). */
  redirectListened(): boolean;
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

/** A client handshake in progress. */
export interface ClientHandshake {
  /** The URL of the first request. */
  readonly url: string;
  /** Stops the handshake: no hook is called after this; the request (and its socket) is destroyed. */
  abort(): void;
}

/** The client's own options; the others in `REQUEST_OPTIONS` go to the request as they are. */
const KNOWN_OPTIONS = new Set<string>([
  ...CONNECTION_OPTION_NAMES,
  'headers',
  'origin',
  'handshakeTimeout',
  'timeout',
  'protocolVersion',
  'createConnection',
  'followRedirects',
  'maxRedirects',
  'finishRequest',
  'generateMask',
  'perMessageDeflate',
]);

/** The `Sec-WebSocket-Version` values a client may send (ws's): RFC 6455's 13, and hybi-08's 8. */
const PROTOCOL_VERSIONS: readonly number[] = [8, 13];

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
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:' && url.protocol !== 'ws+unix:') {
    throw argumentError(`The URL's scheme must be ws:, wss:, http:, https: or ws+unix:, got ${url.protocol}`);
  }
  if (url.protocol === 'ws+unix:' && (url.pathname === '' || url.pathname === '/')) {
    throw argumentError('A ws+unix: URL needs the socket path: ws+unix:/path/to/socket:/request/path');
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

const RESERVED_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

function handshakeError(message: string): WebSocketError {
  return new WebSocketError(ErrorCode.HANDSHAKE, message, CloseCode.ABNORMAL_CLOSURE);
}

/**
 * Sends the opening handshake (RFC 6455 §4.1), follows redirects if asked, and validates the
 * response. Throws WS_ERR_INVALID_ARGUMENT at once for a bad URL, subprotocol or option; later
 * failures go to `hooks.onFailure`, once.
 */
export function openClientHandshake(
  address: string | URL,
  protocols: readonly string[],
  options: ClientOptions,
  hooks: HandshakeHooks,
): ClientHandshake {
  for (const key of Object.keys(options)) checkOptionName(key, KNOWN_OPTIONS);
  const firstUrl = parseUrl(address);
  validateProtocols(protocols);
  const version = options.protocolVersion ?? 13;
  if (!PROTOCOL_VERSIONS.includes(version)) {
    throw argumentError(
      `Unsupported protocol version: ${String(version)} (supported versions: ${PROTOCOL_VERSIONS.join(', ')})`,
    );
  }
  // Draft hybi-08 named the Origin header Sec-WebSocket-Origin (RFC 6455 §4.1 renamed it).
  const originHeader = version === 8 ? 'Sec-WebSocket-Origin' : 'Origin';
  // Off unless asked for (ws clients offer it by default; see docs: differences from ws).
  const deflate = resolveDeflateOptions(options.perMessageDeflate);
  const shared = resolveConnectionSettings(options);
  const limits = shared.limits as Limits;
  const generateMask = options.generateMask;
  if (generateMask !== undefined && typeof generateMask !== 'function') {
    throw argumentError('generateMask must be a function that fills a 4-byte Buffer');
  }
  const settings: ConnectionSettings = {
    ...shared,
    ...(generateMask
      ? {
          maskKeyFill: (key: Uint8Array) =>
            generateMask(Buffer.from(key.buffer, key.byteOffset, key.byteLength)),
        }
      : {}),
  };
  const handshakeTimeout = positiveMs(
    options.handshakeTimeout === undefined && options.timeout !== undefined ? 'timeout' : 'handshakeTimeout',
    options.handshakeTimeout ?? options.timeout,
    30_000,
  );
  const maxRedirects = options.maxRedirects ?? 10;
  if (!Number.isSafeInteger(maxRedirects) || maxRedirects < 0) {
    throw argumentError(`maxRedirects must be a non-negative integer, got ${String(maxRedirects)}`);
  }
  for (const name of Object.keys(options.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw argumentError(`Header "${name}" is set by the WebSocket handshake and cannot be overridden`);
    }
  }
  const passThrough = pickRequestOptions(options);
  const firstTarget = requestTarget(firstUrl);
  const redirectHeaders = options.followRedirects
    ? new RedirectHeaders(firstTarget, options.headers ?? {})
    : undefined;
  const offer = deflate ? buildDeflateOffer(deflate) : undefined;

  let current: ClientRequest | undefined;
  let redirects = 0;
  let done = false;
  const finish = (): void => {
    done = true;
    clearTimeout(timer);
  };
  const fail = (error: Error): void => {
    if (done) return;
    finish();
    destroyRequest(current);
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

  const send = (target: RequestTarget): void => {
    const key = generateKey(randomFill);
    const auth = target.auth ?? options.auth ?? undefined;
    const chosen = redirectHeaders
      ? redirectHeaders.forRequest(target, auth, redirects > 0, hooks.redirectListened())
      : { headers: { ...options.headers }, auth };
    const headers: OutgoingHttpHeaders = chosen.headers;
    headers.Connection = 'Upgrade';
    headers.Upgrade = 'websocket';
    headers['Sec-WebSocket-Version'] = String(version);
    headers['Sec-WebSocket-Key'] = key;
    if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
    if (options.origin !== undefined) headers[originHeader] = options.origin;
    if (offer !== undefined) headers['Sec-WebSocket-Extensions'] = offer;

    const request = (target.secure ? https : http).request({
      ...passThrough,
      createConnection: options.createConnection ?? (target.secure ? tlsConnect : netConnect),
      method: 'GET',
      host: target.host,
      port: target.port,
      path: target.path,
      ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : {}),
      headers,
      auth: chosen.auth,
      maxHeaderSize: options.maxHeaderSize ?? limits.maxHandshakeBytes,
    } as RequestOptions);
    current = request;
    request.on('error', (error) => {
      if (request === current) fail(error);
    });
    request.on('response', (res) => {
      if (done || request !== current) {
        res.resume();
        return;
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (redirectHeaders && location && status >= 300 && status < 400) {
        res.resume();
        if (++redirects > maxRedirects) {
          fail(handshakeError(`Maximum redirects exceeded (maxRedirects: ${maxRedirects})`));
          return;
        }
        current = undefined;
        destroyRequest(request);
        let next: RequestTarget;
        try {
          next = requestTarget(parseUrl(new URL(location, target.url)));
        } catch (error) {
          fail(
            error instanceof WebSocketError ? error : argumentError(`Invalid redirect location: ${location}`),
          );
          return;
        }
        send(next);
        return;
      }
      if (hooks.onUnexpectedResponse(request, res)) {
        finish();
        return;
      }
      res.resume();
      fail(handshakeError(`Unexpected server response: ${status}`));
    });
    request.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (done || request !== current) {
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
      finish();
      current = undefined;
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
    if (redirects > 0) {
      // As in ws, the request is not ended yet: a listener may change its headers.
      hooks.onRedirect(target.url.href, request);
      if (done) return;
    }
    if (options.finishRequest) options.finishRequest(request, hooks.target);
    else request.end();
  };
  send(firstTarget);
  return {
    url: firstUrl.href,
    abort: () => {
      finish();
      const request = current;
      current = undefined;
      destroyRequest(request);
    },
  };
}

/** Destroys a handshake request and its socket (after a response, destroy() alone leaves it). */
function destroyRequest(request: ClientRequest | undefined): void {
  if (!request) return;
  request.destroy();
  if (request.socket && !request.socket.destroyed) request.socket.destroy();
}
