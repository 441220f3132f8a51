// Chat rooms on @ieum/realtime: http://localhost:8081. Each room is a channel; the page shows the
// last messages, who is online (presence), and survives network loss without losing a line
// (try: stop the server, restart it within a few seconds... messages sent meanwhile are queued).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter } from '@ieum/realtime/server';
import { RedisAdapter } from '@ieum/redis';
import { createChatApp } from './chat-app.js';

export { type ChatApp, type ChatAppOptions, type ChatLine, createChatApp } from './chat-app.js';

/** Starts the chat on its own HTTP server. Resolves once listening. */
export async function startRealtimeChat(options: { port?: number; host?: string; adapter?: Adapter } = {}) {
  const server = http.createServer((req, res) => {
    if (!app.handleRequest(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
  });
  const app = await createChatApp({ server, ...(options.adapter ? { adapter: options.adapter } : {}) });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 8081, options.host ?? '127.0.0.1', resolve),
  );
  return { server, rt: app.realtime, port: (server.address() as AddressInfo).port };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // With REDIS_URL, several copies of this process (different PORTs, behind nginx) share rooms,
  // history and presence: see docs/scale-out.md.
  const redis = process.env.REDIS_URL;
  const adapter = redis ? new RedisAdapter({ url: redis }) : undefined;
  const { port, rt } = await startRealtimeChat({
    port: Number(process.env.PORT ?? 8081),
    host: process.env.HOST ?? '127.0.0.1',
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
