// ws 8 compatibility: pause() and resume() do nothing while CONNECTING or once CLOSED, and
// isPaused keeps its last value after the connection closed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { type WsPeer, wsPeer } from './helpers.js';

describe('ws compat: pause() and resume() outside OPEN/CLOSING', { timeout: 10_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  it('pause() while CONNECTING does nothing: isPaused stays false and messages flow after open', async () => {
    const ws = new WebSocket(peer.url);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    ws.pause();
    assert.equal(ws.isPaused, false);
    await waitFor(ws, 'open');
    assert.equal(ws.isPaused, false);
    ws.send('flows');
    const [echo] = await waitFor<[Buffer]>(ws, 'message');
    assert.equal(echo.toString(), 'flows');
    ws.terminate();
    await waitFor(ws, 'close');
  });

  it('resume() while CONNECTING does not throw and leaves isPaused false', async () => {
    const ws = new WebSocket(peer.url);
    ws.resume();
    assert.equal(ws.isPaused, false);
    await waitFor(ws, 'open');
    ws.terminate();
    await waitFor(ws, 'close');
  });

  it('isPaused stays true once a paused connection has closed, and resume() then does nothing', async () => {
    const ws = new WebSocket(peer.url);
    await waitFor(ws, 'open');
    ws.pause();
    assert.equal(ws.isPaused, true);
    ws.terminate();
    await waitFor(ws, 'close');
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.equal(ws.isPaused, true);
    ws.resume();
    assert.equal(ws.isPaused, true);
  });

  it('pause() once CLOSED does nothing: isPaused stays false', async () => {
    const ws = new WebSocket(peer.url);
    await waitFor(ws, 'open');
    ws.close();
    await waitFor(ws, 'close');
    ws.pause();
    assert.equal(ws.isPaused, false);
  });

  it('pause() then resume() while OPEN toggles isPaused', async () => {
    const ws = new WebSocket(peer.url);
    await waitFor(ws, 'open');
    ws.pause();
    assert.equal(ws.isPaused, true);
    ws.resume();
    assert.equal(ws.isPaused, false);
    ws.terminate();
    await waitFor(ws, 'close');
  });
});
