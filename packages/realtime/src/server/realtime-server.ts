// RealtimeServer: channels with history and recovery, events with acknowledgements, presence,
// authentication and limits, over @ieum/websocket.
import { EventEmitter } from 'node:events';
import http, { type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from '@ieum/websocket';
import type { Adapter } from '../adapter/adapter.js';
import { MemoryAdapter } from '../adapter/memory.js';
import { RealtimeError } from '../adapter/realtime-error.js';
import { type Codec, jsonCodec, msgpackCodec, subprotocolFor } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import type {
  ChannelName,
  ChannelPayloads,
  ClientToServer,
  EventMapShape,
  EventName,
} from '../codec/event-map.js';
import { HttpFallback } from '../transports/http-fallback.js';
import { answer } from '../transports/http-io.js';
import { requestUrl } from '../transports/request-url.js';
import type { Transport } from '../transports/transport.js';
import { WebSocketTransport } from '../transports/websocket.js';
import { Connection } from './connection.js';
import { EncodedCache } from './encoded-cache.js';
import { Hub } from './hub.js';
import { RealtimeMetrics } from './metrics.js';
import {
  type EventHandler,
  positive,
  type RealtimeServerOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import type { SessionDeps } from './session-deps.js';
import type { TrafficTap } from './traffic-tap.js';

export type {
  AuthContext,
  Authenticate,
  AuthResult,
  ChannelAccess,
  EventHandler,
  EventMap,
  PublishContext,
  RealtimeServerOptions,
  ResolvedOptions,
} from './options.js';
export { RealtimeError };

export interface RealtimeServer<M extends EventMapShape = EventMapShape> {
  on(event: 'connection', listener: (connection: Connection<M>) => void): this;
  on(event: 'disconnect', listener: (connection: Connection, code: number, reason: string) => void): this;
  on(event: 'unhandled', listener: (connection: Connection, event: string, data: unknown) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'listening' | 'close', listener: () => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter fallback
  on(event: string, listener: (...args: any[]) => void): this;
}

/**
 * The realtime server. `M` is the application's event map (see `EventMapShape`), shared with
 * `RealtimeClient<M>`: `handle`, `publish` and the connections' `emit`/`request` are then checked.
 */
export class RealtimeServer<M extends EventMapShape = EventMapShape> extends EventEmitter {
  readonly wss: WebSocketServer;
  readonly adapter: Adapter;
  readonly metrics: RealtimeMetrics | undefined;
  /** Open, authenticated connections by session id. */
  readonly connections = new Map<string, Connection>();
  /** Observers of this server's traffic (see `TrafficTap`); empty by default. */
  readonly taps = new Set<TrafficTap<Connection>>();
  readonly options: ResolvedOptions;
  private readonly ownsAdapter: boolean;
  private readonly codecs: Map<string, Codec>;
  private readonly handlers = new Map<string, EventHandler<(data: never) => unknown>>();
  private readonly encoded: EncodedCache;
  private readonly hub: Hub<Connection>;
  /** What every session of this server depends on (never the server itself). */
  private readonly deps: SessionDeps<Connection>;
  private readonly httpServer: HttpServer | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RealtimeServerOptions = {}) {
    super();
    const resolved = resolveOptions(options);
    const { maxMessageBytes, closeTimeoutMs } = resolved;
    this.options = resolved.session;
    this.encoded = new EncodedCache(resolved.replayCacheBytes);
    this.adapter = options.adapter ?? new MemoryAdapter();
    this.ownsAdapter = options.adapter === undefined;
    this.codecs = new Map((options.codecs ?? [jsonCodec, msgpackCodec]).map((c) => [subprotocolFor(c), c]));
    this.metrics =
      options.metrics === false
        ? undefined
        : new RealtimeMetrics(options.metrics ?? {}, () => {
            let n = 0;
            for (const c of this.connections.values()) n += c.queuedMessages;
            return n;
          });
    const reportError = (error: Error) => this.reportError(error);
    this.hub = new Hub(
      this.adapter,
      this.encoded,
      this.options.payload,
      resolved.presenceFlushIntervalMs,
      reportError,
      this.taps,
    );
    this.deps = {
      options: this.options,
      metrics: this.metrics,
      adapter: this.adapter,
      hub: this.hub,
      handlers: {
        handlerFor: (event) => this.handlers.get(event),
        unhandled: (connection, event, data) => this.emit('unhandled', connection, event, data),
      },
      registry: {
        adopt: (connection) => this.all.add(connection),
        registered: (connection) => this.registered(connection),
        unregistered: (connection, code, reason) => this.unregistered(connection, code, reason),
      },
      reportError,
      taps: this.taps,
    };

    const path = options.path ?? '/realtime';
    const metricsPath = options.metricsPath ?? false;
    if (options.httpFallback !== false && options.httpFallback?.enabled !== false) {
      const o = this.options;
      this.httpTransport = new HttpFallback(
        {
          adapter: this.adapter,
          rateLimit: o.rateLimit,
          helloTimeoutMs: o.helloTimeoutMs,
          outbound: o.outbound,
          // HTTP sessions speak JSON.
          accept: (transport, req) => this.startSession(transport, req, jsonCodec),
          reportError,
        },
        path,
        options.httpFallback ?? {},
        maxMessageBytes,
        resolved.originAllowed,
      );
    }
    let server = options.server;
    if (options.port !== undefined) {
      const handler = this.metrics && metricsPath !== false ? this.metrics.handler() : undefined;
      this.httpServer = http.createServer((req, res) => {
        try {
          if (this.handleRequest(req, res)) return;
          const url = requestUrl(req);
          if (!url) return answer(res, 400, 'bad request target', { connection: 'close' });
          if (handler && url.pathname === metricsPath) return handler(req, res);
          answer(res, 426, `Connect with WebSocket to ${path}`);
        } catch (error) {
          // Nothing a request carries may take the process down.
          this.reportError(error as Error);
          answer(res, 500, 'internal error');
        }
      });
      server = this.httpServer;
    }
    this.wss = new WebSocketServer({
      ...(server ? { server } : { noServer: true }),
      path,
      maxPayload: maxMessageBytes,
      protocols: [...this.codecs.keys()],
      closeTimeoutMs,
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      ...(options.requireOrigin ? { requireOrigin: true } : {}),
      ...(options.perMessageDeflate ? { perMessageDeflate: options.perMessageDeflate } : {}),
    });
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.accept(ws, req));
    this.wss.on('error', (error: Error) => this.emit('error', error));
    if (this.httpServer) {
      this.httpServer.on('error', (error) => this.emit('error', error));
      this.httpServer.listen(options.port, options.host, () => this.emit('listening'));
    }
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /**
   * Reports an error that concerns one connection or operation (a handler that threw, an adapter
   * that failed): emitted as `error` when someone listens, else printed as a process warning. It
   * never takes the process down; the connection concerned is closed by the caller as needed.
   */
  reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error.message, { type: 'RealtimeServerError', detail: error.stack });
  }

  /** @internal */
  readonly httpTransport: HttpFallback | undefined;

  /**
   * Serves the HTTP fallback endpoints (`<path>/http/...`). Returns false for other requests, so
   * your own handler can go on: `if (rt.handleRequest(req, res)) return;`. A request whose target
   * is not a valid URL (`GET http://:99999/`) is answered 400 here (true). Never throws.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return this.httpTransport?.handle(req, res) ?? false;
  }

  /** The listening address in `port` mode. */
  address() {
    return this.httpServer?.address() ?? null;
  }

  /** With `noServer`: hand an upgrade request to the realtime endpoint. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  /**
   * Handles client events named `event`: `emit` calls it, `request` also gets its return value
   * (or its `RealtimeError`) as the reply.
   */
  handle<E extends EventName<ClientToServer<M>>>(
    event: E,
    handler: EventHandler<ClientToServer<M>[E], M>,
  ): this {
    this.handlers.set(event, handler as unknown as EventHandler<(data: never) => unknown>);
    return this;
  }

  /**
   * Publishes to a channel from the server: stored in history, delivered to every subscriber in
   * every process. `except` skips one connection (e.g. the sender). `key` is the coalescing key for
   * the `latest` slow-consumer policy. Throws a `RealtimeError` (nothing stored) for a name that
   * is empty, longer than 200 or not well-formed UTF-16 (`bad-request`), a payload beyond
   * `maxPayloadDepth` / `maxPayloadBytes`, or one not every codec carries (`unsupported-payload`).
   */
  async publish<N extends ChannelName<M>, E extends EventName<ChannelPayloads<M, N>>>(
    channel: N,
    event: E,
    data: ChannelPayloads<M, N>[E],
    options: { except?: { readonly id: string }; key?: string } = {},
  ): Promise<{ epoch: string; offset: number }> {
    const r = await this.hub.publish(channel, event, data, {
      ...(options.except ? { except: options.except.id } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
    });
    return { epoch: r.epoch, offset: r.offset };
  }

  /** Members present in `channel` (users, not connections). */
  presence(channel: string): Promise<Array<{ user: string; info?: unknown }>> {
    return this.adapter.presenceList(channel);
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    // No subprotocol offered: JSON. Offered, but none of ours: refuse with the list we speak.
    const offered = req.headers['sec-websocket-protocol'] !== undefined;
    const codec = ws.protocol === '' ? (offered ? undefined : jsonCodec) : this.codecs.get(ws.protocol);
    if (!codec) {
      ws.close(
        DisconnectCode.PROTOCOL_ERROR,
        `unsupported subprotocol; use ${[...this.codecs.keys()].join(' or ')}`,
      );
      return;
    }
    this.startSession(new WebSocketTransport(ws, codec.binary), req, codec);
  }

  /** Starts the session of one client over `transport`: it registers itself once authenticated. */
  private startSession(transport: Transport, req: IncomingMessage, codec: Codec): void {
    new Connection(this.deps, transport, req, codec);
  }

  /** Every live connection, authenticated or not (for shutdown). */
  private readonly all = new Set<Connection>();

  private registered(connection: Connection): void {
    this.connections.set(connection.id, connection);
    this.metrics?.connections.inc();
    this.metrics?.connectionsOpened.inc();
    this.emit('connection', connection);
  }

  private unregistered(connection: Connection, code: number, reason: string): void {
    this.all.delete(connection);
    if (this.connections.delete(connection.id)) {
      this.metrics?.connections.dec();
      this.emit('disconnect', connection, code, reason);
    }
    this.metrics?.disconnects.inc({ code: String(code) });
  }

  private beat(): void {
    const now = Date.now();
    for (const c of this.connections.values()) c.heartbeat(now);
  }

  /**
   * Graceful shutdown: stops accepting, closes connections in batches with 1012 (clients
   * reconnect elsewhere and recover), then closes the adapter if this server created it.
   */
  close(options: { batchSize?: number; batchIntervalMs?: number; timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      const batchSize = positive('batchSize', options.batchSize, 500);
      const interval = options.batchIntervalMs ?? 50;
      clearInterval(this.heartbeat);
      this.httpServer?.close();
      const all = [...this.all];
      const closed = all.map((c) => c.closedPromise);
      for (let i = 0; i < all.length; i += batchSize) {
        for (const c of all.slice(i, i + batchSize))
          c.close(DisconnectCode.SERVICE_RESTART, 'server shutting down');
        if (i + batchSize < all.length) await new Promise((r) => setTimeout(r, interval));
      }
      const timeout = new Promise<void>((r) => setTimeout(r, options.timeoutMs ?? 5000).unref());
      await Promise.race([Promise.all(closed), timeout]);
      for (const c of this.all) c.ws.terminate();
      // Sockets that never became a Connection (refused subprotocol, closing): like ws 8, the
      // WebSocketServer emits 'close' only once every socket it tracks has closed.
      for (const ws of this.wss.clients) ws.terminate();
      this.httpTransport?.close();
      await new Promise<void>((r) => this.wss.close(() => r()));
      this.hub.close();
      this.encoded.clear();
      if (this.ownsAdapter) await this.adapter.close();
      this.emit('close');
    })();
    return this.closing;
  }
}
