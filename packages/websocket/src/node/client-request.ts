import type { ClientRequestArgs, OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { argumentError } from '../protocol/errors.js';

/**
 * Client options handed unchanged to `http.request()` / `https.request()` and from there to
 * `net.connect()` / `tls.connect()`, as ws does. Every one listed here reaches the socket it
 * configures (a TLS option accepted and dropped would be a security hole).
 */
const REQUEST_OPTIONS: ReadonlySet<string> = new Set([
  // http.request()
  'agent',
  'auth',
  'defaultPort',
  'family',
  'hints',
  'insecureHTTPParser',
  'joinDuplicateHeaders',
  'localAddress',
  'localPort',
  'lookup',
  'maxHeaderSize',
  'setHost',
  'signal',
  'uniqueHeaders',
  // net.connect()
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
  'keepAlive',
  'keepAliveInitialDelay',
  'noDelay',
  'highWaterMark',
  // tls.connect()
  'ALPNProtocols',
  'checkServerIdentity',
  'enableTrace',
  'minDHSize',
  'pskCallback',
  'rejectUnauthorized',
  'requestOCSP',
  'secureContext',
  'servername',
  'session',
  // tls.createSecureContext()
  'allowPartialTrustChain',
  'ca',
  'cert',
  'ciphers',
  'clientCertEngine',
  'crl',
  'dhparam',
  'ecdhCurve',
  'honorCipherOrder',
  'key',
  'maxVersion',
  'minVersion',
  'passphrase',
  'pfx',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'secureOptions',
  'secureProtocol',
  'sessionIdContext',
  'sessionTimeout',
  'sigalgs',
  'ticketKeys',
]);

/** Request options ws accepts but replaces with what the URL says (we refuse them instead). */
const FROM_URL = new Set(['host', 'hostname', 'port', 'path', 'protocol', 'method', 'socketPath', 'socket']);

/** Throws WS_ERR_INVALID_ARGUMENT for an option that is neither the client's own nor passed on. */
export function checkOptionName(key: string, own: ReadonlySet<string>): void {
  if (own.has(key) || REQUEST_OPTIONS.has(key)) return;
  if (FROM_URL.has(key)) {
    throw argumentError(`WebSocket client option "${key}" comes from the URL; put it in the URL instead`);
  }
  throw argumentError(`Unknown WebSocket client option "${key}"`);
}

/** The options of `REQUEST_OPTIONS` that are set, to spread into the request. */
export function pickRequestOptions(options: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && REQUEST_OPTIONS.has(key)) out[key] = value;
  }
  return out;
}

/** Where one handshake request goes: parsed from a ws:, wss: or ws+unix: URL. */
export interface RequestTarget {
  url: URL;
  secure: boolean;
  host: string;
  port: string | number;
  path: string;
  /** ws+unix: the Unix domain socket, `ws+unix:/path/to/sock:/request/path` (as ws). */
  socketPath?: string;
  /** `user:password` from the URL's userinfo (sent as `Authorization: Basic`, as ws). */
  auth?: string;
}

export function requestTarget(url: URL): RequestTarget {
  const secure = url.protocol === 'wss:';
  let path = `${url.pathname}${url.search}`;
  let socketPath: string | undefined;
  if (url.protocol === 'ws+unix:') {
    // ws+unix:/path/to/sock:/request/path; without ':' the request path is '/'.
    const colon = path.indexOf(':');
    socketPath = colon === -1 ? path : path.slice(0, colon);
    path = colon === -1 ? '/' : path.slice(colon + 1) || '/';
  }
  return {
    url,
    secure,
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || (secure ? 443 : 80),
    path,
    ...(socketPath !== undefined ? { socketPath } : {}),
    // ws passes the userinfo as the URL spells it (percent-encoded), and so do we.
    ...(url.username || url.password ? { auth: `${url.username}:${url.password}` } : {}),
  };
}

/** The default `createConnection`: a TCP connection, or the Unix socket of a ws+unix: URL. */
export function netConnect(options: ClientRequestArgs): Duplex {
  // `path` is the request path here; for net.connect it would name a Unix socket.
  return net.connect({ ...options, path: options.socketPath } as net.NetConnectOpts);
}

/** The default `createConnection` for wss: every TLS option of the request reaches tls.connect. */
export function tlsConnect(options: ClientRequestArgs & tls.ConnectionOptions): Duplex {
  const host = options.host ?? '';
  return tls.connect({
    ...options,
    path: undefined,
    // SNI is a host name, never an IP address (RFC 6066 §3).
    servername: options.servername ?? (net.isIP(host) ? '' : host),
  } as tls.ConnectionOptions);
}

/**
 * What ws (matching curl 7.77) keeps when it follows a redirect: the first request's headers,
 * lower-cased, and the first `Authorization` (from the URL's userinfo or `auth`).
 */
export class RedirectHeaders {
  /** Lower-cased user headers, plus the first request's `authorization`, for every request. */
  readonly headers: OutgoingHttpHeaders = {};
  private readonly first: { ipc: boolean; secure: boolean; hostOrSocket: string };

  constructor(first: RequestTarget, userHeaders: OutgoingHttpHeaders) {
    for (const [name, value] of Object.entries(userHeaders)) this.headers[name.toLowerCase()] = value;
    this.first = { ipc: first.socketPath !== undefined, secure: first.secure, hostOrSocket: hostKey(first) };
  }

  /**
   * Headers and `auth` for a request. On a redirect to another host (or port, or from wss: to
   * ws:), `Authorization` and `Cookie` are dropped (and `Host` for another host) unless the
   * application listens to 'redirect' and decides itself.
   */
  forRequest(
    target: RequestTarget,
    auth: string | undefined,
    redirected: boolean,
    applicationDecides: boolean,
  ): { headers: OutgoingHttpHeaders; auth: string | undefined } {
    const headers: OutgoingHttpHeaders = { ...this.headers };
    if (redirected && !applicationDecides) {
      const sameHost =
        (target.socketPath !== undefined) === this.first.ipc && hostKey(target) === this.first.hostOrSocket;
      if (!sameHost || (this.first.secure && !target.secure)) {
        delete headers.authorization;
        delete headers.cookie;
        if (!sameHost) delete headers.host;
        auth = undefined;
      }
    }
    // The first Authorization wins: later requests send it as a header (ws, curl 7.77).
    if (auth !== undefined && this.headers.authorization === undefined) {
      this.headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    }
    return { headers, auth };
  }
}

function hostKey(target: RequestTarget): string {
  return target.socketPath ?? target.url.host;
}
