// HTTP fallback sessions (SSE, long polling) when Redis restarts empty: their channels and those
// they subscribe to start new epochs. The client must recover or get `reset`, at once (not after a
// heartbeat timeout), and never miss an acknowledged message silently. Each test runs its own
// redis-server, so it can kill and restart it; the shared one is untouched.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { RealtimeClient, type SubscribeResult } from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { RedisAdapter } from '../src/index.js';
import { type OwnRedis, ownRedis as startRedis, until } from './helpers.js';

const started: OwnRedis[] = [];
after(() => Promise.all(started.map((r) => r.stop())));

describe('HTTP fallback sessions when Redis restarts empty', () => {
  for (const transport of ['sse', 'polling'] as const) {
    it(`a ${transport} client gets reset at once, then every later message`, {
      timeout: 30_000,
    }, async () => {
      const redis = await startRedis();
      started.push(redis);
      const adapter = new RedisAdapter({ url: redis.url, unavailableTimeoutMs: 5000, presenceTtlMs: 600 });
      adapter.on('error', () => {});
      // A heartbeat far beyond the test's timeout: only the fix can get the client out in time.
      const server = new RealtimeServer({
        port: 0,
        host: '127.0.0.1',
        adapter,
        rateLimit: false,
        heartbeatIntervalMs: 120_000,
      });
      server.on('error', () => {});
      await new Promise((r) => server.once('listening', r));
      const port = (server.address() as AddressInfo).port;
      const client = new RealtimeClient(`ws://127.0.0.1:${port}/realtime`, {
        transports: [transport],
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      });
      const room = client.channel<Record<string, number>>('room');
      const got: string[] = [];
      const resets: Array<{ reason: string; at: number }> = [];
      let resetTo: SubscribeResult | undefined;
      room.on('message', (m) => got.push(`${m.epoch}:${m.offset}:${m.data}`));
      room.on('reset', (reason) => resets.push({ reason, at: got.length }));
      room.on('subscribed', (r) => {
        if (r.recovered === false) resetTo = r;
      });
      try {
        await room.subscribe();
        const acks: Array<{ epoch: string; offset: number }> = [];
        const publish = async (d: number) => acks.push(await server.publish('room', 'e', d));
        for (let d = 1; d <= 3; d++) await publish(d);
        await until(() => got.length === 3, 5000, 'the first messages');
        await redis.kill();
        await redis.start();
        await until(() => adapter.status === 'ready', 10_000, 'the adapter back');
        // Published until the client has reset: each one is in the new epoch.
        let d = 4;
        const deadline = Date.now() + 10_000;
        while (resets.length === 0) {
          assert.ok(Date.now() < deadline, `a reset within 10 s (got ${got.join(' ')})`);
          await publish(d++);
          await new Promise((r) => setTimeout(r, 50));
        }
        const last = d;
        await publish(last);
        await until(() => got.at(-1)?.endsWith(`:${last}`) ?? false, 5000, 'live messages after the reset');
        assert.deepEqual(resets, [{ reason: 'epoch-changed', at: 3 }], 'one reset, after the first three');
        assert.equal(new Set(got).size, got.length, 'no repeats');
        for (const ack of acks) {
          const received = got.some((g) => g.startsWith(`${ack.epoch}:${ack.offset}:`));
          const covered = resetTo && (ack.epoch !== resetTo.ep || ack.offset <= resetTo.off);
          assert.ok(received || covered, `${ack.epoch}:${ack.offset} was neither received nor reset`);
        }
      } finally {
        client.close();
        await server.close();
        await adapter.close();
        await redis.stop();
      }
    });
  }
});
