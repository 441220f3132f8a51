// ws 8 compatibility: the client's protocolVersion option (13, or draft hybi-08's 8).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { type WsPeer, wsPeer } from './helpers.js';

describe('ws compat: protocolVersion', { timeout: 10_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  it('protocolVersion 8 sends Sec-WebSocket-Version: 8 and the origin as Sec-WebSocket-Origin', async () => {
    const ws = new WebSocket(peer.url, { protocolVersion: 8, origin: 'https://app.example' });
    await waitFor(ws, 'open');
    const headers = peer.requests.at(-1)!.headers;
    assert.equal(headers['sec-websocket-version'], '8');
    assert.equal(headers['sec-websocket-origin'], 'https://app.example');
    assert.equal(headers.origin, undefined);
    ws.send('hybi-08');
    const [echo] = await waitFor<[Buffer]>(ws, 'message');
    assert.equal(echo.toString(), 'hybi-08');
    ws.terminate();
    await waitFor(ws, 'close');
  });

  it('protocolVersion 13 (the default) sends Origin', async () => {
    const ws = new WebSocket(peer.url, { protocolVersion: 13, origin: 'https://app.example' });
    await waitFor(ws, 'open');
    const headers = peer.requests.at(-1)!.headers;
    assert.equal(headers['sec-websocket-version'], '13');
    assert.equal(headers.origin, 'https://app.example');
    assert.equal(headers['sec-websocket-origin'], undefined);
    ws.terminate();
    await waitFor(ws, 'close');
  });

  for (const version of [0, 7, 12, 1000]) {
    it(`protocolVersion ${version} throws at once, naming the supported versions`, () => {
      assert.throws(() => new WebSocket(peer.url, { protocolVersion: version }), {
        code: 'WS_ERR_INVALID_ARGUMENT',
        message: `Unsupported protocol version: ${version} (supported versions: 8, 13)`,
      });
    });
  }
});
