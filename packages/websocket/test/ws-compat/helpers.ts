// Peers for the ws-compat tests: a real `ws` server, and a plain HTTP server for redirects.
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import { waitFor } from '../helpers/net.js';

export interface WsPeer {
  wss: WsServer;
  port: number;
  url: string;
  /** The upgrade requests the server accepted, in order. */
  requests: IncomingMessage[];
  close(): Promise<void>;
}

/** A `ws` server on 127.0.0.1 that echoes every message and records the handshake requests. */
export async function wsPeer(options: ConstructorParameters<typeof WsServer>[0] = {}): Promise<WsPeer> {
  const wss = new WsServer({ port: 0, host: '127.0.0.1', ...options });
  const requests: IncomingMessage[] = [];
  wss.on('connection', (ws, req) => {
    requests.push(req);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  if (options.server === undefined && options.noServer !== true) await waitFor(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** An HTTP server answering every request with `status` and `Location: location(req)`. */
export async function redirector(
  status: number,
  location: (req: IncomingMessage) => string,
): Promise<{ server: http.Server; port: number; requests: IncomingMessage[]; close(): Promise<void> }> {
  const requests: IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    res.writeHead(status, { Location: location(req) });
    res.end();
  });
  // An upgrade request goes to 'upgrade' when listened to: answer it the same way.
  server.on('upgrade', (req: IncomingMessage, socket) => {
    requests.push(req);
    socket.end(`HTTP/1.1 ${status} Redirect\r\nLocation: ${location(req)}\r\nContent-Length: 0\r\n\r\n`);
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Records the order of a client's lifecycle events (and the close code) until 'close'. */
export function recordLifecycle(ws: NodeJS.EventEmitter): { events: string[]; closed: Promise<void> } {
  const events: string[] = [];
  for (const name of ['open', 'upgrade', 'error']) ws.on(name, () => events.push(name));
  const closed = new Promise<void>((resolve) => {
    ws.on('close', (code: number) => {
      events.push(`close ${code}`);
      // Let a second 'close', if any, be recorded before the test looks.
      setImmediate(resolve);
    });
  });
  return { events, closed };
}
