// RFC 6455 §1.3 / §4.1 / §4.2.1: Sec-WebSocket-Key and Sec-WebSocket-Accept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeAcceptKey, generateKey, isValidKey, WEBSOCKET_GUID } from '../../src/protocol/index.js';

describe('RFC 6455 §1.3 accept key', () => {
  it('uses the GUID of §1.3', () => {
    assert.equal(WEBSOCKET_GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });

  it('turns the RFC example key dGhlIHNhbXBsZSBub25jZQ== into s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
    assert.equal(computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('RFC 6455 §4.1 item 7: generating a key', () => {
  it('base64-encodes exactly the 16 bytes the injected randomness wrote', () => {
    const key = generateKey((b) => {
      for (let i = 0; i < b.length; i++) b[i] = i;
    });
    assert.equal(key, Buffer.from([...Array(16).keys()]).toString('base64'));
    assert.equal(key, 'AAECAwQFBgcICQoLDA0ODw==');
    assert.equal(isValidKey(key), true);
  });

  it('asks for 16 bytes', () => {
    let asked = 0;
    generateKey((b) => {
      asked = b.length;
    });
    assert.equal(asked, 16);
  });
});

describe('RFC 6455 §4.2.1 item 5: validating a key', () => {
  it('accepts base64 of 16 bytes', () => {
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ=='), true);
    assert.equal(isValidKey('/////////////////////w=='), true);
  });

  for (const [label, key] of [
    ['empty', ''],
    ['15 bytes', Buffer.alloc(15).toString('base64')],
    ['17 bytes', Buffer.alloc(17).toString('base64')],
    ['no padding', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['a character outside base64', 'dGhlIHNhbXBsZSBub25jZ!=='],
    ['non-canonical final character (low bits set)', 'dGhlIHNhbXBsZSBub25jZR=='],
    ['url-safe alphabet', '-_-_-_-_-_-_-_-_-_-_-w=='],
    ['surrounding whitespace', ' dGhlIHNhbXBsZSBub25jZQ=='],
    ['two keys joined', 'dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=='],
  ] as const) {
    it(`rejects ${label}`, () => {
      assert.equal(isValidKey(key), false);
    });
  }
});
