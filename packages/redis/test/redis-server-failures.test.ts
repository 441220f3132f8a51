// What RedisAdapter does when the Redis server itself fails: out of memory (maxmemory), restarted
// empty, or restarted from a snapshot older than what clients have seen. Every test runs its own
// redis-server (ownRedis) so it can reconfigure, kill and restart it; the shared one is untouched.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { RealtimeClient, type SubscribeResult } from '@ieum/realtime/client';
import { type PublishResult, RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { RedisAdapter, RedisAdapterError, RedisAdapterErrorCode } from '../src/index.js';
import { type OwnRedis, ownRedis as startRedis, tcpProxy, until } from './helpers.js';

// Each test stops its servers; this catches any a failure left behind.
const started: OwnRedis[] = [];
after(() => Promise.all(started.map((r) => r.stop())));
async function ownRedis(args: string[] = []): Promise<OwnRedis> {
  const redis = await startRedis(args);
  started.push(redis);
  return redis;
}

const usedMemory = async (r: ReturnType<Awaited<ReturnType<typeof ownRedis>>['client']>) =>
  Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);

describe('RedisAdapter when Redis is at maxmemory (noeviction)', () => {
  it('refuses a publish before it writes anything, with REDIS_ERR_OUT_OF_MEMORY, and stays under maxmemory', {
    timeout: 60_000,
  }, async () => {
    const redis = await ownRedis(['--maxmemory-policy', 'noeviction']);
    const admin = redis.client();
    // presenceTtlMs: no presence upkeep (a sweep) from this adapter during the test.
    const a = new RedisAdapter({ url: redis.url, history: { maxMessages: 100_000 }, presenceTtlMs: 60_000 });
    const crashed = new RedisAdapter({ url: redis.url, presenceTtlMs: 100 });
    try {
      const ch = 'oom';
      // The channel and a presence member exist: their next writes create no key first.
      await a.publish(ch, { ev: 'e', d: 0 });
      // A member that has expired by the time bob joins: a join sweeps it (a write) first.
      await crashed.presenceJoin(ch, 'carol', 'c9');
      const joined = Date.now();
      crashed.disconnectForTest();
      await a.presenceJoin(ch, 'alice', 'c0'); // after carol's: the keys keep alice's longer expiry
      const limit = (await usedMemory(admin)) + 4 * 1024 * 1024;
      await admin.config('SET', 'maxmemory', String(limit));
      const payload = 'x'.repeat(16 * 1024);
      let refused: RedisAdapterError | undefined;
      let accepted = 0;
      // 2,000 × 16 KiB is 8 times the headroom.
      for (let i = 1; i <= 2000 && !refused; i++) {
        try {
          await a.publish(ch, { ev: 'e', d: payload, mid: `m${i}` });
          accepted++;
        } catch (error) {
          refused = error as RedisAdapterError;
        }
      }
      const peak = await usedMemory(admin);
      assert.ok(refused, `a publish is refused (${accepted} accepted, ${peak} bytes used, limit ${limit})`);
      assert.equal(refused.code, RedisAdapterErrorCode.OUT_OF_MEMORY, String(refused));
      assert.match(refused.message, /out of memory \(maxmemory\): publish to "oom" refused, nothing written/);
      assert.ok(peak < limit + 256 * 1024, `Redis stays near maxmemory: ${peak} bytes, limit ${limit}`);

      // Usage hovers around the limit (buffers come and go): go well below it for what follows.
      await admin.config('SET', 'maxmemory', String(limit - 1024 * 1024));
      const before = await a.position(ch); // reads still work
      assert.equal(before.offset, accepted + 1);
      const oom = { code: RedisAdapterErrorCode.OUT_OF_MEMORY };
      await assert.rejects(a.publish(ch, { ev: 'e', d: 'small', mid: 'retry-me' }), oom);
      await assert.rejects(a.publish('new-channel', { ev: 'e', d: 1 }), oom);
      await assert.rejects(a.presenceJoin(ch, 'bob', 'c1'), oom);
      assert.deepEqual(await a.position(ch), before, 'the refused publishes took no offset');
      assert.deepEqual(await a.presenceList(ch), [{ user: 'alice' }], 'the refused join left nothing');
      assert.ok(Date.now() - joined > 100, 'carol had expired before the join');

      await admin.config('SET', 'maxmemory', '0');
      const retried = await a.publish(ch, { ev: 'e', d: 'small', mid: 'retry-me' });
      assert.deepEqual(
        { offset: retried.offset, duplicate: retried.duplicate },
        { offset: before.offset + 1, duplicate: false },
        'a retry with the same id is applied (once) when memory is back',
      );
    } finally {
      await a.close();
      admin.disconnect();
      await redis.stop();
    }
  });
});

/** Kills Redis and starts it again: empty, or from the snapshot saved by `SAVE` earlier. */
async function restart(redis: OwnRedis): Promise<void> {
  await redis.kill();
  await redis.start();
}

/** SAVE now: a later restart comes back to this point (an RDB older than what follows). */
async function snapshot(redis: OwnRedis): Promise<void> {
  const r = redis.client();
  try {
    await r.save();
  } finally {
    r.disconnect();
  }
}

describe('RedisAdapter when Redis restarts', () => {
  it('delivers every message of the new epoch after Redis restarts empty, and reports the old one lost', {
    timeout: 60_000,
  }, async () => {
    const redis = await ownRedis();
    // The subscriber reaches Redis through a proxy kept down until the restarted Redis has new
    // messages, so they are published before it catches up (as for any subscriber that is slower
    // to reconnect than a publisher).
    const proxy = await tcpProxy(() => [{ host: '127.0.0.1', port: redis.port }]);
    const sub = new RedisAdapter({ url: `redis://127.0.0.1:${proxy.port}` });
    const pub = new RedisAdapter({ url: redis.url, unavailableTimeoutMs: 5000 });
    const errors: Error[] = [];
    sub.on('error', (e) => errors.push(e));
    pub.on('error', () => {});
    try {
      const got: string[] = [];
      await sub.subscribe(
        'ch',
        (e) => e.type === 'message' && got.push(`${e.epoch}:${e.entry.off}:${e.entry.d}`),
      );
      const acks: PublishResult[] = [];
      for (let i = 1; i <= 3; i++) acks.push(await pub.publish('ch', { ev: 'e', d: i }));
      await until(() => got.length === 3, 5000, 'the first messages');
      await proxy.down();
      await until(() => sub.status === 'reconnecting', 5000, 'the subscriber to notice');
      await restart(redis);
      for (let i = 4; i <= 6; i++) acks.push(await pub.publish('ch', { ev: 'e', d: i }));
      const [old, fresh] = [acks[0]!.epoch, acks[3]!.epoch];
      assert.notEqual(fresh, old, 'a Redis that lost everything starts a new epoch');
      assert.deepEqual(
        acks.map((a) => a.offset),
        [1, 2, 3, 1, 2, 3],
      );
      await proxy.up();
      await until(() => got.length >= 6, 5000, "the new epoch's messages");
      acks.push(await pub.publish('ch', { ev: 'e', d: 7 }));
      await until(() => got.length >= 7, 5000, 'live again');
      assert.deepEqual(got, [
        `${old}:1:1`,
        `${old}:2:2`,
        `${old}:3:3`,
        `${fresh}:1:4`,
        `${fresh}:2:5`,
        `${fresh}:3:6`,
        `${fresh}:4:7`,
      ]);
      const lost = errors.find((e) => e instanceof RedisAdapterError);
      assert.equal((lost as RedisAdapterError | undefined)?.code, RedisAdapterErrorCode.MESSAGES_LOST);
      assert.match(lost!.message, /channel "ch" started over under a new epoch \(after \S+:3, now/);
    } finally {
      await sub.close();
      await pub.close();
      await proxy.close();
      await redis.stop();
    }
  });

  it('starts a new epoch when Redis comes back from an older snapshot: no offset is handed out twice', {
    timeout: 60_000,
  }, async () => {
    const redis = await ownRedis();
    const a = new RedisAdapter({ url: redis.url, unavailableTimeoutMs: 5000 });
    a.on('error', () => {});
    try {
      const got: string[] = [];
      await a.subscribe(
        'ch',
        (e) => e.type === 'message' && got.push(`${e.epoch}:${e.entry.off}:${e.entry.d}`),
      );
      const acks: PublishResult[] = [];
      for (let i = 1; i <= 40; i++) {
        if (i === 21) await snapshot(redis);
        acks.push(await a.publish('ch', { ev: 'e', d: i, mid: `m${i}` }));
      }
      await until(() => got.length === 40, 5000, 'the first 40');
      const old = acks[0]!.epoch;
      await restart(redis); // back to offset 20
      for (let i = 41; i <= 60; i++) acks.push(await a.publish('ch', { ev: 'e', d: i, mid: `m${i}` }));
      await until(() => got.length === 60, 5000, 'the next 20');
      const fresh = acks[40]!.epoch;
      assert.notEqual(fresh, old, 'the restored channel starts a new epoch');
      assert.deepEqual(
        acks.slice(40).map((x) => `${x.epoch}:${x.offset}`),
        Array.from({ length: 20 }, (_, i) => `${fresh}:${i + 1}`),
      );
      assert.equal(new Set(got.map((g) => g.split(':').slice(0, 2).join(':'))).size, 60, 'no position twice');
      assert.deepEqual(
        got.slice(40),
        Array.from({ length: 20 }, (_, i) => `${fresh}:${i + 1}:${i + 41}`),
      );
      for (const offset of [20, 30, 40]) {
        const h = await a.history('ch', { epoch: old, offset });
        assert.deepEqual([h.ok, !h.ok && h.reason], [false, 'epoch-changed'], `recovering from ${offset}`);
      }
    } finally {
      await a.close();
      await redis.stop();
    }
  });
});

/** A RealtimeServer on `adapter` and one client of it (reconnecting quickly). */
async function serverAndClient(adapter: RedisAdapter) {
  const server = new RealtimeServer({ port: 0, host: '127.0.0.1', adapter, rateLimit: false });
  server.on('error', () => {});
  await new Promise((r) => server.once('listening', r));
  const client = new RealtimeClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime`, {
    WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  });
  const room = client.channel<Record<string, number>>('room');
  const got: string[] = [];
  const resets: Array<{ reason: string; at: number }> = [];
  const seen: { resetTo?: SubscribeResult } = {};
  room.on('message', (m) => got.push(`${m.epoch}:${m.offset}:${m.data}`));
  room.on('reset', (reason) => resets.push({ reason, at: got.length }));
  room.on('subscribed', (r) => {
    if (r.recovered === false) seen.resetTo = r;
  });
  await room.subscribe();
  return {
    got,
    resets,
    seen,
    /** Each acknowledged message was received, or is at or before the position of the reset. */
    checkDeliveredOrReset(acks: PublishResult[]) {
      assert.equal(
        new Set(got.map((g) => g.split(':').slice(0, 2).join(':'))).size,
        got.length,
        'no repeats',
      );
      for (const ack of acks) {
        const received = got.some((g) => g.startsWith(`${ack.epoch}:${ack.offset}:`));
        const covered = seen.resetTo && (ack.epoch !== seen.resetTo.ep || ack.offset <= seen.resetTo.off);
        assert.ok(received || covered, `${ack.epoch}:${ack.offset} was neither received nor reset`);
      }
    },
    async close() {
      client.close();
      await server.close();
    },
  };
}

describe('realtime clients when Redis fails', () => {
  it('a subscribed client gets reset when its server was cut off from Redis longer than the history window', {
    timeout: 60_000,
  }, async () => {
    const redis = await ownRedis();
    const proxy = await tcpProxy(() => [{ host: '127.0.0.1', port: redis.port }]);
    const history = { maxMessages: 5 };
    const adapter = new RedisAdapter({ url: `redis://127.0.0.1:${proxy.port}`, history });
    const pub = new RedisAdapter({ url: redis.url, history });
    adapter.on('error', () => {});
    const c = await serverAndClient(adapter);
    try {
      const acks: PublishResult[] = [];
      const publish = async (d: number) => acks.push(await pub.publish('room', { ev: 'e', d }));
      await publish(1);
      await until(() => c.got.length === 1, 5000, 'the first message');
      await proxy.down();
      await until(() => adapter.status === 'reconnecting', 5000, 'the outage to be noticed');
      for (let d = 2; d <= 10; d++) await publish(d); // 2..5 are trimmed
      await proxy.up();
      await until(() => c.resets.length > 0, 10_000, 'a reset');
      await publish(11);
      await until(() => c.got.at(-1)?.endsWith(':11') ?? false, 5000, 'live messages after the reset');
      assert.deepEqual(c.resets, [{ reason: 'too-old', at: 1 }]);
      c.checkDeliveredOrReset(acks);
    } finally {
      await c.close();
      await adapter.close();
      await pub.close();
      await proxy.close();
      await redis.stop();
    }
  });

  for (const scenario of ['restarted empty', 'restored from an older snapshot'] as const) {
    it(`a subscribed client gets reset, then every later message, when Redis is ${scenario}`, {
      timeout: 60_000,
    }, async () => {
      const redis = await ownRedis();
      const adapter = new RedisAdapter({ url: redis.url, unavailableTimeoutMs: 5000 });
      const pub = new RedisAdapter({ url: redis.url, unavailableTimeoutMs: 5000 });
      adapter.on('error', () => {});
      pub.on('error', () => {});
      const c = await serverAndClient(adapter);
      try {
        const acks: PublishResult[] = [];
        const publish = async (d: number) => acks.push(await pub.publish('room', { ev: 'e', d }));
        for (let d = 1; d <= 4; d++) {
          if (d === 3 && scenario !== 'restarted empty') await snapshot(redis);
          await publish(d);
        }
        await until(() => c.got.length === 4, 5000, 'the first messages');
        await restart(redis);
        for (let d = 5; d <= 6; d++) await publish(d);
        await until(() => c.resets.length > 0, 10_000, 'a reset');
        await publish(7);
        await until(() => c.got.at(-1)?.endsWith(':7') ?? false, 5000, 'live messages after the reset');
        assert.deepEqual(c.resets, [{ reason: 'epoch-changed', at: 4 }], 'one reset, after the first four');
        c.checkDeliveredOrReset(acks);
      } finally {
        await c.close();
        await adapter.close();
        await pub.close();
        await redis.stop();
      }
    });
  }
});
