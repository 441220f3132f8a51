// Chat rooms on @ieum/realtime: http://localhost:8081. Each room is a channel; the page shows the
// last messages, who is online (presence), and survives network loss without losing a line
// (try: stop the server, restart it within a few seconds... messages sent meanwhile are queued).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Adapter, RealtimeError, RealtimeServer } from '@ieum/realtime/server';
import { RedisAdapter } from '@ieum/redis';
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

type Events = {
  'chat:recent': (room: string) => {
    epoch: string;
    offset: number;
    lines: Array<ChatLine & { offset: number }>;
  };
};

/** Starts the chat. Resolves once listening. */
export async function startRealtimeChat(options: { port?: number; host?: string; adapter?: Adapter } = {}) {
  const page = readFileSync(new URL('./index.html', import.meta.url));
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
  const server = http.createServer((req, res) => {
    // The SSE and long-polling fallbacks (used when WebSocket is blocked on the way).
    if (rt.handleRequest(req, res)) return;
    const path = req.url?.split('?')[0];
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else if (req.url === '/realtime-client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(clientJs);
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
  });
  const rt = new RealtimeServer<Events>({
    server,
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
  await new Promise<void>((resolve) => server.listen(options.port ?? 8081, options.host, resolve));
  return { server, rt, port: (server.address() as AddressInfo).port };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // With REDIS_URL, several copies of this process (different PORTs, behind nginx) share rooms,
  // history and presence: see docs/scale-out.md.
  const redis = process.env.REDIS_URL;
  const adapter = redis ? new RedisAdapter({ url: redis }) : undefined;
  const { port, rt } = await startRealtimeChat({
    port: Number(process.env.PORT ?? 8081),
    ...(adapter ? { adapter } : {}),
  });
  // Metrics are for your monitoring, not for visitors: served on a loopback-only port when asked.
  if (process.env.METRICS_PORT) {
    http.createServer(rt.metrics!.handler()).listen(Number(process.env.METRICS_PORT), '127.0.0.1');
  }
  console.log(
    `ieum realtime chat: open http://localhost:${port} (several tabs, several names)` +
      (redis ? `; sharing rooms through Redis at ${redis}` : ''),
  );
}
