// HTTP fallbacks for clients that cannot use WebSocket: Server-Sent Events down + POST up, and long
// polling. A session's messages travel through the adapter in two reserved channels,
// `$s:<token>:up` and `$s:<token>:down`, so any process can serve any request of the session (no
// sticky sessions): the process that opened the session runs its `Connection` (see
// http-session.ts); the others only move bytes. The down channel's offsets double as SSE event ids
// and polling cursors, so a dropped stream or poll resumes where it stopped (see http-reader.ts).
// This file routes the requests, admits sessions and takes POSTs.
//
// Hostile clients: every request is checked against the session's state before it costs anything
// (an unknown token: one read-only lookup), the hello travels in the `open` request so nothing
// reaches the adapter before authentication, POSTs are rate limited per session in messages and
// bytes, and each process serves at most one stream or poll per session, written with backpressure.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Adapter } from '../adapter/adapter.js';
import { answer, RequestAborted, readBody } from './http-io.js';
import { DownReader } from './http-reader.js';
import { HttpSession, type SharedState, sharedState, upChannel } from './http-session.js';
import type { OutboundLimits } from './outbound-queue.js';
import { type RateLimit, TokenBucket } from './rate-limit.js';
import { requestUrl } from './request-url.js';

export interface HttpFallbackOptions {
  /** Serve the SSE and long-polling fallbacks. Default true. */
  enabled?: boolean;
  /** Milliseconds a poll waits for a message before answering empty. Default 25,000. */
  pollTimeoutMs?: number;
  /** Milliseconds between SSE keep-alive comments (for proxies). Default 15,000. */
  sseKeepAliveMs?: number;
  /** Largest `send` body (several messages), in bytes (413 beyond). Default: `maxMessageBytes`. */
  maxBodyBytes?: number;
  /** Messages per POST (413 beyond). Default 100. */
  maxMessagesPerPost?: number;
  /** Largest `open` body (the client's hello), in bytes (413 beyond). Default 65,536. */
  maxHelloBytes?: number;
  /**
   * Sessions this process runs for one client IP address: authenticating, open, or closed and
   * still remembered (`closedRetentionMs`). Beyond: `open` answers 429. Behind a reverse proxy
   * every client has the proxy's address: raise it accordingly. Default 100.
   */
  maxSessionsPerIp?: number;
  /** Sessions this process authenticates at once (`open` not answered yet); 503 beyond. Default 1,000. */
  maxPendingSessions?: number;
  /**
   * `send` body bytes per second one session may post, sustained (counted by each process that
   * serves its POSTs); beyond, the POST is refused with 429 and nothing of it is kept.
   * Default 1,048,576 (1 MiB/s). The message rate is the server's `rateLimit`, checked the same way.
   */
  sendBytesPerSecond?: number;
  /** `send` body bytes a session may post at once after being idle. Default 2 × `maxBodyBytes`. */
  sendBurstBytes?: number;
  /**
   * Milliseconds a closed session is remembered: its POSTs get 410 and its streams and polls can
   * still read the final `close`. Default 30,000.
   */
  closedRetentionMs?: number;
}

/** What the HTTP fallback needs from the server that mounts it. */
export interface HttpFallbackHost {
  readonly adapter: Adapter;
  /** Per-session message rate, checked against each POST's lines too; `false` for none. */
  readonly rateLimit: RateLimit | false;
  /** Milliseconds a new session has to send its hello (`open` waits a second more). */
  readonly helloTimeoutMs: number;
  /** The outbound limits a session's down channel is read with. */
  readonly outbound: OutboundLimits;
  /** Starts the session (hello, authentication, message loop) that runs over `transport`. */
  accept(transport: HttpSession, req: IncomingMessage): void;
  reportError(error: Error): void;
}

/** Sessions whose POST rate is tracked at once; the least recently used is forgotten beyond. */
const MAX_TRACKED_SENDERS = 10_000;
const TOKEN = /^[A-Za-z0-9_-]{32}$/;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0))
    throw new RangeError(`RealtimeServer: httpFallback.${name} must be positive (got ${value})`);
  return value;
}

interface Sender {
  messages: TokenBucket | undefined;
  bytes: TokenBucket;
}

/** Serves `<path>/http/{open,send,sse,poll,close}` for a realtime server. */
export class HttpFallback {
  private readonly pollTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly maxBodyBytes: number;
  private readonly maxMessagesPerPost: number;
  private readonly maxHelloBytes: number;
  private readonly maxSessionsPerIp: number;
  private readonly maxPendingSessions: number;
  private readonly sendBytesPerSecond: number;
  private readonly sendBurstBytes: number;
  private readonly closedRetentionMs: number;
  /** Sessions this process owns, live or remembered as closed. */
  private readonly sessions = new Map<string, HttpSession>();
  private readonly perIp = new Map<string, number>();
  private pending = 0;
  private readonly reader: DownReader;
  private readonly senders = new Map<string, Sender>();
  private closed = false;

  constructor(
    private readonly server: HttpFallbackHost,
    private readonly base: string,
    options: HttpFallbackOptions,
    maxMessageBytes: number,
    private readonly originAllowed: (origin: string | undefined, req: IncomingMessage) => boolean,
  ) {
    this.pollTimeoutMs = positive('pollTimeoutMs', options.pollTimeoutMs, 25_000);
    this.keepAliveMs = positive('sseKeepAliveMs', options.sseKeepAliveMs, 15_000);
    this.maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, maxMessageBytes);
    this.maxMessagesPerPost = positive('maxMessagesPerPost', options.maxMessagesPerPost, 100);
    this.maxHelloBytes = positive('maxHelloBytes', options.maxHelloBytes, 65_536);
    this.maxSessionsPerIp = positive('maxSessionsPerIp', options.maxSessionsPerIp, 100);
    this.maxPendingSessions = positive('maxPendingSessions', options.maxPendingSessions, 1000);
    this.sendBytesPerSecond = positive('sendBytesPerSecond', options.sendBytesPerSecond, 1024 * 1024);
    this.sendBurstBytes = positive('sendBurstBytes', options.sendBurstBytes, 2 * this.maxBodyBytes);
    if (this.sendBurstBytes < this.maxBodyBytes) {
      throw new RangeError('RealtimeServer: httpFallback.sendBurstBytes must be at least maxBodyBytes');
    }
    this.closedRetentionMs = positive('closedRetentionMs', options.closedRetentionMs, 30_000);
    this.reader = new DownReader(server.adapter, server.outbound, this.pollTimeoutMs, this.keepAliveMs, (t) =>
      this.sessions.get(t),
    );
  }

  /** Handles the request if it is one of ours; returns false otherwise. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    try {
      return this.route(req, res);
    } catch (error) {
      this.server.reportError(error as Error);
      answer(res, 500, 'internal error');
      return true;
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): boolean {
    const url = requestUrl(req);
    if (!url) {
      // Not a URL (`GET http://:99999/`): nobody can route it, so it is answered here.
      answer(res, 400, 'bad request target', { connection: 'close' });
      return true;
    }
    if (!url.pathname.startsWith(`${this.base}/http/`)) return false;
    const action = url.pathname.slice(this.base.length + 6);
    const origin = req.headers.origin;
    if (!this.originAllowed(origin, req)) {
      answer(res, 403, 'Origin not allowed');
      return true;
    }
    if (origin) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
    }
    res.setHeader('cache-control', 'no-store');
    if (req.method === 'OPTIONS') {
      res
        .writeHead(204, {
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'content-type, authorization, last-event-id',
          'access-control-max-age': '600',
        })
        .end();
      return true;
    }
    const route: Record<string, [string, () => Promise<void>]> = {
      open: ['POST', () => this.openSession(req, res, url)],
      send: ['POST', () => this.send(req, res, url)],
      close: ['POST', () => this.closeSession(res, url)],
      sse: ['GET', () => this.read(req, res, url, 'sse')],
      poll: ['GET', () => this.read(req, res, url, 'poll')],
    };
    const r = Object.hasOwn(route, action) ? route[action] : undefined;
    if (!r) {
      answer(res, 404, `unknown endpoint; use ${this.base}/http/open, send, sse, poll or close`);
      return true;
    }
    if (req.method !== r[0]) {
      res.setHeader('allow', r[0]);
      answer(res, 405, `${action} takes ${r[0]}`);
      return true;
    }
    r[1]().catch((error: Error) => {
      // A client that aborted its POST is gone: there is nobody to answer and nothing went wrong.
      if (error instanceof RequestAborted) return void res.destroy();
      this.server.reportError(error as Error);
      answer(res, 500, 'internal error');
    });
    return true;
  }

  private token(url: URL, res: ServerResponse): string | undefined {
    const s = url.searchParams.get('s') ?? '';
    if (TOKEN.test(s)) return s;
    answer(res, 400, 'missing or malformed session (?s=)');
    return undefined;
  }

  /** This process's sessions from memory; others' from one read-only lookup. */
  private state(token: string): Promise<SharedState> | SharedState {
    const local = this.sessions.get(token);
    return local ? { state: local.state, epoch: local.downEpoch } : sharedState(this.server.adapter, token);
  }

  /**
   * The session's state if requests may act on it; otherwise answers 404 (unknown), 409 (not
   * authenticated) or, unless `closedOk`, 410 (closed), and returns undefined.
   */
  private async usable(
    token: string,
    res: ServerResponse,
    closedOk: boolean,
  ): Promise<{ state: 'live' | 'closed'; epoch: string | undefined } | undefined> {
    const { state, epoch } = await this.state(token);
    if (state === 'live' || (state === 'closed' && closedOk)) return { state, epoch };
    if (state === 'unknown') answer(res, 404, 'unknown session: open a new one');
    else if (state === 'pending') answer(res, 409, 'session not authenticated yet');
    else answer(res, 410, 'session closed: open a new one');
    return undefined;
  }

  private releaseIp(ip: string): void {
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n > 0) this.perIp.set(ip, n);
    else this.perIp.delete(ip);
  }

  private async openSession(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const ip = req.socket.remoteAddress ?? '';
    if ((this.perIp.get(ip) ?? 0) >= this.maxSessionsPerIp) {
      return answer(res, 429, `too many sessions from this address (${this.maxSessionsPerIp})`, {
        'retry-after': String(Math.ceil(this.closedRetentionMs / 1000)),
      });
    }
    if (this.pending >= this.maxPendingSessions) {
      return answer(res, 503, 'too many sessions authenticating; retry later', { 'retry-after': '1' });
    }
    // Counted before the body is read: concurrent opens are bounded too.
    this.pending++;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    let session: HttpSession | undefined;
    try {
      const body = await readBody(req, this.maxHelloBytes);
      if (body === undefined) {
        return answer(res, 413, `hello larger than ${this.maxHelloBytes} bytes`, { connection: 'close' });
      }
      const lines = body.split('\n').filter((l) => l !== '');
      if (lines.length === 0) return answer(res, 400, 'send the hello in the body of open');
      if (lines.length > this.maxMessagesPerPost) {
        return answer(res, 413, `more than ${this.maxMessagesPerPost} messages`);
      }
      const kind = url.searchParams.get('transport') === 'polling' ? 'polling' : 'sse';
      const token = randomBytes(24).toString('base64url');
      session = new HttpSession(this.server.adapter, kind, token, ip, {
        closedRetentionMs: this.closedRetentionMs,
        forget: (s) => {
          if (this.sessions.get(s.token) === s) this.sessions.delete(s.token);
          this.senders.delete(s.token);
          this.releaseIp(s.ip);
        },
        report: (error) => {
          if (!this.closed) this.server.reportError(error);
        },
      });
      this.sessions.set(token, session);
      this.server.accept(session, req);
      session.receive(lines);
      // Answered once authenticated (other processes can then serve it) or refused.
      const state = await session.settled(this.server.helloTimeoutMs + 1000);
      if (res.destroyed) {
        // The client gave up on open: nobody will ever know this session's token.
        session.close(1001, 'open request aborted');
        return;
      }
      if (state === 'live') {
        answer(res, 200, JSON.stringify({ s: token }), { 'content-type': 'application/json' });
      } else {
        answer(res, 200, JSON.stringify({ close: session.closeInfo }), {
          'content-type': 'application/json',
        });
      }
    } finally {
      this.pending--;
      if (!session) this.releaseIp(ip);
    }
  }

  /** The session's POST budget in this process (rate limits are per session, per process). */
  private sender(token: string): Sender {
    let s = this.senders.get(token);
    if (s) {
      this.senders.delete(token);
    } else {
      const rate = this.server.rateLimit;
      s = {
        messages: rate ? new TokenBucket(rate) : undefined,
        bytes: new TokenBucket({ messagesPerSecond: this.sendBytesPerSecond, burst: this.sendBurstBytes }),
      };
      if (this.senders.size >= MAX_TRACKED_SENDERS) this.senders.delete(this.senders.keys().next().value!);
    }
    this.senders.set(token, s);
    return s;
  }

  private async send(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = this.token(url, res);
    if (!token || !(await this.usable(token, res, false))) return;
    const body = await readBody(req, this.maxBodyBytes);
    if (body === undefined) {
      return answer(res, 413, `body larger than ${this.maxBodyBytes} bytes`, { connection: 'close' });
    }
    const lines = body.split('\n').filter((l) => l !== '');
    if (lines.length > this.maxMessagesPerPost) {
      return answer(res, 413, `more than ${this.maxMessagesPerPost} messages`);
    }
    const sender = this.sender(token);
    const bytes = Buffer.byteLength(body);
    // Both budgets are checked before either is spent, and nothing is kept when refused.
    if (
      (sender.messages && !sender.messages.take(lines.length)) ||
      (bytes > 0 && !sender.bytes.take(bytes))
    ) {
      return answer(res, 429, 'rate limit exceeded', { 'retry-after': '1' });
    }
    const local = this.sessions.get(token);
    if (local) {
      // The owner is here: straight to its connection, nothing stored. While the connection is
      // behind (it paused its input, as it pauses a WebSocket), this POST waits, like a TCP
      // sender; the client posts one at a time, so a second one waiting at once is refused.
      const ready = local.takesInput();
      if (!ready) return answer(res, 429, 'a previous POST is still waiting', { 'retry-after': '1' });
      await ready;
      if (local.state !== 'live') return answer(res, 410, 'session closed: open a new one');
      local.receive(lines);
    } else {
      await this.server.adapter.publish(upChannel(token), { ev: 'm', d: lines });
    }
    res.writeHead(204).end();
  }

  private async closeSession(res: ServerResponse, url: URL): Promise<void> {
    const token = this.token(url, res);
    if (!token) return;
    if ((await this.state(token)).state === 'closed') return void res.writeHead(204).end();
    if (!(await this.usable(token, res, false))) return;
    const local = this.sessions.get(token);
    if (local) local.clientClosed();
    else await this.server.adapter.publish(upChannel(token), { ev: 'close', d: null });
    res.writeHead(204).end();
  }

  private async read(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    how: 'sse' | 'poll',
  ): Promise<void> {
    const token = this.token(url, res);
    const usable = token && (await this.usable(token, res, true));
    if (!token || !usable) return;
    await this.reader[how](res, token, usable.state, usable.epoch, this.since(req, url));
  }

  private since(req: IncomingMessage, url: URL): number {
    const raw = url.searchParams.get('since') ?? req.headers['last-event-id'] ?? '1';
    const n = Number(raw);
    return Number.isSafeInteger(n) && n >= 1 ? n : 1;
  }

  /** Ends every open stream and poll (server shutdown). */
  close(): void {
    this.closed = true;
    this.reader.close();
  }
}
