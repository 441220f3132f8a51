// Mounts the collaborative editor on an HTTP server: the page under `basePath`, and the OT service
// on a RealtimeServer (its own at `<basePath>/realtime`, or one you share between apps).
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { type Adapter, type Connection, RealtimeError, RealtimeServer } from '@ieum/realtime/server';
import { build } from 'esbuild';
import { DocumentService, type DocumentServiceOptions } from './document-service.js';
import type { DocumentStore } from './document-store.js';
import { parseDocName, parseSubmit } from './parse-submit.js';
import { docChannel, EditorEvents } from './protocol.js';

/** Display names the editor's own RealtimeServer accepts as tokens. */
export const USER_NAME = /^[\p{L}\p{N}_-]{1,24}$/u;

export interface EditorAppOptions {
  /** The HTTP server: the editor adds an upgrade listener when it creates its own RealtimeServer. */
  server: http.Server;
  /**
   * A RealtimeServer shared with other apps. Its `authenticate` must name a user, and its
   * `authorizeChannel` should let clients subscribe to, but never publish on, `editor:` channels
   * (see `editorAuthorizeChannel`). Default: one of the editor's own, at `<basePath>/realtime`,
   * where the token is the display name.
   */
  realtime?: RealtimeServer;
  /** With `realtime`: the URL path of its endpoint, which the page connects to. Default `/realtime`. */
  realtimePath?: string;
  /** URL prefix of the page, e.g. `/editor`. Default `''` (the page at `/`). */
  basePath?: string;
  /** Where documents survive restarts. Default: in memory. */
  store?: DocumentStore;
  /** Adapter of the editor's own RealtimeServer (e.g. a `RedisAdapter`). */
  adapter?: Adapter;
  /** Limits, passed to `DocumentService` (see its options for defaults). */
  limits?: DocumentServiceLimits;
}

/** The `DocumentService` options that are limits. */
export type DocumentServiceLimits = Pick<
  DocumentServiceOptions,
  'keepOps' | 'snapshotEvery' | 'maxDocumentChars' | 'maxOpComponents' | 'maxOpsPerReply' | 'maxOpenDocuments'
>;

export interface EditorApp {
  realtime: RealtimeServer;
  service: DocumentService;
  /** Serves the page, its script and favicon (and the realtime HTTP fallbacks); false for other URLs. */
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** Closes the editor's own RealtimeServer (not a shared one) and stores a snapshot of every document. */
  close(): Promise<void>;
}

/**
 * Clients may subscribe to the editor's channels; only the server publishes on them. Cursors and
 * selections are each connection's presence state there (bounded by `maxPresenceStateBytes`).
 */
export function editorAuthorizeChannel(ctx: { channel: string; action: 'subscribe' | 'publish' }): boolean {
  return ctx.action === 'subscribe' && /^editor:doc:[a-z0-9-]{1,64}$/.test(ctx.channel);
}

/** Bundles the page script (and the realtime client, ot-text-unicode) for browsers. */
async function bundlePage(): Promise<Uint8Array> {
  const out = await build({
    entryPoints: [new URL('./page.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['ieum-source'],
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.contents;
}

/** Mounts the editor. Resolves once the page script is bundled. */
export async function createEditorApp(options: EditorAppOptions): Promise<EditorApp> {
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  if (base !== '' && !/^\/[A-Za-z0-9/_-]+$/.test(base))
    throw new TypeError(`basePath must look like /editor, got ${base}`);
  const ownRealtime = options.realtime === undefined;
  const realtimePath = ownRealtime ? `${base}/realtime` : (options.realtimePath ?? '/realtime');
  const rt =
    options.realtime ??
    new RealtimeServer({
      server: options.server,
      path: realtimePath,
      ...(options.adapter ? { adapter: options.adapter } : {}),
      authenticate: ({ token }) => {
        if (!token || !USER_NAME.test(token)) throw new Error('pick a name: 1-24 letters, digits, _ or -');
        return { user: token };
      },
      authorizeChannel: editorAuthorizeChannel,
      // Typing bursts are composed client side (one operation in flight), cursor presence throttled.
      rateLimit: { messagesPerSecond: 50, burst: 100 },
    });
  const service = new DocumentService({
    ...(options.store ? { store: options.store } : {}),
    ...options.limits,
    publish: (doc, op) => rt.publish(docChannel(doc), 'op', op),
    onError: (error) => rt.reportError(error),
  });
  const needUser = (conn: Connection): string => {
    if (conn.user === undefined)
      throw new RealtimeError('forbidden', 'the editor needs an authenticated user');
    return conn.user;
  };

  rt.handle(EditorEvents.open, (data: unknown, conn: Connection) => {
    needUser(conn);
    return service.open(parseDocName((data as { doc?: unknown } | null)?.doc));
  });
  rt.handle(EditorEvents.submit, (data: unknown, conn: Connection) =>
    service.submit(parseSubmit(data, service.maxOpComponents), needUser(conn)),
  );
  rt.handle(EditorEvents.ops, async (data: unknown, conn: Connection) => {
    needUser(conn);
    const r = (data ?? {}) as { doc?: unknown; since?: unknown };
    if (typeof r.since !== 'number' || !Number.isSafeInteger(r.since) || r.since < 0) {
      throw new RealtimeError('bad-request', 'since must be a version');
    }
    return { ops: await service.opsSince(parseDocName(r.doc), r.since) };
  });

  const page = readFileSync(new URL('../index.html', import.meta.url), 'utf8')
    .replaceAll('%BASE%', base)
    .replaceAll('%REALTIME%', realtimePath);
  const favicon = readFileSync(new URL('../favicon.svg', import.meta.url));
  const script = await bundlePage();

  return {
    realtime: rt,
    service,
    handleRequest(req, res) {
      if (ownRealtime && rt.handleRequest(req, res)) return true;
      const path = (req.url ?? '').split('?')[0];
      if (path === `${base}/` || path === `${base}/index.html` || (base !== '' && path === base)) {
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
          .end(page);
      } else if (path === `${base}/editor.js`) {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
      } else if (path === `${base}/favicon.svg` || path === `${base}/favicon.ico`) {
        res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(favicon);
      } else return false;
      return true;
    },
    async close() {
      if (ownRealtime) await rt.close();
      await service.close();
    },
  };
}
