// HTTP fallbacks over Redis against hostile clients: requests with unknown session ids must not
// create keys (each used to leave a channel hash with a 24 h TTL), and POSTs to a closed session
// must not be stored in its up channel.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { RealtimeServer } from '@ieum/realtime/server';
import { RedisAdapter } from '../src/index.js';
import { countKeys, deleteKeys, requireRedis, testPrefix } from './helpers.js';

const url = await requireRedis();

describe('HTTP fallbacks over Redis against hostile clients', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  async function start(keyPrefix: string) {
    const adapter = new RedisAdapter({ url, keyPrefix });
    const server = new RealtimeServer({ port: 0, host: '127.0.0.1', adapter });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    cleanup.push(async () => {
      await server.close();
      await adapter.close();
      await deleteKeys(keyPrefix);
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/realtime/http`;
  }

  it('creates no Redis keys for unknown session ids', { timeout: 10_000 }, async () => {
    const keyPrefix = testPrefix('fallback-unknown');
    const base = await start(keyPrefix);
    for (let i = 0; i < 20; i++) {
      const s = `${String(i).padStart(2, '0')}${'q'.repeat(30)}`;
      assert.equal((await fetch(`${base}/send?s=${s}`, { method: 'POST', body: '{}' })).status, 404);
      assert.equal((await fetch(`${base}/close?s=${s}`, { method: 'POST' })).status, 404);
      assert.equal((await fetch(`${base}/poll?s=${s}`)).status, 404);
      assert.equal((await fetch(`${base}/sse?s=${s}`)).status, 404);
    }
    assert.equal(await countKeys(keyPrefix), 0);
  });

  it('stores nothing in Redis for POSTs to a closed session', { timeout: 10_000 }, async () => {
    const keyPrefix = testPrefix('fallback-closed');
    const base = await start(keyPrefix);
    const opened = await fetch(`${base}/open`, {
      method: 'POST',
      body: JSON.stringify({ t: 'hello', v: 1, cid: 'c' }),
    });
    const { s } = (await opened.json()) as { s: string };
    assert.equal((await fetch(`${base}/close?s=${s}`, { method: 'POST' })).status, 204);
    const keys = await countKeys(keyPrefix);
    const big = 'x'.repeat(512 * 1024);
    for (let i = 0; i < 8; i++) {
      assert.equal((await fetch(`${base}/send?s=${s}`, { method: 'POST', body: big })).status, 410);
    }
    assert.equal(await countKeys(keyPrefix), keys, 'no new keys');
    const adapter = new RedisAdapter({ url, keyPrefix });
    try {
      const { epoch, offset } = await adapter.position(`$s:${s}:up`);
      assert.equal(offset, 0, 'nothing in the up channel');
      assert.equal(epoch.length > 0, true);
    } finally {
      await adapter.close();
    }
  });
});
