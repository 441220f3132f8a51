// ws 8 compatibility: the WHATWG listener API of a WebSocket.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';

describe('ws compat: addEventListener', { timeout: 5_000 }, () => {
  it('ignores event types that are not open, message, close or error (as ws does)', () => {
    const ws = new WebSocket(null);
    ws.addEventListener('foo', () => {});
    ws.addEventListener('ping', () => {});
    assert.equal(ws.listenerCount('foo'), 0);
    assert.equal(ws.listenerCount('ping'), 0);
    for (const type of ['open', 'message', 'close', 'error'] as const) {
      ws.addEventListener(type, () => {});
      assert.equal(ws.listenerCount(type), 1, type);
    }
  });
});
