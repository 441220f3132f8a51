// ws 8 compatibility: subprotocol selection by WebSocketServer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WsClient from 'ws';
import { upgradeRequest, waitFor } from '../helpers/net.js';
import { exchange, headerOf, listen, statusOf } from './server-helpers.js';

describe('ws 8: subprotocol selection', () => {
  it("selects the client's first subprotocol when the server has no handleProtocols", {
    timeout: 10_000,
  }, async () => {
    const { url } = await listen();
    const client = new WsClient(url, ['graphql-transport-ws', 'graphql-ws']);
    await waitFor(client, 'open');
    assert.equal(client.protocol, 'graphql-transport-ws');
    client.terminate();
  });

  it('calls handleProtocols only when the client offers subprotocols, and selects none without an offer', {
    timeout: 10_000,
  }, async () => {
    let calls = 0;
    const { url } = await listen({
      handleProtocols: () => {
        calls++;
        return 'x';
      },
    });
    const client = new WsClient(url);
    await waitFor(client, 'open');
    assert.equal(client.protocol, '');
    assert.equal(calls, 0);
    client.terminate();
  });

  for (const [name, value] of [
    ['undefined', undefined],
    ['null', null],
    ["''", ''],
    ['false', false],
  ] as const) {
    it(`treats handleProtocols returning ${name} as "no subprotocol", without an error event`, {
      timeout: 10_000,
    }, async () => {
      const { wss, port } = await listen({ handleProtocols: () => value as never });
      // No 'error' listener on the server: an error event would crash the test process.
      assert.equal(wss.listenerCount('error'), 0);
      const head = await exchange(port, upgradeRequest('/', ['Sec-WebSocket-Protocol: a, b']));
      assert.equal(statusOf(head), 101, head);
      assert.equal(headerOf(head, 'Sec-WebSocket-Protocol'), undefined);
    });
  }
});
