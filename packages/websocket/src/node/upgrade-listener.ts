/**
 * The TCP listener of a standalone `WebSocketServer` (`{ port }`): a `net.Server` that reads each
 * connection's request head with the strict {@link RequestHeadParser} instead of Node's HTTP
 * server, and hands upgrade requests on as `(req, socket, head)`, the seam of `handleUpgrade`.
 */
import { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import { WebSocketError } from '../protocol/errors.js';
import { buildHandshakeRejection } from '../protocol/handshake-server.js';
import { headerHasToken } from '../protocol/http-tokens.js';
import type { Limits } from '../protocol/limits.js';
import { type RequestHead, RequestHeadParser } from '../protocol/request-head-parser.js';

/** What {@link createUpgradeListener} needs. */
export interface UpgradeListenerOptions {
  /** `maxHandshakeBytes` and `maxHeaderCount` bound each request head (431 beyond them). */
  limits: Limits;
  /** Milliseconds for the whole request head to arrive; 0 waits forever. Exceeded: 408. */
  handshakeTimeoutMs: number;
  /** An upgrade request (`Connection: upgrade` and an `Upgrade` header), with the bytes after its head. */
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

/** A listener that reads request heads itself; `closeIdle` drops connections still sending one. */
export interface UpgradeListener {
  server: net.Server;
  closeIdle(): void;
}

/**
 * Creates the listener (not yet listening). Per connection: the head must arrive within
 * `handshakeTimeoutMs` (408, then the socket is closed); a malformed head is answered 400 and
 * an oversized one 431 (see {@link RequestHeadParser}); a request that is not an upgrade gets
 * 426 with `Upgrade: websocket` (RFC 9110 §15.5.22). Every refusal closes the connection.
 * Requests are Node `IncomingMessage` objects (method, url, httpVersion, headers, rawHeaders,
 * socket, ...), filled from the parsed head: what `verifyClient` and `'connection'` listeners read.
 */
export function createUpgradeListener(options: UpgradeListenerOptions): UpgradeListener {
  const pending = new Set<Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    let parser: RequestHeadParser | undefined = new RequestHeadParser(options.limits);
    pending.add(socket);
    let timer: NodeJS.Timeout | undefined;
    // Everything this connection's head needed is let go here: an upgraded connection keeps
    // no parser, timer or closure of this function.
    const done = (): void => {
      clearTimeout(timer);
      timer = undefined;
      parser = undefined;
      pending.delete(socket);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onClose = (): void => done();
    const onData = (chunk: Buffer): void => {
      let parsed: ReturnType<RequestHeadParser['push']>;
      try {
        parsed = parser!.push(chunk);
      } catch (error) {
        done();
        if (error instanceof WebSocketError && error.httpStatus !== undefined) {
          refuse(socket, error.httpStatus, error.message);
        } else {
          socket.destroy();
        }
        return;
      }
      if (parsed === undefined) return;
      done();
      // As Node's HTTP server does for an upgrade: no more 'data' events until the next owner
      // listens; bytes that arrive meanwhile wait in the socket.
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      const req = requestOf(parsed.head, socket);
      if (req.headers.upgrade === undefined || !headerHasToken(req.headers.connection, 'upgrade')) {
        refuse(socket, 426, undefined, { Upgrade: 'websocket' });
        return;
      }
      options.onUpgrade(req, socket, parsed.rest);
      // handleUpgrade has its own error listener from here on (and the connection then its own).
      socket.off('error', onSocketError);
    };
    socket.on('data', onData);
    socket.on('error', onSocketError);
    socket.on('close', onClose);
    if (options.handshakeTimeoutMs > 0) {
      // Slow handshakes (slowloris): the request head must arrive within the handshake timeout.
      timer = setTimeout(() => {
        done();
        refuse(socket, 408, 'Handshake timed out');
      }, options.handshakeTimeoutMs);
    }
  });
  return {
    server,
    closeIdle: () => {
      for (const socket of pending) socket.destroy();
      pending.clear();
    },
  };
}

function onSocketError(this: Socket): void {
  this.destroy();
}

/** Answers with an HTTP error and closes the connection. */
function refuse(socket: Socket, status: number, reason?: string, headers?: Record<string, string>): void {
  if (socket.writable) {
    socket.end(
      buildHandshakeRejection(status, { ...(reason ? { reason } : {}), ...(headers ? { headers } : {}) }),
    );
  }
  socket.destroySoon();
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** A Node `IncomingMessage` for a parsed head, as Node's HTTP server makes for an upgrade. */
function requestOf(head: RequestHead, socket: Socket): IncomingMessage {
  const req = new IncomingMessage(socket);
  req.method = head.method;
  req.url = head.url;
  req.httpVersionMajor = head.httpVersionMajor;
  req.httpVersionMinor = head.httpVersionMinor;
  req.httpVersion = `${head.httpVersionMajor}.${head.httpVersionMinor}`;
  const internals = req as unknown as {
    _addHeaderLines?: (raw: string[], n: number) => void;
    upgrade: boolean;
  };
  if (typeof internals._addHeaderLines === 'function') {
    // Node's own joining rules for repeated headers (headers, headersDistinct), computed when read.
    internals._addHeaderLines(head.rawHeaders, head.rawHeaders.length);
  } else {
    req.rawHeaders = head.rawHeaders;
    req.headers = joinHeaders(head.rawHeaders);
  }
  internals.upgrade = true;
  req.complete = true;
  return req;
}

/**
 * Node's rules for `headers` (lib/_http_incoming.js): used only where `_addHeaderLines` is
 * missing. Exported for its test.
 */
export function joinHeaders(raw: readonly string[]): IncomingMessage['headers'] {
  const headers: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = headers[name];
    if (name === 'set-cookie') {
      if (Array.isArray(prev)) prev.push(value);
      else headers[name] = [value];
    } else if (prev === undefined) {
      headers[name] = value;
    } else if (name === 'cookie') {
      headers[name] = `${prev}; ${value}`;
    } else if (!SINGLE_VALUE.has(name)) {
      headers[name] = `${prev}, ${value}`;
    }
  }
  return headers;
}

/** Headers whose repeats Node drops (the first one counts). */
const SINGLE_VALUE: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);
