// ws 8 compatibility: a WebSocketServer constructed without options fails with a clear error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocketServer } from '../../src/index.js';

describe('ws compat: new WebSocketServer() without options', { timeout: 5_000 }, () => {
  it('throws WS_ERR_INVALID_ARGUMENT naming the three modes (not a TypeError reading undefined)', () => {
    assert.throws(() => new (WebSocketServer as new () => WebSocketServer)(), {
      code: 'WS_ERR_INVALID_ARGUMENT',
      message: /port.*server.*noServer/,
    });
  });
});
