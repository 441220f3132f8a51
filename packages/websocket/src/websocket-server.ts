import { EventEmitter } from 'node:events';
import { type Server as HttpServer, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { batchOutput } from './node/connection-driver.js';
import {
  CONNECTION_OPTION_NAMES,
  resolveConnectionSettings,
  type WebSocketConnectionOptions,
} from './node/connection-settings.js';
import { PerMessageDeflate } from './node/deflate.js';
import { createUpgradeListener } from './node/upgrade-listener.js';
import { computeAcceptKey } from './protocol/accept-key.js';
import { prepareMessage } from './protocol/connection.js';
import { argumentError, stateError, WebSocketError } from './protocol/errors.js';
import {
  buildHandshakeRejection,
  type ClientHandshake,
  HandshakeError,
  selectSubprotocol,
  validateClientHandshake,
} from './protocol/handshake-server.js';
import type { Limits } from './protocol/limits.js';
import {
  acceptDeflateOffer,
  type DeflateOptions,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from './protocol/permessage-deflate.js';
import { type ConnectionSettings, type PreparedMessage, type SendCallback, WebSocket } from './websocket.js';

/** ws-compatible `verifyClient` information. */
export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: IncomingMessage;
}
export type VerifyClient =
  | ((info: VerifyClientInfo) => boolean)
  | ((
      info: VerifyClientInfo,
      callback: (result: boolean, code?: number, message?: string, headers?: RejectionHeaders) => void,
    ) => void);

/** Extra headers of a refusal; numbers are written as decimal strings (ws accepts them too). */
export type RejectionHeaders = Record<string, string | number | readonly string[]>;

/**
 * Options for `new WebSocketServer(options)`. Names follow ws 8 where ws has them; the options
 * of the connections it opens (`limits`, `maxPayload`, `closeTimeout`, ...) are those of the
 * client (`WebSocketConnectionOptions`).
 */
export interface ServerOptions extends WebSocketConnectionOptions {
  /** Listen on this port (standalone mode: an HTTP server is created for you). */
  port?: number;
  /** Host to bind in standalone mode. Default: all interfaces, like `net.Server.listen`. */
  host?: string;
  backlog?: number;
  /** Attach to an existing http or https server. */
  server?: HttpServer | HttpsServer;
  /** No server: call `handleUpgrade` yourself. */
  noServer?: boolean;
  /** Accept upgrades only for this path (exact match of the URL's pathname). */
  path?: string;
  /** Keep the set of open connections in `clients`. Default true. */
  clientTracking?: boolean;
  /** ws-compatible gatekeeper: return/call back false (with an HTTP status) to reject. */
  verifyClient?: VerifyClient;
  /**
   * Async authorization: runs after the handshake is validated and before it is answered.
   * Throw `rejectHandshake(status, reason)` to refuse with that HTTP status; any other error
   * answers 500 (the error is emitted as `wsClientError`, the reason is not sent to the peer).
   */
  authorize?: (req: IncomingMessage) => void | Promise<void>;
  /**
   * Allowed `Origin` values (exact, e.g. 'https://app.example.com'), or a predicate. A request
   * with another Origin gets 403. Requests without Origin (non-browser clients) are allowed
   * unless `requireOrigin` is true. Default: any origin.
   */
  allowedOrigins?: readonly string[] | ((origin: string | undefined, req: IncomingMessage) => boolean);
  /** Reject requests without an `Origin` header (403). Default false. */
  requireOrigin?: boolean;
  /**
   * Subprotocols this server speaks, in preference order; the first one the client offers is
   * chosen, or none. Without `protocols` and `handleProtocols`, the client's first offer is
   * selected, as in ws.
   */
  protocols?: readonly string[];
  /**
   * ws-compatible protocol selection, called when the client offers at least one subprotocol.
   * Return one of them, or a falsy value (`false`, `null`, `undefined`, `''`) to select none.
   * Overrides `protocols`. Returning a subprotocol the client did not offer is a bug
   * (RFC 6455 §4.2.2): the handshake is dropped and `error` is emitted.
   */
  handleProtocols?: (protocols: Set<string>, req: IncomingMessage) => string | false | null | undefined;
  /**
   * Milliseconds allowed for the opening handshake: receiving the request head (standalone
   * mode) and running `verifyClient`/`authorize`. Default 10,000. Exceeded: 408, or the socket
   * is closed if the head never completed.
   */
  handshakeTimeoutMs?: number;
  /**
   * The class of the connections this server creates (ws's option): `WebSocket` (the default)
   * or a subclass of it, constructed as `new Class(null)`.
   */
  WebSocket?: typeof WebSocket;
  /**
   * Send a ping to every client this often (milliseconds) and terminate clients that sent
   * nothing (no pong, no message) since the previous ping. Default 0: off.
   */
  heartbeatIntervalMs?: number;
  /**
   * Accept permessage-deflate (RFC 7692) offers: `true` for defaults or ws's option shape
   * (`{ threshold, zlibDeflateOptions, serverNoContextTakeover, ... }`). Default false.
   * Inflated sizes count against `maxMessageBytes` (close 1009, inflating stops at the limit).
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

/** Thrown from `authorize` to refuse a handshake with an HTTP status. */
export class HandshakeRejection extends Error {
  readonly status: number;
  readonly headers: RejectionHeaders;
  constructor(status: number, reason?: string, headers: RejectionHeaders = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw argumentError(`A handshake rejection needs a 4xx or 5xx status, got ${status}`);
    }
    super(reason ?? STATUS_CODES[status] ?? 'Rejected');
    this.name = 'HandshakeRejection';
    this.status = status;
    this.headers = headers;
  }
}

/** Refuse a handshake from `authorize`: `throw rejectHandshake(401, 'Token expired')`. */
export function rejectHandshake(
  status: number,
  reason?: string,
  headers?: RejectionHeaders,
): HandshakeRejection {
  return new HandshakeRejection(status, reason, headers);
}

const KNOWN_OPTIONS = new Set<string>([
  ...CONNECTION_OPTION_NAMES,
  'WebSocket',
  'port',
  'host',
  'backlog',
  'server',
  'noServer',
  'path',
  'clientTracking',
  'verifyClient',
  'authorize',
  'allowedOrigins',
  'requireOrigin',
  'protocols',
  'handleProtocols',
  'handshakeTimeoutMs',
  'heartbeatIntervalMs',
  'perMessageDeflate',
]);

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw argumentError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

type AnyListener = (...args: never[]) => void;

/** Typed listener signatures for the server's events. */
export interface WebSocketServer {
  on(
    event: 'connection',
    listener: (this: WebSocketServer, ws: WebSocket, req: IncomingMessage) => void,
  ): this;
  on(
    event: 'headers',
    listener: (this: WebSocketServer, headers: string[], req: IncomingMessage) => void,
  ): this;
  on(
    event: 'wsClientError',
    listener: (this: WebSocketServer, error: WebSocketError, socket: Duplex, req: IncomingMessage) => void,
  ): this;
  on(event: 'error', listener: (this: WebSocketServer, error: Error) => void): this;
  on(event: 'listening' | 'close', listener: (this: WebSocketServer) => void): this;
  on(event: string | symbol, listener: AnyListener): this;
  once(
    event: 'connection',
    listener: (this: WebSocketServer, ws: WebSocket, req: IncomingMessage) => void,
  ): this;
  once(event: 'error', listener: (this: WebSocketServer, error: Error) => void): this;
  once(event: 'listening' | 'close', listener: (this: WebSocketServer) => void): this;
  once(event: string | symbol, listener: AnyListener): this;
  off(event: string | symbol, listener: AnyListener): this;
}

/** Marks a socket `handleUpgrade` was given, to catch a second call (two servers on one socket). */
const kUpgrading: unique symbol = Symbol('ieum.upgrading');
type UpgradingSocket = Duplex & { [kUpgrading]?: true };

/** The server's open connections: tells the server when the last one has left (see `close`). */
class ClientSet extends Set<WebSocket> {
  onEmpty: (() => void) | undefined;
  override delete(ws: WebSocket): boolean {
    const deleted = super.delete(ws);
    if (deleted && this.size === 0) this.onEmpty?.();
    return deleted;
  }
}

/** A refusal: status, body and headers, and whether the peer's request was invalid. */
type Reject = (status: number, reason?: string, headers?: RejectionHeaders, cause?: WebSocketError) => void;

/** The handshake timeout of one upgrade, armed when an application hook goes asynchronous. */
interface HandshakeWait {
  timer: NodeJS.Timeout | undefined;
  start(): void;
}

/**
 * A WebSocket server, compatible with ws 8's `WebSocketServer`: standalone (`{ port }`), on an
 * existing http(s) server (`{ server }`), or driven by `handleUpgrade` (`{ noServer: true }`).
 */
export class WebSocketServer extends EventEmitter {
  readonly options: Readonly<ServerOptions>;
  /** Open connections (when `clientTracking` is on, the default). */
  readonly clients: Set<WebSocket>;
  private readonly settings: ConnectionSettings;
  private readonly WebSocketClass: typeof WebSocket;
  private readonly deflate: ResolvedDeflateOptions | undefined;
  private readonly handshakeTimeoutMs: number;
  /** The attached server, or in standalone mode our own TCP listener. */
  private httpServer: HttpServer | HttpsServer | NetServer | undefined;
  private readonly ownsServer: boolean;
  /** Standalone mode: drops connections that have not completed a request head. */
  private closePending: (() => void) | undefined;
  private removeListeners: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** As in ws: running, then closing (`close()` called), then closed (`close` emitted). */
  private state: 'running' | 'closing' | 'closed' = 'running';

  constructor(options: ServerOptions = {}, callback?: () => void) {
    super();
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw argumentError(`Unknown WebSocketServer option "${key}"`);
    }
    const modes = [options.port !== undefined, options.server !== undefined, options.noServer === true];
    if (modes.filter(Boolean).length !== 1) {
      throw argumentError('Pass exactly one of `port`, `server` or `noServer: true`');
    }
    this.deflate = resolveDeflateOptions(options.perMessageDeflate);
    this.options = options;
    this.settings = resolveConnectionSettings(options);
    const WebSocketClass = options.WebSocket ?? WebSocket;
    if (WebSocketClass !== WebSocket && !(WebSocketClass?.prototype instanceof WebSocket)) {
      throw argumentError('The WebSocket option must be the WebSocket class or a class that extends it');
    }
    this.WebSocketClass = WebSocketClass;
    this.handshakeTimeoutMs = nonNegativeInt('handshakeTimeoutMs', options.handshakeTimeoutMs, 10_000);
    this.clients = new ClientSet();

    if (options.port !== undefined) {
      // Standalone: our own strict request-head parser on a TCP listener (no Node HTTP server);
      // upgrade requests go to handleUpgrade as they would from an HTTP server's 'upgrade'.
      const listener = createUpgradeListener({
        limits: this.settings.limits as Limits,
        handshakeTimeoutMs: this.handshakeTimeoutMs,
        onUpgrade: (req, socket, head) => {
          this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
        },
      });
      const server = listener.server;
      this.closePending = listener.closeIdle;
      server.on('listening', () => this.emit('listening'));
      server.on('error', (error) => this.emit('error', error));
      this.httpServer = server;
      this.ownsServer = true;
      server.listen(options.port, options.host, options.backlog, callback);
    } else {
      this.httpServer = options.server;
      this.ownsServer = false;
    }
    if (options.server) {
      const server = options.server;
      const onListening = (): void => {
        this.emit('listening');
      };
      const onError = (error: Error): void => {
        this.emit('error', error);
      };
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (!this.shouldHandle(req) && server.listenerCount('upgrade') > 1) return;
        this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
      };
      server.on('listening', onListening);
      server.on('error', onError);
      server.on('upgrade', onUpgrade);
      this.removeListeners = () => {
        server.off('listening', onListening);
        server.off('error', onError);
        server.off('upgrade', onUpgrade);
      };
    }
    const interval = nonNegativeInt('heartbeatIntervalMs', options.heartbeatIntervalMs, 0);
    if (interval > 0) {
      this.heartbeat = setInterval(() => this.beat(), interval);
      this.heartbeat.unref();
    }
  }

  /** The bound address in standalone mode (or of the attached server); null once closed. */
  address(): AddressInfo | string | null {
    if (this.options.noServer) throw argumentError('The server is in noServer mode: it has no address');
    if (this.state !== 'running' || !this.httpServer) return null;
    return this.httpServer.address();
  }

  /** Whether a request is for this server (its `path`, if one was given). */
  shouldHandle(req: IncomingMessage): boolean {
    if (this.options.path === undefined) return true;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    return (q === -1 ? url : url.slice(0, q)) === this.options.path;
  }

  private beat(): void {
    for (const ws of this.clients) {
      if (!ws._alive) {
        ws.terminate();
        continue;
      }
      ws._alive = false;
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    }
  }

  /**
   * Completes (or refuses) an upgrade request: validates it (RFC 6455 §4.2.1), checks path,
   * Origin, `verifyClient` and `authorize`, selects a subprotocol, answers 101 and calls back
   * with the open connection. Refusals get an HTTP error response and never reach `callback`.
   * `socket` may be any Duplex stream (as in ws), not only a `net.Socket`.
   *
   * @throws {WebSocketError} `WS_ERR_INVALID_STATE` when called a second time with the same
   *   socket (two servers handling one upgrade: give them different `path`s, or use `noServer`).
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    const marked = socket as UpgradingSocket;
    if (marked[kUpgrading]) {
      // ws's message, word for word.
      throw stateError(
        'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration',
      );
    }
    marked[kUpgrading] = true;
    socket.on('error', onHandshakeSocketError);
    // Invalid requests (`cause` given) go to a `wsClientError` listener when there is one, as in
    // ws; refusals decided by this server (path, Origin, verifyClient, authorize, closing) are
    // always answered.
    const reject: Reject = (status, reason, headers, cause) => {
      clearTimeout(wait.timer);
      if (cause !== undefined && this.listenerCount('wsClientError') > 0) {
        this.emit('wsClientError', cause, socket, req);
        return;
      }
      let response: string;
      try {
        response = buildHandshakeRejection(status, {
          ...(reason ? { reason } : {}),
          ...(headers ? { headers } : {}),
        });
      } catch (error) {
        // Headers from the application that cannot be written (CR/LF, a reserved name).
        socket.destroy();
        throw error;
      }
      if (socket.writable) socket.end(response);
      (socket as Partial<Socket>).destroySoon?.();
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    // The handshake timeout only matters while an application hook answers asynchronously
    // (verifyClient with a callback, authorize returning a promise): armed then, not before.
    const wait: HandshakeWait = {
      timer: undefined,
      start: () => {
        if (wait.timer !== undefined) return;
        wait.timer = setTimeout(
          () => reject(408, 'Handshake timed out'),
          this.handshakeTimeoutMs || 2 ** 31 - 1,
        );
        wait.timer.unref();
      },
    };

    if (this.state !== 'running') {
      reject(503, 'Server is closing');
      return;
    }
    let handshake: ClientHandshake;
    try {
      handshake = validateClientHandshake(
        {
          method: req.method ?? '',
          httpVersion: req.httpVersion,
          url: req.url ?? '/',
          headers: req.headers,
          rawHeaderCount: req.rawHeaders.length / 2,
          rawHeaders: req.rawHeaders,
        },
        this.settings.limits,
      );
    } catch (error) {
      if (!(error instanceof WebSocketError) || error.httpStatus === undefined) throw error;
      const extra = error instanceof HandshakeError ? error.headers : undefined;
      reject(error.httpStatus, error.message, extra, error);
      return;
    }
    if (!this.shouldHandle(req)) {
      reject(400, 'No WebSocket endpoint at this path');
      return;
    }

    const origin = handshake.origin;
    const allowed = this.options.allowedOrigins;
    if (origin === undefined && this.options.requireOrigin) {
      reject(403, 'Origin header required');
      return;
    }
    if (allowed && origin !== undefined) {
      const ok = typeof allowed === 'function' ? allowed(origin, req) : allowed.includes(origin);
      if (!ok) {
        reject(403, 'Origin not allowed');
        return;
      }
    }

    const proceed = (): void => {
      if (!socket.readable || !socket.writable || socket.destroyed) {
        clearTimeout(wait.timer);
        socket.destroy();
        return;
      }
      this.authorizeThenComplete(req, socket, head, handshake, wait, reject, callback);
    };

    const verify = this.options.verifyClient;
    if (!verify) {
      proceed();
      return;
    }
    const info: VerifyClientInfo = {
      origin,
      secure: Boolean(
        (req.socket as { authorized?: boolean; encrypted?: boolean }).authorized ||
          (req.socket as { encrypted?: boolean }).encrypted,
      ),
      req,
    };
    if (verify.length === 2) {
      wait.start();
      (
        verify as (
          i: VerifyClientInfo,
          cb: (r: boolean, c?: number, m?: string, h?: RejectionHeaders) => void,
        ) => void
      )(info, (result, code, message, headers) => {
        if (!result) {
          reject(code || 401, message, headers);
          return;
        }
        proceed();
      });
      return;
    }
    if (!(verify as (i: VerifyClientInfo) => boolean)(info)) {
      reject(401);
      return;
    }
    proceed();
  }

  private authorizeThenComplete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    handshake: ClientHandshake,
    wait: HandshakeWait,
    reject: Reject,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    const authorize = this.options.authorize;
    const complete = (): void => {
      clearTimeout(wait.timer);
      if (!socket.readable || !socket.writable || socket.destroyed) {
        socket.destroy();
        return;
      }
      this.completeUpgrade(req, socket, head, handshake, reject, callback);
    };
    if (!authorize) {
      complete();
      return;
    }
    let result: void | Promise<void>;
    try {
      result = authorize(req);
    } catch (error) {
      this.rejectAuthorization(error, reject);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      wait.start();
      (result as Promise<void>).then(complete, (error: unknown) => this.rejectAuthorization(error, reject));
    } else {
      complete();
    }
  }

  private rejectAuthorization(error: unknown, reject: Reject): void {
    if (error instanceof HandshakeRejection) {
      reject(error.status, error.message, error.headers);
      return;
    }
    // An unexpected failure in the application's hook: 500, details stay on this side.
    this.reportHookError(error);
    reject(500);
  }

  /**
   * Reports a failure of the application's own hook (`authorize`, `handleProtocols`, a `headers`
   * listener) met while answering a client. A client decides when such a hook runs, so an
   * `'error'` event with no listener (which Node turns into an exception) would let any client
   * stop the process: without a listener the error becomes a process warning instead.
   */
  private reportHookError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else
      process.emitWarning(
        error instanceof Error ? error : new Error(String(error)),
        'WebSocketServerWarning',
      );
  }

  private completeUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    handshake: ClientHandshake,
    reject: Reject,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    // close() was called while verifyClient or authorize ran.
    if (this.state !== 'running') {
      reject(503, 'Server is closing');
      return;
    }
    // RFC 6455 §4.2.2 item 5.4: with nothing offered, nothing is selected (and, as in ws,
    // handleProtocols is not called).
    let protocol: string | undefined;
    if (handshake.protocols.length === 0) {
      protocol = undefined;
    } else if (this.options.handleProtocols) {
      let chosen: string | false | null | undefined;
      try {
        chosen = this.options.handleProtocols(new Set(handshake.protocols), req);
      } catch (error) {
        this.reportHookError(error);
        reject(500);
        return;
      }
      // Like ws, any falsy value selects no subprotocol.
      if (chosen) {
        // RFC 6455 §4.2.2: the selected subprotocol must be one the client offered.
        if (!handshake.protocols.includes(chosen)) {
          this.reportHookError(
            argumentError(`handleProtocols returned "${chosen}", which the client did not offer`),
          );
          reject(500);
          return;
        }
        protocol = chosen;
      }
    } else if (this.options.protocols) {
      protocol = selectSubprotocol(handshake.protocols, this.options.protocols);
    } else {
      // ws selects the client's first preference when the server states none.
      protocol = handshake.protocols[0];
    }
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${computeAcceptKey(handshake.key)}`,
    ];
    if (protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
    // RFC 7692 §5: accept the first permessage-deflate offer we can honour (or none).
    const deflate = this.deflate ? acceptDeflateOffer(handshake.extensions, this.deflate) : undefined;
    if (deflate) lines.push(`Sec-WebSocket-Extensions: ${deflate.responseHeader}`);
    if (this.listenerCount('headers') > 0) {
      this.emit('headers', lines, req);
      for (const line of lines) {
        if (/[\r\n]/.test(line)) {
          this.reportHookError(argumentError('A header line added in the "headers" event contains CR or LF'));
          reject(500);
          return;
        }
      }
    }
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.off('error', onHandshakeSocketError);
    const ws = new this.WebSocketClass(null);
    // Any Duplex works as a transport; the driver only uses a net.Socket's extras when present.
    ws.attach('server', socket as Socket, head, this.settings, {
      protocol: protocol ?? '',
      ...(deflate
        ? {
            extensions: deflate.responseHeader,
            compressor: new PerMessageDeflate(deflate.params, 'server', this.deflate!),
          }
        : {}),
    });
    if (this.options.clientTracking !== false) {
      this.clients.add(ws);
      // Left in `finish`, before 'close' is emitted (no listener and closure per connection).
      ws._clients = this.clients;
    }
    callback(ws, req);
  }

  /**
   * Encodes a message once for many connections; send it with `ws.sendPrepared(message)`.
   * Strings become text messages unless `binary: true`.
   */
  static prepare(
    data: string | Uint8Array | ArrayBuffer,
    options: { binary?: boolean; compress?: boolean } = {},
  ): PreparedMessage {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    const binary = options.binary ?? typeof bytes !== 'string';
    const frames = prepareMessage(bytes, { binary });
    let byteLength = 0;
    for (const f of frames) byteLength += f.length;
    return {
      frames,
      byteLength,
      data: typeof bytes === 'string' ? Buffer.from(bytes) : bytes,
      binary,
      compress: options.compress ?? true,
      compressed: new Map(),
    };
  }

  /**
   * Runs `fn` and writes what it sent, to every connection, when it returns: one socket write
   * per connection however many messages `fn` sent to it (`send`, `sendPrepared`, `ping`...),
   * each connection's messages in order, every callback called. What a `message` handler sends
   * is already batched this way for the input chunk that carried the message; use this for
   * sends that start elsewhere (a timer, a Promise, a message from another process). Returns
   * what `fn` returns; rethrows what it throws, after writing what it sent.
   */
  static batch<T>(fn: () => T): T {
    return batchOutput(fn);
  }

  /**
   * Sends one message to every open client (except `except`), encoding it once.
   * Returns the number of connections it was written to.
   */
  broadcast(
    data: string | Uint8Array | ArrayBuffer,
    options: { binary?: boolean; except?: WebSocket | ((ws: WebSocket) => boolean) } = {},
    callback?: SendCallback,
  ): number {
    const message = WebSocketServer.prepare(data, options);
    const except = options.except;
    let n = 0;
    for (const ws of this.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (except && (typeof except === 'function' ? except(ws) : except === ws)) continue;
      ws.sendPrepared(message, callback);
      n++;
    }
    return n;
  }

  /**
   * Stops accepting connections, as ws 8 does: open connections stay open (close or terminate
   * them), and `close` is emitted once they have all closed (with `clientTracking`) and, in
   * standalone mode, the HTTP server has closed. `callback` is a one-time `close` listener.
   * Called again while closing, it only adds `callback`; called once closed, `close` is emitted
   * again and `callback` gets an error "The server is not running" (`WS_ERR_INVALID_STATE`).
   */
  close(callback?: (error?: Error) => void): void {
    if (this.state === 'closed') {
      if (callback) this.once('close', () => callback(stateError('The server is not running')));
      process.nextTick(() => this.emitClose());
      return;
    }
    if (callback) this.once('close', callback);
    if (this.state === 'closing') return;
    this.state = 'closing';
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.removeListeners?.();
    this.removeListeners = undefined;
    const clients = this.clients as ClientSet;
    if (this.ownsServer && this.httpServer) {
      // Node's server closes once every socket, upgraded ones included, has closed.
      this.httpServer.close(() => this.emitClose());
      // Sockets that never completed a handshake must not keep the server open.
      this.closePending?.();
    } else if (clients.size > 0) {
      clients.onEmpty = () => {
        clients.onEmpty = undefined;
        process.nextTick(() => this.emitClose());
      };
    } else {
      process.nextTick(() => this.emitClose());
    }
  }

  private emitClose(): void {
    this.state = 'closed';
    this.emit('close');
  }
}

function onHandshakeSocketError(this: Duplex): void {
  this.destroy();
}
