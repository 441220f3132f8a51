// ws 8 compatibility: verifyClient refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { upgradeRequest } from '../helpers/net.js';
import { exchange, headerOf, listen, statusOf } from './server-helpers.js';

describe('ws 8: verifyClient', () => {
  it('answers cb(false, 503, "Busy", { "Retry-After": 120 }) with that status and numeric header', {
    timeout: 10_000,
  }, async () => {
    const { port } = await listen({
      verifyClient: (_info, cb) => cb(false, 503, 'Busy', { 'Retry-After': 120 }),
    });
    const raw = await exchange(port, upgradeRequest('/'));
    assert.equal(statusOf(raw), 503, raw);
    assert.equal(headerOf(raw, 'Retry-After'), '120');
  });

  it('answers cb(false) with 401', { timeout: 10_000 }, async () => {
    const { port } = await listen({ verifyClient: (_info, cb) => cb(false) });
    assert.equal(statusOf(await exchange(port, upgradeRequest('/'))), 401);
  });

  it("answers a verifyClient refusal even when a 'wsClientError' listener is attached", {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await listen({ verifyClient: (_info, cb) => cb(false, 429, 'Slow down') });
    let handedOver = 0;
    wss.on('wsClientError', () => handedOver++);
    assert.equal(statusOf(await exchange(port, upgradeRequest('/'))), 429);
    assert.equal(handedOver, 0);
  });
});
