// Dashboard: mounts the live dashboard on one or more RealtimeServers or WebSocketServers. It runs
// a small RealtimeServer of its own (token-authenticated, on `<path>/realtime`) that publishes one
// Sample per interval and watched server on `stats:<name>` (history keeps the last minutes for a
// page that opens late) and answers frame inspector `tail` requests with direct `frame` events.
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Connection, MemoryAdapter, RealtimeError, RealtimeServer } from '@ieum/realtime/server';
import type { WebSocketServer } from '@ieum/websocket';
import { DashboardPage } from './dashboard-page.js';
import { DEFAULT_INSPECTOR, FrameTail, type InspectorLimits } from './frame-tail.js';
import { RealtimeSource } from './realtime-source.js';
import type { TailTarget } from './sample.js';
import { Sampler } from './sampler.js';
import type { StatsSource } from './stats-source.js';
import { WebSocketSource } from './websocket-source.js';

/** The channel the samples of the watched server named `name` are published on. */
export const statsChannel = (name: string) => `stats:${name}`;
/** The name of the watched server when a single one is given. */
export const DEFAULT_TARGET_NAME = 'server';
/** Shortest token accepted, in characters. */
export const MIN_TOKEN_LENGTH = 16;

/** A server the dashboard can watch. */
export type DashboardTarget = RealtimeServer | WebSocketServer;

export interface DashboardOptions {
  /**
   * Secret the page must present (the dashboard shows traffic, frame contents included).
   * Required, at least 16 characters: `crypto.randomBytes(18).toString('base64url')`.
   */
  token: string;
  /** URL path the dashboard is served under. Default `/ieum-dashboard`. */
  path?: string;
  /**
   * HTTP server to serve on: its `upgrade` events for `<path>/realtime` are taken, and your
   * request handler calls `dashboard.handleRequest(req, res)` first. Without it, pass `port`.
   */
  server?: Server;
  /** Serve on a port of its own (e.g. a private one) instead of `server`. */
  port?: number;
  /** Host for `port`. Default `127.0.0.1`. */
  host?: string;
  /** Milliseconds between samples. Default 1,000; at least 100. */
  intervalMs?: number;
  /** Samples kept per watched server for a page that opens late. Default 300. */
  historySamples?: number;
  /** Busiest channels per sample. Default 20. */
  maxChannels?: number;
  /** Connections (fullest outbound queues first) per sample, for the inspector. Default 50. */
  maxConnections?: number;
  /** Frame inspector limits. */
  inspector?: Partial<InspectorLimits>;
}

interface Watched {
  source: StatsSource;
  sampler: Sampler;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Whether `target` looks like a RealtimeServer (instanceof fails across copies of the package). */
function isRealtimeServer(target: DashboardTarget): target is RealtimeServer {
  return 'taps' in target && 'adapter' in target;
}

function isServer(target: unknown): target is DashboardTarget {
  return typeof (target as { on?: unknown }).on === 'function';
}

export class Dashboard {
  /** The dashboard's own realtime server (not one it watches). */
  readonly realtime: RealtimeServer;
  readonly path: string;
  private readonly watched = new Map<string, Watched>();
  private readonly timer: NodeJS.Timeout;
  private readonly page: DashboardPage;
  private readonly ownServer: Server | undefined;
  private readonly adapter: MemoryAdapter;
  private readonly tails = new Map<Connection, Map<number, () => void>>();
  private nextTail = 1;
  private sampling = false;

  constructor(target: DashboardTarget | Record<string, DashboardTarget>, options: DashboardOptions) {
    if (typeof options?.token !== 'string' || options.token.length < MIN_TOKEN_LENGTH) {
      throw new TypeError(
        `Dashboard: pass a secret \`token\` of at least ${MIN_TOKEN_LENGTH} characters (the dashboard shows your traffic)`,
      );
    }
    if ((options.server === undefined) === (options.port === undefined)) {
      throw new TypeError('Dashboard: pass exactly one of `server` or `port`');
    }
    const path = (options.path ?? '/ieum-dashboard').replace(/\/+$/, '');
    if (!/^\/[\w\-/]*$/.test(path))
      throw new TypeError(`Dashboard: path must look like /ieum-dashboard (got ${path})`);
    this.path = path;
    const intervalMs = options.intervalMs ?? 1000;
    if (!(intervalMs >= 100)) throw new RangeError('Dashboard: intervalMs must be at least 100');
    const historySamples = options.historySamples ?? 300;
    const inspector = { ...DEFAULT_INSPECTOR, ...options.inspector };
    const expected = digest(options.token);

    const targets = isServer(target) ? { [DEFAULT_TARGET_NAME]: target } : target;
    for (const [name, t] of Object.entries(targets)) {
      if (!/^[\w-]{1,64}$/.test(name)) {
        throw new TypeError(`Dashboard: target names are 1-64 letters, digits, _ or - (got ${name})`);
      }
      const source = isRealtimeServer(t) ? new RealtimeSource(t) : new WebSocketSource(t);
      const sampler = new Sampler(source, {
        maxChannels: options.maxChannels ?? 20,
        maxConnections: options.maxConnections ?? 50,
      });
      this.watched.set(name, { source, sampler });
    }
    if (this.watched.size === 0) throw new TypeError('Dashboard: pass a server to watch');

    this.page = new DashboardPage(path);
    this.adapter = new MemoryAdapter({ history: { maxMessages: historySamples, maxAgeMs: 3_600_000 } });
    this.ownServer =
      options.port === undefined ? undefined : http.createServer((req, res) => this.serve(req, res));
    this.realtime = new RealtimeServer({
      server: options.server ?? this.ownServer!,
      path: `${path}/realtime`,
      httpFallback: false,
      metrics: false,
      adapter: this.adapter,
      authenticate: ({ token }) => {
        if (token === undefined || !timingSafeEqual(digest(token), expected)) {
          throw new Error('wrong or missing dashboard token');
        }
        return { user: 'dashboard' };
      },
      authorizeChannel: ({ channel, action }) =>
        action === 'subscribe' && channel.startsWith('stats:') && this.watched.has(channel.slice(6)),
      // A page that falls behind gets the newest samples, not a backlog (or a disconnect).
      outbound: { policy: 'drop' },
    });
    this.realtime.handle('targets', () => [...this.watched.keys()]);
    // The samples still in history, and the position to subscribe from: no gap, no repeat.
    this.realtime.handle('recent', async (name: unknown) => {
      if (typeof name !== 'string' || !this.watched.has(name)) {
        throw new RealtimeError('not-found', `no watched server named ${String(name)}`);
      }
      const channel = statsChannel(name);
      const { epoch, offset } = await this.adapter.position(channel);
      const h = await this.adapter.history(channel, { epoch, offset: Math.max(0, offset - historySamples) });
      return { epoch, offset, samples: h.ok ? h.entries.map((e) => e.d) : [] };
    });
    this.realtime.handle('tail', (request: unknown, connection) =>
      this.startTail(request, connection, inspector),
    );
    this.realtime.handle('untail', (id: unknown, connection) => {
      this.stopTail(connection, Number(id));
      return true;
    });
    this.realtime.on('disconnect', (connection) => {
      for (const stop of this.tails.get(connection)?.values() ?? []) stop();
      this.tails.delete(connection);
    });
    this.timer = setInterval(() => void this.publishSamples(), intervalMs);
    this.timer.unref();
    void this.publishSamples();
    this.ownServer?.listen(options.port, options.host ?? '127.0.0.1');
  }

  /** The names of the watched servers. */
  get targets(): string[] {
    return [...this.watched.keys()];
  }

  /** The listening port when serving on a port of its own. */
  get port(): number | undefined {
    return (this.ownServer?.address() as AddressInfo | null)?.port;
  }

  /** Resolves once the own server (with `port`) listens. */
  async listening(): Promise<void> {
    const server = this.ownServer;
    if (server && !server.listening) {
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
    }
  }

  /**
   * Serves the page and its scripts under `path`; returns false for other requests so your
   * handler goes on: `if (dashboard.handleRequest(req, res)) return;`.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return this.page.handle(req, res);
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    if (this.handleRequest(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`The dashboard is at ${this.path}/`);
  }

  private async publishSamples(): Promise<void> {
    // A sample that takes longer than the interval (a stalled event loop) is not stacked up.
    if (this.sampling) return;
    this.sampling = true;
    try {
      for (const [name, w] of this.watched) {
        const sample = await w.sampler.take();
        await this.realtime.publish(statsChannel(name), 'sample', sample);
      }
    } catch (error) {
      this.realtime.reportError(error as Error);
    } finally {
      this.sampling = false;
    }
  }

  private startTail(request: unknown, connection: Connection, limits: InspectorLimits): number {
    const r = (request ?? {}) as { source?: unknown; kind?: unknown; name?: unknown; id?: unknown };
    const watched = this.watched.get(typeof r.source === 'string' ? r.source : DEFAULT_TARGET_NAME);
    if (!watched) throw new RealtimeError('not-found', `no watched server named ${String(r.source)}`);
    let target: TailTarget;
    if (r.kind === 'channel' && typeof r.name === 'string' && r.name !== '')
      target = { kind: 'channel', name: r.name };
    else if (r.kind === 'connection' && typeof r.id === 'string') target = { kind: 'connection', id: r.id };
    else {
      throw new RealtimeError(
        'bad-request',
        'tail { source, kind: "channel", name } or { source, kind: "connection", id }',
      );
    }
    let mine = this.tails.get(connection);
    if (!mine) {
      mine = new Map();
      this.tails.set(connection, mine);
    }
    if (mine.size >= limits.maxTailsPerConnection) {
      throw new RealtimeError(
        'too-many-tails',
        `at most ${limits.maxTailsPerConnection} tails at once: untail one`,
      );
    }
    const id = this.nextTail++;
    const tail = new FrameTail(limits, (frame) => connection.emit('frame', { tail: id, ...frame }));
    let stop: () => void;
    try {
      stop = watched.source.tail(target, (dir, data, binary) => tail.push(dir, data, binary));
    } catch (error) {
      throw new RealtimeError('not-found', (error as Error).message);
    }
    mine.set(id, stop);
    return id;
  }

  private stopTail(connection: Connection, id: number): void {
    const mine = this.tails.get(connection);
    mine?.get(id)?.();
    mine?.delete(id);
  }

  /** Stops sampling and tails, closes the dashboard's connections (and its own port). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const mine of this.tails.values()) for (const stop of mine.values()) stop();
    this.tails.clear();
    for (const w of this.watched.values()) {
      w.sampler.stop();
      w.source.close();
    }
    await this.realtime.close();
    await this.adapter.close();
    const server = this.ownServer;
    if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
  }
}

/**
 * Mounts the live dashboard on `target`, or on several servers by name (`{ chat: rt, game:
 * gameRt }`: the page has a picker). Opt-in: refuses to start without a `token`. With `server`,
 * route requests first: `if (dashboard.handleRequest(req, res)) return;`.
 */
export function mountDashboard(
  target: DashboardTarget | Record<string, DashboardTarget>,
  options: DashboardOptions,
): Dashboard {
  return new Dashboard(target, options);
}
