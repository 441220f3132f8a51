// ws 8 compatibility: closing a client that is connecting, or whose connection failed.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { recordLifecycle, type WsPeer, wsPeer } from './helpers.js';

/** A port with nothing listening on it (connections are refused). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ws compat: close() and terminate() of a client that never opened', { timeout: 15_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  for (const method of ['close', 'terminate'] as const) {
    it(`${method}() in the 'error' listener of a refused connection is a no-op (the reconnect pattern)`, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${await closedPort()}`);
      const { events, closed } = recordLifecycle(ws);
      let thrown: unknown;
      ws.on('error', () => {
        try {
          ws[method]();
          ws[method]();
        } catch (error) {
          thrown = error;
        }
      });
      await closed;
      assert.equal(thrown, undefined, `${method}() threw in the 'error' listener`);
      assert.deepEqual(events, ['error', 'close 1006']);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });

    it(`${method}() in the 'close' listener of a refused connection is a no-op`, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${await closedPort()}`);
      ws.on('error', () => {});
      await new Promise((resolve) => ws.once('close', resolve));
      ws[method]();
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });

    it(`${method}() while CONNECTING emits 'error' then a single 'close' with 1006`, async () => {
      const ws = new WebSocket(peer.url);
      const { events, closed } = recordLifecycle(ws);
      let message = '';
      ws.on('error', (error) => {
        message = error.message;
      });
      ws[method]();
      assert.equal(ws.readyState, WebSocket.CLOSING);
      // As in ws, both events come on a later tick, not from inside the call.
      assert.deepEqual(events, []);
      ws[method]();
      await closed;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(events, ['error', 'close 1006']);
      assert.equal(message, 'WebSocket was closed before the connection was established');
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });

    it(`${method}() in the 'upgrade' listener: the client never opens and its socket is closed`, async () => {
      const serverSide = waitFor(peer.wss, 'connection');
      const ws = new WebSocket(peer.url);
      const { events, closed } = recordLifecycle(ws);
      ws.on('upgrade', () => ws[method]());
      const [server] = (await serverSide) as [import('ws').WebSocket];
      await closed;
      assert.deepEqual(events, ['upgrade', 'error', 'close 1006']);
      // The server sees the TCP connection go away.
      await waitFor(server, 'close');
    });
  }

  it('without an error listener, closing while CONNECTING does not crash the process', async () => {
    const ws = new WebSocket(peer.url);
    const { events, closed } = recordLifecycle(ws);
    ws.removeAllListeners('error');
    ws.close();
    await closed;
    assert.deepEqual(events, ['close 1006']);
  });
});
