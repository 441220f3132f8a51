import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAcceptKey } from '../src/protocol/accept-key.js';
test('RFC 6455 §1.3 example key yields the example accept value', () => {
  assert.equal(computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});
