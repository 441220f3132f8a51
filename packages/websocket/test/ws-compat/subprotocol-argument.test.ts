// ws 8 compatibility: the subprotocol argument of the client constructor.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';

describe('ws compat: invalid subprotocol arguments throw', { timeout: 5_000 }, () => {
  for (const protocols of [null, '', 'a,b', ['a', 'a'], [null]]) {
    it(`new WebSocket(url, ${JSON.stringify(protocols)}) throws WS_ERR_INVALID_ARGUMENT`, () => {
      assert.throws(() => new WebSocket('ws://127.0.0.1:1', protocols as never), {
        code: 'WS_ERR_INVALID_ARGUMENT',
      });
    });
  }

  it('an options object in place of the subprotocols is still taken as the options', () => {
    assert.throws(() => new WebSocket('ws://127.0.0.1:1', { notAnOption: true } as never), {
      code: 'WS_ERR_INVALID_ARGUMENT',
      message: /notAnOption/,
    });
  });
});
