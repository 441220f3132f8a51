// ws 8 compatibility: WebSocketServer.close().
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import WsClient from 'ws';
import { type WebSocket, WebSocketServer } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { listen } from './server-helpers.js';

describe('ws 8: WebSocketServer.close()', () => {
  it("emits 'close' once when called twice, only after the HTTP server has closed", {
    timeout: 10_000,
  }, async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await waitFor(wss, 'listening');
    // An open connection keeps the standalone HTTP server from closing until it ends.
    const client = new WsClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    await waitFor(client, 'open');
    let closeEvents = 0;
    wss.on('close', () => closeEvents++);
    const callbacks = [
      new Promise<unknown>((resolve) => wss.close(resolve)),
      new Promise<unknown>((resolve) => wss.close(resolve)),
    ];
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closeEvents, 0, "'close' came before the HTTP server closed");
    client.terminate();
    assert.deepEqual(await Promise.all(callbacks), [undefined, undefined]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closeEvents, 1);
  });

  it('calls back with "The server is not running" when called after the server closed', {
    timeout: 10_000,
  }, async () => {
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    const error = await new Promise<Error | undefined>((resolve) => wss.close(resolve));
    assert.ok(error instanceof Error);
    assert.equal(error.message, 'The server is not running');
  });

  it("emits 'close' in server mode only once every tracked client has closed", {
    timeout: 10_000,
  }, async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const wss = new WebSocketServer({ server });
    const connected = waitFor<[WebSocket]>(wss, 'connection');
    const client = new WsClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await waitFor(client, 'open');
    const [ws] = await connected;
    let closed = false;
    const done = new Promise<void>((resolve) =>
      wss.close(() => {
        closed = true;
        resolve();
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closed, false, "'close' came while a client was still open");
    ws.close();
    await done;
    assert.equal(wss.clients.size, 0);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers 503 to an upgrade that completes after close() was called', { timeout: 10_000 }, async () => {
    let verifying: (release: () => void) => void = () => {};
    const verified = new Promise<() => void>((resolve) => {
      verifying = resolve;
    });
    const { wss, url } = await listen({ verifyClient: (_info, cb) => verifying(() => cb(true)) });
    const client = new WsClient(url);
    client.on('error', () => {});
    const response = new Promise<number>((resolve) =>
      client.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    const release = await verified;
    wss.close();
    release();
    assert.equal(await response, 503);
  });
});
