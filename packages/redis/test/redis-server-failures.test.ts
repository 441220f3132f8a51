// What RedisAdapter does when the Redis server itself fails: out of memory (maxmemory), restarted
// empty, or restarted from a snapshot older than what clients have seen. Every test runs its own
// redis-server (ownRedis) so it can reconfigure, kill and restart it; the shared one is untouched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisAdapter, type RedisAdapterError, RedisAdapterErrorCode } from '../src/index.js';
import { ownRedis } from './helpers.js';

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
