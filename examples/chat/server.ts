// Broadcast chat on @ieum/websocket alone (`npm run example:broadcast-chat`): one page at
// http://localhost:8080, a WebSocket endpoint at /ws.
// Every message a client sends is broadcast (encoded once) to everyone connected.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '@ieum/websocket';

const MAX_TEXT_CHARS = 2000;
const MAX_NAME_CHARS = 32;

export interface ChatServerOptions {
  port?: number;
  host?: string;
}

/** Starts the chat server. Resolves with the HTTP server and the WebSocket server once listening. */
export async function startChatServer(options: ChatServerOptions = {}) {
  const page = readFileSync(new URL('./index.html', import.meta.url));
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': page.length });
      res.end(page);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
  });
  const wss = new WebSocketServer({
    server,
    path: '/ws',
    heartbeatIntervalMs: 30_000,
    limits: { maxMessageBytes: 16 * 1024 },
  });
  let nextId = 1;
  const broadcast = (event: Record<string, unknown>): void => {
    wss.broadcast(JSON.stringify({ ...event, at: Date.now() }));
  };
  wss.on('connection', (ws) => {
    let name = `guest-${nextId++}`;
    ws.send(JSON.stringify({ type: 'welcome', name, online: wss.clients.size }));
    broadcast({ type: 'joined', name, online: wss.clients.size });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text only');
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return ws.send(JSON.stringify({ type: 'error', message: 'messages must be JSON' }));
      }
      const m = msg as { type?: unknown; text?: unknown; name?: unknown };
      if (m.type === 'rename' && typeof m.name === 'string' && m.name.trim() !== '') {
        const old = name;
        name = m.name.trim().slice(0, MAX_NAME_CHARS);
        broadcast({ type: 'renamed', from: old, name });
      } else if (m.type === 'say' && typeof m.text === 'string' && m.text.trim() !== '') {
        broadcast({ type: 'said', name, text: m.text.slice(0, MAX_TEXT_CHARS) });
      } else {
        ws.send(
          JSON.stringify({ type: 'error', message: 'expected {type:"say",text} or {type:"rename",name}' }),
        );
      }
    });
    ws.on('close', () => broadcast({ type: 'left', name, online: wss.clients.size }));
    ws.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 8080, options.host, resolve));
  return { server, wss, port: (server.address() as AddressInfo).port };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 8080);
  const { port: bound } = await startChatServer({ port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`ieum chat demo: open http://localhost:${bound} (WebSocket at ws://localhost:${bound}/ws)`);
}
