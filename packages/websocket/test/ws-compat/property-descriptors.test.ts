// ws 8 compatibility: the shape of WebSocket's properties, which code may inspect (for...in,
// Object.keys, spreading the prototype, descriptor checks in test suites).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';

const READY_STATES = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

describe('ws compat: ready-state constants and attributes are enumerable', { timeout: 5_000 }, () => {
  for (const [name, value] of Object.entries(READY_STATES)) {
    it(`WebSocket.${name} is an enumerable, read-only, non-configurable ${value}`, () => {
      assert.deepEqual(Object.getOwnPropertyDescriptor(WebSocket, name), {
        value,
        enumerable: true,
        writable: false,
        configurable: false,
      });
    });

    it(`WebSocket.prototype.${name} is an enumerable, read-only, non-configurable ${value}`, () => {
      assert.deepEqual(Object.getOwnPropertyDescriptor(WebSocket.prototype, name), {
        value,
        enumerable: true,
        writable: false,
        configurable: false,
      });
    });
  }

  it('assigning a ready-state constant does not change it', () => {
    assert.throws(() => {
      (WebSocket as unknown as Record<string, number>).OPEN = 7;
    }, TypeError);
    assert.equal(WebSocket.OPEN, 1);
  });

  for (const [name, settable] of [
    ['binaryType', true],
    ['bufferedAmount', false],
    ['extensions', false],
    ['isPaused', false],
    ['protocol', false],
    ['readyState', false],
    ['url', false],
  ] as const) {
    it(`${name} is an enumerable, configurable accessor of WebSocket.prototype${settable ? ' with a setter' : ''}`, () => {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      assert.ok(descriptor, `WebSocket.prototype has no own ${name}`);
      assert.equal(descriptor.enumerable, true);
      assert.equal(descriptor.configurable, true);
      assert.equal(typeof descriptor.get, 'function');
      assert.equal(typeof descriptor.set, settable ? 'function' : 'undefined');
    });
  }

  for (const name of ['onopen', 'onerror', 'onclose', 'onmessage']) {
    it(`${name} is an enumerable, configurable accessor of WebSocket.prototype itself`, () => {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      assert.ok(descriptor, `WebSocket.prototype has no own ${name}`);
      assert.equal(descriptor.enumerable, true);
      assert.equal(descriptor.configurable, true);
      assert.equal(typeof descriptor.get, 'function');
      assert.equal(typeof descriptor.set, 'function');
    });
  }

  it('the handler attributes still work through the redefined accessors', () => {
    const ws = new WebSocket(null);
    const handler = (): void => {};
    assert.equal(ws.onmessage, null);
    ws.onmessage = handler;
    assert.equal(ws.onmessage, handler);
    assert.equal(ws.listenerCount('message'), 1);
    ws.onmessage = null;
    assert.equal(ws.onmessage, null);
    assert.equal(ws.listenerCount('message'), 0);
  });

  it('for...in over a connection lists the ws attributes and constants', () => {
    const keys: string[] = [];
    for (const key in new WebSocket(null)) keys.push(key);
    for (const name of [
      'CONNECTING',
      'OPEN',
      'CLOSING',
      'CLOSED',
      'binaryType',
      'bufferedAmount',
      'extensions',
      'isPaused',
      'protocol',
      'readyState',
      'url',
      'onopen',
      'onerror',
      'onclose',
      'onmessage',
    ]) {
      assert.ok(keys.includes(name), `${name} is not enumerable`);
    }
  });
});
