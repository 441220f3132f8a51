// Mounts the realtime chat on an HTTP server: the page under `basePath` and a RealtimeServer of
// its own at `<basePath>/realtime` (with the SSE and long-polling fallbacks under it).
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { type Adapter, RealtimeError, RealtimeServer } from '@ieum/realtime/server';
import { build } from 'esbuild';

const MAX_TEXT_CHARS = 2000;
const NAME = /^[\p{L}\p{N}_-]{1,24}$/u;
const ROOM = /^[a-z0-9-]{1,32}$/;
const RECENT = 50;

export interface ChatLine {
  name: string;
  text: string;
  at: number;
}

/** The chat's events, shared by server and client (see EventMapShape). */
export interface ChatEvents {
  clientToServer: {
    'chat:recent': (room: string) => {
      epoch: string;
      offset: number;
      lines: Array<ChatLine & { offset: number }>;
    };
  };
}

export interface ChatAppOptions {
  /** The HTTP server: the chat takes its upgrades to `<basePath>/realtime`. */
  server: http.Server;
  /** URL prefix, e.g. `/chat`. Default `''` (the page at `/`). */
  basePath?: string;
  /** Where rooms live (e.g. a `RedisAdapter` shared by several processes). Default: memory. */
  adapter?: Adapter;
}

export interface ChatApp {
  readonly realtime: RealtimeServer<ChatEvents>;
  /** Serves the page, client script, icon and realtime fallbacks; false for other URLs. */
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** Closes the chat's connections (clients reconnect and recover) and its RealtimeServer. */
  close(): Promise<void>;
}

/** Mounts the chat. Resolves once the browser client is bundled. */
export async function createChatApp(options: ChatAppOptions): Promise<ChatApp> {
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  if (base !== '' && !/^\/[a-z0-9/_-]+$/i.test(base))
    throw new TypeError(`basePath must look like /chat (got ${base})`);
  const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replaceAll('%BASE%', base);
  const favicon = readFileSync(new URL('./favicon.svg', import.meta.url));
  // The browser client, bundled from the package (no Node code in it).
  const bundle = await build({
    entryPoints: [new URL('../../packages/realtime/src/client/index.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const clientJs = bundle.outputFiles[0]!.contents;
  const rt = new RealtimeServer<ChatEvents>({
    server: options.server,
    path: `${base}/realtime`,
    ...(options.adapter ? { adapter: options.adapter } : {}),
    // The "token" is just a nickname here; a real app would use jwtAuthenticator.
    authenticate: ({ token }) => {
      if (!token || !NAME.test(token)) throw new Error('pick a name: 1-24 letters, digits, _ or -');
      return { user: token };
    },
    authorizeChannel: ({ channel }) => channel.startsWith('room:') && ROOM.test(channel.slice(5)),
    rateLimit: { messagesPerSecond: 20, burst: 40 },
    // Clients publish { text }; the stored line gets the authenticated name and the server's time.
    beforePublish: ({ event, data, connection }) => {
      const text = (data as { text?: unknown } | null)?.text;
      if (event !== 'line' || typeof text !== 'string' || text.trim() === '') {
        throw new RealtimeError('bad-request', 'publish "line" with { text }');
      }
      return {
        name: connection.user!,
        text: text.trim().slice(0, MAX_TEXT_CHARS),
        at: Date.now(),
      } satisfies ChatLine;
    },
  });
  rt.handle('chat:recent', async (room) => {
    const ch = `room:${String(room)}`;
    if (!ROOM.test(String(room))) throw new RealtimeError('bad-request', 'room names are a-z, 0-9 and -');
    const { epoch, offset } = await rt.adapter.position(ch);
    const h = await rt.adapter.history(ch, { epoch, offset: Math.max(0, offset - RECENT) });
    const entries = h.ok ? h.entries : [];
    return {
      epoch,
      offset,
      lines: entries.map((e) => ({ ...(e.d as ChatLine), offset: e.off })),
    };
  });
  return {
    realtime: rt,
    handleRequest(req, res) {
      // The SSE and long-polling fallbacks (used when WebSocket is blocked on the way).
      if (rt.handleRequest(req, res)) return true;
      const path = (req.url ?? '').split('?')[0];
      if (base !== '' && path === base) {
        res.writeHead(308, { location: `${base}/` }).end();
      } else if (path === `${base}/` || path === `${base}/index.html`) {
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
          .end(page);
      } else if (path === `${base}/realtime-client.js`) {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(clientJs);
      } else if (path === `${base}/favicon.svg`) {
        res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(favicon);
      } else return false;
      return true;
    },
    close: () => rt.close(),
  };
}
