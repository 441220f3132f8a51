// Test helpers: a realtime server on an ephemeral port and Node clients using @ieum/websocket.
import type { AddressInfo } from 'node:net';
import { WebSocket } from '@ieum/websocket';
import {
  RealtimeClient,
  type RealtimeClientOptions,
  type WebSocketConstructor,
} from '../src/client/index.js';
import { RealtimeServer, type RealtimeServerOptions } from '../src/server/index.js';

export async function startServer(
  options: RealtimeServerOptions = {},
): Promise<{ server: RealtimeServer; url: string; port: number }> {
  const server = new RealtimeServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `ws://127.0.0.1:${port}/realtime`, port };
}

export function client(url: string, options: RealtimeClientOptions = {}): RealtimeClient {
  return new RealtimeClient(url, {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
}

export function until<T>(predicate: () => T | undefined | false, ms = 5000, what = 'condition'): Promise<T> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      const v = predicate();
      if (v) return resolve(v);
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

export const opened = (c: RealtimeClient) => until(() => c.state === 'open', 5000, 'client open');
