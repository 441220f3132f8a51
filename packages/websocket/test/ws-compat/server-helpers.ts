// Helpers for the ws 8 compatibility tests of WebSocketServer: servers closed after each test,
// raw HTTP exchanges, and a ws 8 server answering the same request (the reference).
import type { AddressInfo } from 'node:net';
import { afterEach } from 'node:test';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocketServer } from '../../src/index.js';
import { rawConnect, waitFor } from '../helpers/net.js';

const open: { close(cb?: () => void): void }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** Closes `server` after the current test (for servers the test does not close itself). */
export function closeAfterTest(server: { close(cb?: () => void): void }): void {
  open.push(server);
}

/** A standalone ieum server on 127.0.0.1 and a free port, closed after the test. */
export async function listen(
  options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {},
): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  closeAfterTest(wss);
  await waitFor(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

/** A standalone ws 8 server, the reference for "as ws answers it", closed after the test. */
export async function listenWs(): Promise<number> {
  const wss = new WsServer({ port: 0, host: '127.0.0.1' });
  closeAfterTest(wss);
  await waitFor(wss, 'listening');
  return (wss.address() as AddressInfo).port;
}

/** Writes `request` on a raw TCP connection; resolves with the response head once it is complete. */
export async function exchange(port: number, request: string | Buffer, ms = 3000): Promise<string> {
  const raw = await rawConnect(port);
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`no response head within ${ms} ms: ${JSON.stringify(String(raw.received()))}`)),
        ms,
      );
      const check = (): void => {
        const text = raw.received().toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end === -1) return;
        clearTimeout(timer);
        resolve(text.slice(0, end));
      };
      raw.socket.on('data', check);
      raw.ended.then(() => {
        check();
        clearTimeout(timer);
        reject(new Error(`closed without a response head: ${JSON.stringify(String(raw.received()))}`));
      });
      raw.socket.write(request);
    });
  } finally {
    raw.socket.destroy();
  }
}

/** The value of header `name` in a response head, or undefined. */
export function headerOf(head: string, name: string): string | undefined {
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** The status code of a response head. */
export function statusOf(head: string): number {
  return Number(head.split(' ')[1]);
}
