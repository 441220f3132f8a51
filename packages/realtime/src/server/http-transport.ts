// HTTP fallbacks for clients that cannot use WebSocket: Server-Sent Events down + POST up, and long
// polling. A session's messages travel through the adapter in two reserved channels,
// `$s:<token>:up` and `$s:<token>:down`, so any process can serve any request of the session (no
// sticky sessions): the process that opened the session runs its `Connection`; the others only
// move bytes. The down channel's offsets double as SSE event ids and polling cursors, so a
// dropped stream or poll resumes where it stopped.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonCodec } from '../protocol/codec.js';
import type { Adapter, AdapterEvent, ChannelEntry } from './adapter.js';
import { Connection, type Transport, type TransportKind } from './connection.js';
import type { RealtimeServer } from './realtime-server.js';

export interface HttpFallbackOptions {
  /** Serve the SSE and long-polling fallbacks. Default true. */
  enabled?: boolean;
  /** Milliseconds a poll waits for a message before answering empty. Default 25,000. */
  pollTimeoutMs?: number;
  /** Milliseconds between SSE keep-alive comments (for proxies). Default 15,000. */
  sseKeepAliveMs?: number;
  /** Largest POST body (several messages), in bytes (413 beyond). Default: `maxMessageBytes`. */
  maxBodyBytes?: number;
  /** Messages per POST (413 beyond). Default 100. */
  maxMessagesPerPost?: number;
}

const upChannel = (token: string) => `$s:${token}:up`;
const downChannel = (token: string) => `$s:${token}:down`;
const TOKEN = /^[A-Za-z0-9_-]{32}$/;

/** The owner-side transport of one HTTP session: looks like a WebSocket to `Connection`. */
class HttpSession extends EventEmitter implements Transport {
  readonly bufferedAmount = 0;
  private finished = false;
  private readonly onUp = (event: AdapterEvent) => {
    if (event.type !== 'message') return;
    if (event.entry.ev === 'm' && Array.isArray(event.entry.d)) {
      for (const line of event.entry.d)
        if (typeof line === 'string') this.emit('message', Buffer.from(line), false);
    } else if (event.entry.ev === 'close') {
      this.finish(1000, 'client closed');
    }
  };

  constructor(
    private readonly adapter: Adapter,
    readonly token: string,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.adapter.subscribe(upChannel(this.token), this.onUp);
    // Offset 1 of the down channel marks the session as open for every process.
    await this.adapter.publish(downChannel(this.token), { ev: 'open', d: null });
  }

  send(data: string | Uint8Array, _options: { binary: boolean }, done: (error?: Error | null) => void): void {
    if (this.finished) {
      done(new Error('session closed'));
      return;
    }
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    this.adapter.publish(downChannel(this.token), { ev: 'm', d: text }).then(
      () => done(),
      (error: Error) => {
        done(error);
        this.finish(1011, 'adapter failure');
      },
    );
  }

  close(code: number, reason: string): void {
    if (this.finished) return;
    this.adapter
      .publish(downChannel(this.token), { ev: 'close', d: { code, reason } })
      .catch(() => {})
      .finally(() => this.finish(code, reason));
  }

  /** Ends the session at once; the client is told (it cannot see a TCP close here). */
  terminate(): void {
    if (this.finished) return;
    this.adapter
      .publish(downChannel(this.token), { ev: 'close', d: { code: 1006, reason: 'terminated' } })
      .catch(() => {});
    this.finish(1006, '');
  }

  pause(): void {}
  resume(): void {}

  private finish(code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.adapter.unsubscribe(upChannel(this.token), this.onUp).catch(() => {});
    this.emit('close', code, Buffer.from(reason));
  }
}

/** Serves `<path>/http/{open,send,sse,poll,close}` for a realtime server. */
export class HttpFallback {
  private readonly pollTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly maxBodyBytes: number;
  private readonly maxMessagesPerPost: number;
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly server: RealtimeServer,
    private readonly base: string,
    options: HttpFallbackOptions,
    maxMessageBytes: number,
    private readonly originAllowed: (origin: string | undefined, req: IncomingMessage) => boolean,
  ) {
    this.pollTimeoutMs = options.pollTimeoutMs ?? 25_000;
    this.keepAliveMs = options.sseKeepAliveMs ?? 15_000;
    this.maxBodyBytes = options.maxBodyBytes ?? maxMessageBytes;
    this.maxMessagesPerPost = options.maxMessagesPerPost ?? 100;
  }

  /** Handles the request if it is one of ours; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith(`${this.base}/http/`)) return false;
    const action = url.pathname.slice(this.base.length + 6);
    const origin = req.headers.origin;
    if (!this.originAllowed(origin, req)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Origin not allowed\n');
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
    const fail = (status: number, message: string) =>
      res.headersSent
        ? res.destroy()
        : res.writeHead(status, { 'content-type': 'text/plain' }).end(`${message}\n`);
    const route: Record<string, [string, () => Promise<void>]> = {
      open: ['POST', () => this.openSession(req, res, url)],
      send: ['POST', () => this.send(req, res, url)],
      close: ['POST', () => this.closeSession(res, url)],
      sse: ['GET', () => this.sse(req, res, url)],
      poll: ['GET', () => this.poll(req, res, url)],
    };
    const r = route[action];
    if (!r) {
      fail(404, `unknown endpoint; use ${this.base}/http/open, send, sse, poll or close`);
      return true;
    }
    if (req.method !== r[0]) {
      res.setHeader('allow', r[0]);
      fail(405, `${action} takes ${r[0]}`);
      return true;
    }
    r[1]().catch((error: Error) => {
      this.server.reportError(error as Error);
      fail(500, 'internal error');
    });
    return true;
  }

  private token(url: URL, res: ServerResponse): string | undefined {
    const s = url.searchParams.get('s') ?? '';
    if (TOKEN.test(s)) return s;
    res.writeHead(400, { 'content-type': 'text/plain' }).end('missing or malformed session (?s=)\n');
    return undefined;
  }

  /** A session exists once its owner published the `open` marker at offset 1. */
  private async exists(token: string, res: ServerResponse): Promise<boolean> {
    if ((await this.server.adapter.position(downChannel(token))).offset > 0) return true;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown session: open a new one\n');
    return false;
  }

  private async openSession(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const kind: TransportKind = url.searchParams.get('transport') === 'polling' ? 'polling' : 'sse';
    const token = randomBytes(24).toString('base64url');
    const session = new HttpSession(this.server.adapter, token);
    await session.start();
    new Connection(this.server, session, req, jsonCodec, kind);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ s: token }));
  }

  private async send(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = this.token(url, res);
    if (!token) return;
    const body = await readBody(req, this.maxBodyBytes);
    if (body === undefined) {
      res
        .writeHead(413, { 'content-type': 'text/plain', connection: 'close' })
        .end(`body larger than ${this.maxBodyBytes} bytes\n`);
      return;
    }
    const lines = body.split('\n').filter((l) => l !== '');
    if (lines.length > this.maxMessagesPerPost) {
      res
        .writeHead(413, { 'content-type': 'text/plain' })
        .end(`more than ${this.maxMessagesPerPost} messages\n`);
      return;
    }
    if (!(await this.exists(token, res))) return;
    await this.server.adapter.publish(upChannel(token), { ev: 'm', d: lines });
    res.writeHead(204).end();
  }

  private async closeSession(res: ServerResponse, url: URL): Promise<void> {
    const token = this.token(url, res);
    if (!token || !(await this.exists(token, res))) return;
    await this.server.adapter.publish(upChannel(token), { ev: 'close', d: null });
    res.writeHead(204).end();
  }

  private since(req: IncomingMessage, url: URL): number {
    const raw = url.searchParams.get('since') ?? req.headers['last-event-id'] ?? '1';
    const n = Number(raw);
    return Number.isSafeInteger(n) && n >= 1 ? n : 1;
  }

  /**
   * Reads the down channel after `since`, then follows it live; `write` gets each entry once, in
   * order. Resolves with a stop function, or undefined (and answers 404/410) when it cannot.
   */
  private async follow(
    token: string,
    since: number,
    res: ServerResponse,
    write: (entries: ChannelEntry[]) => void,
  ): Promise<(() => void) | undefined> {
    const adapter = this.server.adapter;
    const channel = downChannel(token);
    let last = since;
    let pending: ChannelEntry[] | undefined = [];
    const deliver = (entries: ChannelEntry[]) => {
      const fresh = entries.filter((e) => e.off > last);
      if (fresh.length === 0) return;
      last = fresh.at(-1)!.off;
      write(fresh);
    };
    const listener = (event: AdapterEvent) => {
      if (event.type !== 'message') return;
      if (pending) pending.push(event.entry);
      else deliver([event.entry]);
    };
    await adapter.subscribe(channel, listener);
    const stop = () => void adapter.unsubscribe(channel, listener).catch(() => {});
    const { epoch } = await adapter.position(channel);
    const h = await adapter.history(channel, { epoch, offset: since });
    if (h.position.offset === 0) {
      stop();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown session: open a new one\n');
      return undefined;
    }
    if (!h.ok) {
      stop();
      res
        .writeHead(410, { 'content-type': 'text/plain' })
        .end(`session history lost (${h.reason}): open a new session\n`);
      return undefined;
    }
    const buffered = pending;
    pending = undefined;
    deliver([...h.entries, ...buffered]);
    return stop;
  }

  private async sse(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = this.token(url, res);
    if (!token) return;
    let started = false;
    const queue: ChannelEntry[] = [];
    const stop = await this.follow(token, this.since(req, url), res, (entries) => {
      if (!started) return void queue.push(...entries);
      res.write(entries.map(sseEvent).join(''));
    });
    if (!stop) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
      connection: 'keep-alive',
    });
    res.write(': ieum\n\n');
    started = true;
    if (queue.length) res.write(queue.map(sseEvent).join(''));
    this.open.add(res);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), this.keepAliveMs);
    res.on('close', () => {
      clearInterval(keepAlive);
      this.open.delete(res);
      stop();
    });
  }

  private async poll(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = this.token(url, res);
    if (!token) return;
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    let stop: (() => void) | undefined;
    const answer = (entries: ChannelEntry[]) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      stop?.();
      this.open.delete(res);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ entries: entries.map(wire) }));
    };
    let early: ChannelEntry[] | undefined;
    stop = await this.follow(token, this.since(req, url), res, (entries) => {
      // Give messages published in the same tick a chance to join this answer.
      if (early) return void early.push(...entries);
      early = [...entries];
      setImmediate(() => answer(early!));
    });
    if (!stop) return;
    if (answered) return stop();
    this.open.add(res);
    timer = setTimeout(() => answer([]), this.pollTimeoutMs);
    res.on('close', () => {
      clearTimeout(timer);
      this.open.delete(res);
      stop();
    });
  }

  /** Ends every open stream and poll (server shutdown). */
  close(): void {
    for (const res of this.open) res.destroy();
    this.open.clear();
  }
}

function wire(e: ChannelEntry): { off: number; ev: string; d: unknown } {
  return { off: e.off, ev: e.ev, d: e.d };
}

function sseEvent(e: ChannelEntry): string {
  // Messages are single-line JSON (JSON.stringify never emits a raw newline).
  if (e.ev === 'm') return `id: ${e.off}\ndata: ${e.d as string}\n\n`;
  return `id: ${e.off}\nevent: ${e.ev}\ndata: ${JSON.stringify(e.d)}\n\n`;
}

function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Stop keeping the body but let it drain, so the 413 reaches the client.
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
