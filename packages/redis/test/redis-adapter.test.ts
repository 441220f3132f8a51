// RedisAdapter behaviour beyond the shared suite: several processes on one Redis (presence of a
// dead process expires, dedupe and history survive an adapter), and Redis going away.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import type { AdapterEvent } from '@ieum/realtime/server';
import { Redis } from 'ioredis';
import { RedisAdapter, RedisAdapterError, RedisAdapterErrorCode } from '../src/index.js';
import { deleteKeys, redisTarget, requireRedis, sleep, tcpProxy, testPrefix, until } from './helpers.js';

const url = await requireRedis();
const keyPrefix = testPrefix('adapter');
after(() => deleteKeys(keyPrefix));

let n = 0;
const channel = (name: string) => `${name}-${++n}`;

/** Runs `body` with adapters created through `make`, closing them all afterwards. */
async function withAdapters(
  body: (make: (options?: ConstructorParameters<typeof RedisAdapter>[0]) => RedisAdapter) => Promise<void>,
): Promise<void> {
  const made: RedisAdapter[] = [];
  try {
    await body((options = {}) => {
      const a = new RedisAdapter({ url, keyPrefix, ...options });
      made.push(a);
      return a;
    });
  } finally {
    await Promise.all(made.map((a) => a.close()));
  }
}

/** Has Redis close the client connection with this name (CLIENT KILL), as on a server-side timeout. */
async function killConnection(name: string): Promise<void> {
  const admin = new Redis(url);
  try {
    const list = String(await admin.client('LIST'));
    const line = list.split('\n').find((l) => l.includes(` name=${name} `));
    assert.ok(line, `a connection named ${name}`);
    await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
  } finally {
    admin.disconnect();
  }
}

const presenceEvents = (into: string[]) => (e: AdapterEvent) => {
  if (e.type !== 'message') into.push(`${e.type} ${e.user}`);
};

describe('RedisAdapter across processes', () => {
  it("removes a dead process's presence after presenceTtlMs and announces the leave", async () => {
    await withAdapters(async (make) => {
      const a = make({ presenceTtlMs: 600 });
      const b = make({ presenceTtlMs: 600 });
      const ch = channel('dead-node');
      const events: string[] = [];
      await b.subscribe(ch, presenceEvents(events));
      assert.deepEqual(await a.presenceJoin(ch, 'alice', 'conn-a1', { name: 'Alice' }), { changed: true });
      await b.presenceJoin(ch, 'bob', 'conn-b1');
      await until(() => events.length === 2, 2000, 'joins');
      a.disconnectForTest(); // a crash: no leave, no cleanup
      const died = Date.now();
      await until(() => events.includes('leave alice'), 3000, "alice's leave");
      const after = Date.now() - died;
      assert.ok(after >= 300, `not before the ttl could pass (${after} ms)`);
      assert.ok(after <= 2000, `within ttl + a refresh period (+ slack for a loaded machine): ${after} ms`);
      assert.deepEqual(await b.presenceList(ch), [{ user: 'bob' }]);
      assert.deepEqual(events, ['join alice', 'join bob', 'leave alice'], 'one leave, bob stays');
    });
  });

  it("drops a dead process's presence states when its connections expire, announcing each", async () => {
    await withAdapters(async (make) => {
      const a = make({ presenceTtlMs: 600 });
      const b = make({ presenceTtlMs: 600 });
      const ch = channel('dead-node-state');
      const gone: string[] = [];
      await b.subscribe(ch, (e) => {
        if (e.type === 'update' && !('state' in e)) gone.push(e.connection);
      });
      await a.presenceJoin(ch, 'alice', 'tab-1');
      await b.presenceJoin(ch, 'alice', 'tab-2');
      assert.equal(await a.presenceUpdate(ch, 'alice', 'tab-1', { cursor: 1 }), true);
      assert.equal(await b.presenceUpdate(ch, 'alice', 'tab-2', { cursor: 2 }), true);
      a.disconnectForTest(); // a crash: tab-1 is never left, it expires
      await until(() => gone.includes('tab-1'), 3000, "tab-1's state gone");
      assert.deepEqual(await b.presenceList(ch), [{ user: 'alice', states: { 'tab-2': { cursor: 2 } } }]);
      assert.deepEqual(gone, ['tab-1'], 'the live connection keeps its state');
    });
  });

  it("keeps a live process's presence beyond presenceTtlMs (it refreshes its own)", async () => {
    await withAdapters(async (make) => {
      const a = make({ presenceTtlMs: 600 });
      const b = make({ presenceTtlMs: 600 });
      const ch = channel('alive');
      const events: string[] = [];
      await b.subscribe(ch, presenceEvents(events));
      await a.presenceJoin(ch, 'alice', 'c1');
      await sleep(2000); // more than three ttls
      assert.deepEqual(await b.presenceList(ch), [{ user: 'alice' }]);
      assert.deepEqual(events, ['join alice'], 'no leave while alive');
    });
  });

  it('does not bring back a member whose leave was issued while its join was in flight', async () => {
    await withAdapters(async (make) => {
      const a = make({ presenceTtlMs: 300 });
      const b = make({ presenceTtlMs: 300 });
      const ch = channel('join-leave-race');
      const events: string[] = [];
      await b.subscribe(ch, presenceEvents(events));
      const joined = a.presenceJoin(ch, 'alice', 'c1'); // a client that disconnects at once
      const left = a.presenceLeave(ch, 'alice', 'c1');
      assert.deepEqual(await Promise.all([joined, left]), [{ changed: true }, { changed: true }]);
      await sleep(1000); // several refresh periods
      assert.deepEqual(await b.presenceList(ch), []);
      assert.deepEqual(events, ['join alice', 'leave alice']);
    });
  });

  it('announces leaves at once when an adapter closes cleanly', async () => {
    await withAdapters(async (make) => {
      const a = make();
      const b = make();
      const ch = channel('clean-close');
      const events: string[] = [];
      await b.subscribe(ch, presenceEvents(events));
      await a.presenceJoin(ch, 'alice', 'c1');
      await a.close();
      await until(() => events.includes('leave alice'), 1000, 'leave on close');
      assert.deepEqual(await b.presenceList(ch), []);
    });
  });

  it('deduplicates a message id published through two adapters', async () => {
    await withAdapters(async (make) => {
      const a = make();
      const b = make();
      const ch = channel('dedupe');
      const got: number[] = [];
      await b.subscribe(ch, (e) => e.type === 'message' && got.push(e.entry.off));
      const first = await a.publish(ch, { ev: 'say', d: 'hi', mid: 'alice\u0000client-1\u00007' });
      const retry = await b.publish(ch, { ev: 'say', d: 'hi', mid: 'alice\u0000client-1\u00007' });
      assert.deepEqual(first, { epoch: first.epoch, offset: 1, duplicate: false });
      assert.deepEqual(retry, { epoch: first.epoch, offset: 1, duplicate: true });
      await b.publish(ch, { ev: 'say', d: 'next' });
      await until(() => got.length === 2, 2000, 'deliveries');
      await sleep(50);
      assert.deepEqual(got, [1, 2], 'the duplicate is not delivered');
    });
  });

  it('keeps epoch and history across an adapter restart', async () => {
    await withAdapters(async (make) => {
      const a = make();
      const ch = channel('restart');
      for (let i = 1; i <= 3; i++) await a.publish(ch, { ev: 'e', d: i, mid: `m${i}` });
      const before = await a.position(ch);
      await a.close();
      const c = make();
      assert.deepEqual(await c.position(ch), before);
      const h = await c.history(ch, { epoch: before.epoch, offset: 0 });
      assert.ok(h.ok);
      assert.deepEqual(
        h.entries.map((e) => [e.off, e.d]),
        [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
      );
      assert.equal((await c.publish(ch, { ev: 'e', d: 2, mid: 'm2' })).duplicate, true, 'ids survive too');
      assert.equal((await c.publish(ch, { ev: 'e', d: 4 })).offset, 4);
    });
  });

  it('leaves no Redis subscription behind when unsubscribed before the subscription completes', async () => {
    await withAdapters(async (make) => {
      const a = make();
      const ch = channel('sub-unsub');
      await a.position(ch); // connected
      const listener = () => {};
      const subscribing = a.subscribe(ch, listener);
      const unsubscribing = a.unsubscribe(ch, listener);
      await Promise.allSettled([subscribing, unsubscribing]);
      await a.position(ch); // the subscriber connection has had time to send anything it would
      await sleep(50);
      const admin = new Redis(url);
      try {
        const [, count] = (await admin.call('PUBSUB', 'SHARDNUMSUB', `${keyPrefix}{${ch}}`)) as [
          string,
          number,
        ];
        assert.equal(count, 0);
      } finally {
        admin.disconnect();
      }
    });
  });

  it('stores binary data, message ids, except and key unchanged (MessagePack, not JSON)', async () => {
    await withAdapters(async (make) => {
      const a = make();
      const ch = channel('binary');
      const live: AdapterEvent[] = [];
      await a.subscribe(ch, (e) => live.push(e));
      const data = { bytes: new Uint8Array([0, 1, 254, 255]), nested: [1.5, 'ü', null, { deep: true }] };
      const before = Date.now();
      await a.publish(ch, { ev: 'blob', d: data, mid: 'm', except: 'conn-1', key: 'k' });
      const { epoch } = await a.position(ch);
      const h = await a.history(ch, { epoch, offset: 0 });
      assert.ok(h.ok);
      const stored = h.entries[0]!;
      assert.deepEqual(
        {
          ev: stored.ev,
          d: stored.d,
          mid: stored.mid,
          except: stored.except,
          key: stored.key,
          off: stored.off,
        },
        { ev: 'blob', d: data, mid: 'm', except: 'conn-1', key: 'k', off: 1 },
      );
      assert.ok(stored.d && (stored.d as typeof data).bytes instanceof Uint8Array);
      assert.ok(Math.abs(stored.time - before) < 5000, 'time is the publish time (Redis clock)');
      await until(() => live.length === 1, 2000, 'live delivery');
      assert.deepEqual(live[0], { type: 'message', channel: ch, epoch, entry: stored });
    });
  });

  it('forgets history older than maxAgeMs (recovery then reports too-old)', async () => {
    await withAdapters(async (make) => {
      const a = make({ history: { maxAgeMs: 400 }, channelTtlMs: 60_000 });
      const ch = channel('age');
      await a.publish(ch, { ev: 'e', d: 1 });
      const { epoch } = await a.position(ch);
      await sleep(250);
      await a.publish(ch, { ev: 'e', d: 2 });
      await sleep(250);
      const h0 = await a.history(ch, { epoch, offset: 0 });
      assert.deepEqual([h0.ok, !h0.ok && h0.reason], [false, 'too-old']);
      const h1 = await a.history(ch, { epoch, offset: 1 });
      assert.ok(h1.ok);
      assert.deepEqual(
        h1.entries.map((e) => e.d),
        [2],
      );
      assert.deepEqual(await a.position(ch), { epoch, offset: 2 }, 'offsets go on');
    });
  });

  it('gives every key it writes an expiry (nothing piles up in Redis)', async () => {
    const prefix = testPrefix('expiry');
    const a = new RedisAdapter({ url, keyPrefix: prefix });
    const r = new Redis(url);
    try {
      await a.publish('ch', { ev: 'e', d: 1, mid: 'x' });
      await a.presenceJoin('ch', 'alice', 'c1', { a: 1 });
      const keys = await r.keys(`${prefix}*`);
      assert.ok(keys.length >= 6, `meta, history, dedupe id, presence users/counts/connections: ${keys}`);
      for (const key of keys) assert.ok((await r.pttl(key)) > 0, `${key} has a TTL`);
    } finally {
      await a.close();
      r.disconnect();
      await deleteKeys(prefix);
    }
  });

  it('refuses names with lone surrogates instead of merging them with U+FFFD in Redis', async () => {
    await withAdapters(async (make) => {
      const a = make();
      const base = channel('surrogate');
      const invalid = { code: RedisAdapterErrorCode.INVALID_NAME };
      for (const bad of [`${base}\ud800`, `${base}\udfff`, `${base}\udfff\ud800`, `\ud83d${base}`]) {
        await assert.rejects(a.publish(bad, { ev: 'e', d: 1 }), invalid, JSON.stringify(bad));
        await assert.rejects(
          a.subscribe(bad, () => {}),
          invalid,
        );
        await assert.rejects(
          a.unsubscribe(bad, () => {}),
          invalid,
        );
        await assert.rejects(a.position(bad), invalid);
        await assert.rejects(a.history(bad, { epoch: 'x', offset: 0 }), invalid);
        await assert.rejects(a.presenceJoin(bad, 'alice', 'c1'), invalid);
        await assert.rejects(a.presenceLeave(bad, 'alice', 'c1'), invalid);
        await assert.rejects(a.presenceList(bad), invalid);
      }
      await assert.rejects(a.presenceJoin(base, 'al\ud800', 'c1'), /the user "al\\ud800" is not well-formed/);
      await assert.rejects(a.presenceJoin(base, 'alice', 'c\udc00'), invalid);
      await assert.rejects(a.publish(base, { ev: 'e', d: 1, mid: 'm\ud800' }), invalid);
      assert.deepEqual(await a.presenceList(base), [], 'nothing was joined');
      // U+FFFD itself and a proper pair are ordinary, distinct names.
      const replacement = await a.publish(`${base}\ufffd`, { ev: 'e', d: 1 });
      const pair = await a.publish(`${base}\ud83d\ude00`, { ev: 'e', d: 1 });
      assert.deepEqual([replacement.offset, pair.offset], [1, 1], 'two channels');
      assert.deepEqual((await a.position(base)).offset, 0, 'the refused publishes stored nothing');
    });
  });

  it('rejects invalid options with a clear error', () => {
    assert.throws(
      () => new RedisAdapter({ url, history: { maxMessages: 0 } }),
      /maxMessages must be a positive/,
    );
    assert.throws(
      () => new RedisAdapter({ url, history: { maxAgeMs: 10_000 }, channelTtlMs: 1000 }),
      /channelTtlMs must be at least history.maxAgeMs/,
    );
    assert.throws(() => new RedisAdapter({ url, keyPrefix: 'app\ud800:' }), /keyPrefix must be well-formed/);
  });
});

describe('RedisAdapter when Redis goes away', () => {
  it('rejects operations with REDIS_ERR_UNAVAILABLE when Redis cannot be reached', async () => {
    const a = new RedisAdapter({ url: 'redis://127.0.0.1:1', keyPrefix, unavailableTimeoutMs: 200 });
    a.on('error', () => {});
    try {
      const started = Date.now();
      await assert.rejects(a.publish('ch', { ev: 'e', d: 1 }), (error: RedisAdapterError) => {
        assert.equal(error.code, RedisAdapterErrorCode.UNAVAILABLE);
        assert.match(
          error.message,
          /Redis is unreachable at redis:\/\/127\.0\.0\.1:1.*publish to "ch" not done/,
        );
        return true;
      });
      assert.ok(Date.now() - started < 2000);
      assert.equal(a.status, 'connecting');
    } finally {
      await a.close();
    }
    await assert.rejects(a.publish('ch', { ev: 'e', d: 1 }), { code: RedisAdapterErrorCode.CLOSED });
  });

  it('reports the outage, rejects publishes during it, then resubscribes and delivers what was missed in order', async () => {
    const proxy = await tcpProxy(() => [redisTarget()]);
    const viaProxy = new RedisAdapter({
      url: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix,
      unavailableTimeoutMs: 100,
    });
    const direct = new RedisAdapter({ url, keyPrefix });
    const events: string[] = [];
    viaProxy.on('disconnect', () => events.push('disconnect'));
    viaProxy.on('reconnect', () => events.push('reconnect'));
    viaProxy.on('error', () => {});
    try {
      // unavailableTimeoutMs is short here for the outage; the first connection may take longer.
      await once(viaProxy, 'ready');
      const ch = channel('outage');
      const got: number[] = [];
      await viaProxy.subscribe(ch, (e) => e.type === 'message' && got.push(e.entry.off));
      await direct.publish(ch, { ev: 'e', d: 1 });
      await until(() => got.length === 1, 2000, 'first delivery');

      await proxy.down();
      await until(() => viaProxy.status === 'reconnecting', 2000, 'the adapter to notice');
      await assert.rejects(viaProxy.publish(ch, { ev: 'e', d: 'lost?' }), (error: RedisAdapterError) => {
        assert.equal(error.code, RedisAdapterErrorCode.UNAVAILABLE);
        assert.match(error.message, /Redis is unreachable at redis:\/\/127\.0\.0\.1:\d+/);
        return true;
      });
      for (let i = 2; i <= 4; i++) await direct.publish(ch, { ev: 'e', d: i }); // while it is away

      await proxy.up();
      await until(() => viaProxy.status === 'ready', 5000, 'reconnection');
      await until(() => got.length === 4, 3000, 'the missed messages');
      await direct.publish(ch, { ev: 'e', d: 5 });
      await until(() => got.length === 5, 2000, 'live again');
      await sleep(100);
      assert.deepEqual(
        got,
        [1, 2, 3, 4, 5],
        'every message once, in order; the rejected publish is not stored',
      );
      assert.deepEqual(events, ['disconnect', 'reconnect']);
      assert.deepEqual(await viaProxy.position(ch), await direct.position(ch));
    } finally {
      await viaProxy.close();
      await direct.close();
      await proxy.close();
    }
  });

  it('resubscribes when Redis kills the subscriber connection, without losing messages', async () => {
    await withAdapters(async (make) => {
      const a = make({ nodeId: `kill-${process.pid}-${Date.now()}` });
      const b = make();
      a.on('error', () => {});
      const ch = channel('client-kill');
      const got: number[] = [];
      await a.subscribe(ch, (e) => e.type === 'message' && got.push(e.entry.off));
      await b.publish(ch, { ev: 'e', d: 1 });
      await until(() => got.length === 1, 2000, 'first delivery');
      await killConnection(`ieum:${a.nodeId}:sub`);
      for (let i = 2; i <= 6; i++) await b.publish(ch, { ev: 'e', d: i });
      await until(() => got.length === 6, 5000, 'every message');
      await sleep(100);
      assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
    });
  });

  it('keeps subscriptions when only the command connection is lost', async () => {
    await withAdapters(async (make) => {
      const a = make({ nodeId: `cmd-kill-${process.pid}-${Date.now()}` });
      const b = make();
      a.on('error', () => {});
      const events: string[] = [];
      a.on('disconnect', () => events.push('disconnect'));
      a.on('reconnect', () => events.push('reconnect'));
      const ch = channel('cmd-kill');
      const got: number[] = [];
      await a.subscribe(ch, (e) => e.type === 'message' && got.push(e.entry.off));
      await killConnection(`ieum:${a.nodeId}:cmd`);
      await b.publish(ch, { ev: 'e', d: 1 });
      await until(() => events.length === 2, 5000, 'disconnect and reconnect');
      assert.equal((await a.publish(ch, { ev: 'e', d: 2 })).offset, 2);
      await until(() => got.length === 2, 2000, 'deliveries');
      assert.deepEqual(got, [1, 2]);
      assert.deepEqual(events, ['disconnect', 'reconnect']);
    });
  });

  it('lets an operation wait unavailableTimeoutMs for Redis to come back', async () => {
    const proxy = await tcpProxy(() => [redisTarget()]);
    const a = new RedisAdapter({
      url: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix,
      unavailableTimeoutMs: 5000,
    });
    a.on('error', () => {});
    try {
      const ch = channel('short-outage');
      await a.publish(ch, { ev: 'e', d: 1 });
      await proxy.down();
      await until(() => a.status === 'reconnecting', 2000, 'the outage to be noticed');
      const pending = a.publish(ch, { ev: 'e', d: 2 });
      await sleep(300);
      await proxy.up();
      assert.equal((await pending).offset, 2, 'sent once Redis was back');
    } finally {
      await a.close();
      await proxy.close();
    }
  });

  it('reports REDIS_ERR_MESSAGES_LOST when an outage outlasts the history window', async () => {
    const proxy = await tcpProxy(() => [redisTarget()]);
    const history = { maxMessages: 5 };
    const viaProxy = new RedisAdapter({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix, history });
    const direct = new RedisAdapter({ url, keyPrefix, history });
    const errors: RedisAdapterError[] = [];
    viaProxy.on('error', (e) => e instanceof RedisAdapterError && errors.push(e));
    try {
      const ch = channel('lost');
      const got: number[] = [];
      await viaProxy.subscribe(ch, (e) => e.type === 'message' && got.push(e.entry.off));
      await direct.publish(ch, { ev: 'e', d: 1 });
      await until(() => got.length === 1, 2000, 'first delivery');
      await proxy.down();
      await until(() => viaProxy.status === 'reconnecting', 2000, 'the outage to be noticed');
      for (let i = 2; i <= 10; i++) await direct.publish(ch, { ev: 'e', d: i }); // 2..5 are trimmed
      await proxy.up();
      await until(() => errors.length > 0, 5000, 'the report');
      assert.equal(errors[0]!.code, RedisAdapterErrorCode.MESSAGES_LOST);
      assert.match(errors[0]!.message, /channel "lost-\d+" lost the messages after \S+:1 \(too-old/);
      await direct.publish(ch, { ev: 'e', d: 11 });
      await until(() => got.includes(11), 2000, 'live again');
      assert.deepEqual(got, [1, 6, 7, 8, 9, 10, 11], 'a gap, what is left in history, then live messages');
    } finally {
      await viaProxy.close();
      await direct.close();
      await proxy.close();
    }
  });
});
