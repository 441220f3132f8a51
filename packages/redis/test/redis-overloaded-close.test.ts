// A realtime server whose Redis is at maxmemory closes the client concerned with 1013 (try again
// later: the client backs off and retries), not 1011. Runs its own redis-server.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { DisconnectCode, RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { RedisAdapter } from '../src/index.js';
import { type OwnRedis, ownRedis as startRedis, until } from './helpers.js';

const started: OwnRedis[] = [];
after(() => Promise.all(started.map((r) => r.stop())));

describe('a realtime server on a Redis at maxmemory', () => {
  it('closes a client whose publish Redis refused (REDIS_ERR_OUT_OF_MEMORY) with 1013, not 1011', {
    timeout: 30_000,
  }, async () => {
    const redis = await startRedis(['--maxmemory-policy', 'noeviction']);
    started.push(redis);
    const adapter = new RedisAdapter({ url: redis.url, presenceTtlMs: 60_000 });
    adapter.on('error', () => {});
    const server = new RealtimeServer({ port: 0, host: '127.0.0.1', adapter });
    server.on('error', () => {});
    await new Promise((r) => server.once('listening', r));
    const admin = redis.client();
    try {
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime`;
      const ws = new WebSocket(url, 'ieum.v1.json');
      let closed: number | undefined;
      const got: Array<Record<string, unknown>> = [];
      ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString())));
      ws.on('close', (code: number) => {
        closed = code;
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'oom' }));
      await until(() => got.find((m) => m.t === 'welcome'), 5000, 'welcome');
      await admin.config('SET', 'maxmemory', '1'); // every write is refused from now on
      ws.send(JSON.stringify({ t: 'pub', id: 1, ch: 'new-channel', ev: 'e', d: 1, mid: '1' }));
      await until(() => closed !== undefined, 5000, 'the close');
      assert.equal(closed, DisconnectCode.TRY_AGAIN_LATER);
    } finally {
      await admin.config('SET', 'maxmemory', '0').catch(() => {});
      admin.disconnect();
      await server.close();
      await adapter.close();
      await redis.stop();
    }
  });
});
