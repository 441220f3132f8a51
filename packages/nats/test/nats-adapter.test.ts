// NatsAdapter's own behaviour beyond the shared conformance suite: option checks, binary data,
// idle streams swept, a crashed process's presence expiring with one `leave`, and an unreachable
// NATS reported as NATS_ERR_UNAVAILABLE.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AdapterEvent } from '@ieum/realtime/adapter';
import { connect } from 'nats';
import { until } from '../../realtime/test/helpers.js';
import { tcpProxy } from '../../redis/test/helpers.js';
import { NatsAdapter, NatsAdapterErrorCode } from '../src/index.js';
import { channelNames } from '../src/names.js';
import { deleteStreams, freePort, requireNats, testPrefix } from './helpers.js';

const servers = await requireNats();
const skip = servers ? false : 'NATS JetStream not reachable';
const prefix = testPrefix('own');
after(() => (servers ? deleteStreams(servers, prefix).then(() => {}) : undefined));

describe('NatsAdapter', () => {
  it('refuses unusable options with a RangeError naming the option', () => {
    assert.throws(() => new NatsAdapter({ prefix: 'a.b' }), /prefix must be/);
    assert.throws(() => new NatsAdapter({ history: { maxMessages: 0 } }), /history.maxMessages/);
    assert.throws(
      () => new NatsAdapter({ history: { maxAgeMs: 10_000 }, channelTtlMs: 5000 }),
      /channelTtlMs must be at least/,
    );
    assert.throws(() => new NatsAdapter({ replicas: 7 }), /replicas/);
  });

  it('keeps binary data, except and key through history and live delivery', {
    skip,
    timeout: 20_000,
  }, async () => {
    const a = new NatsAdapter({ servers, prefix });
    try {
      const got: AdapterEvent[] = [];
      await a.subscribe('binary', (e) => got.push(e));
      const d = { bytes: new Uint8Array([0, 1, 255]), text: 'é' };
      const r = await a.publish('binary', { ev: 'b', d, key: 'k' });
      await until(() => got.length === 1, 5000, 'the live message');
      const live = got[0]!;
      assert.ok(live.type === 'message');
      assert.deepEqual(live.entry.d, d);
      assert.equal(live.epoch, r.epoch);
      const h = await a.history('binary', { epoch: r.epoch, offset: 0 });
      assert.ok(h.ok);
      assert.deepEqual(h.entries[0]!.d, d);
      assert.equal(h.entries[0]!.key, 'k');
    } finally {
      await a.close();
    }
  });

  it('deletes a stream left idle past channelTtlMs, keeps one with messages, and starts it over under a new epoch', {
    skip,
    timeout: 30_000,
  }, async () => {
    const ttl = { history: { maxAgeMs: 300 }, dedupe: { maxAgeMs: 300 }, channelTtlMs: 800 };
    const idle = new NatsAdapter({ servers, prefix, ...ttl });
    const kept = new NatsAdapter({ servers, prefix }); // long limits: its channel keeps its message
    const nc = await connect({ servers });
    try {
      const jsm = await nc.jetstreamManager();
      const old = await idle.publish('idle', { ev: 'e', d: 1 });
      await kept.publish('busy', { ev: 'e', d: 1 });
      const exists = (channel: string) =>
        jsm.streams.info(channelNames(prefix, channel).stream).then(
          () => true,
          () => false,
        );
      const end = Date.now() + 15_000;
      while (await exists('idle')) {
        assert.ok(Date.now() < end, 'the idle stream is deleted');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await exists('busy'), true, 'a stream with messages stays');
      const fresh = await idle.position('idle');
      assert.notEqual(fresh.epoch, old.epoch);
      assert.equal(fresh.offset, 0);
    } finally {
      await nc.close();
      await idle.close();
      await kept.close();
    }
  });

  it("expires a crashed process's presence and announces each user's leave once", {
    skip,
    timeout: 30_000,
  }, async () => {
    const crashed = new NatsAdapter({ servers, prefix, presenceTtlMs: 600 });
    const a = new NatsAdapter({ servers, prefix, presenceTtlMs: 600 });
    const b = new NatsAdapter({ servers, prefix, presenceTtlMs: 600 });
    try {
      const leaves: string[] = [];
      const statesGone: string[] = [];
      const listen = (e: AdapterEvent) => {
        if (e.type === 'leave') leaves.push(e.user);
        if (e.type === 'update' && !('state' in e)) statesGone.push(e.connection);
      };
      await a.subscribe('lobby', listen);
      await b.subscribe('lobby', () => {});
      await crashed.presenceJoin('lobby', 'carol', 'c1');
      await crashed.presenceJoin('lobby', 'dave', 'c2');
      await a.presenceJoin('lobby', 'dave', 'c3'); // dave stays through a's connection
      await crashed.presenceUpdate('lobby', 'dave', 'c2', { cursor: 2 });
      await a.presenceUpdate('lobby', 'dave', 'c3', { cursor: 3 });
      await crashed.disconnectForTest();
      await until(() => leaves.length >= 1, 10_000, "carol's leave");
      await until(() => statesGone.includes('c2'), 10_000, "dave's crashed connection state gone");
      await new Promise((r) => setTimeout(r, 1000)); // a second sweep by either process
      assert.deepEqual(leaves, ['carol'], 'one leave, from whichever process swept first');
      assert.deepEqual(statesGone, ['c2'], 'announced once; the live connection keeps its state');
      assert.deepEqual(await b.presenceList('lobby'), [{ user: 'dave', states: { c3: { cursor: 3 } } }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  for (const outage of ['within', 'beyond'] as const) {
    it(`a subscription cut off from NATS catches up after the reconnect (${outage} the history window)`, {
      skip,
      timeout: 30_000,
    }, async () => {
      const target = new URL(servers ?? 'nats://127.0.0.1:4222');
      const proxy = await tcpProxy(() => [{ host: target.hostname, port: Number(target.port || 4222) }]);
      const history = { maxMessages: 3 };
      const sub = new NatsAdapter({
        servers: `nats://127.0.0.1:${proxy.port}`,
        prefix,
        history,
        natsOptions: { reconnectTimeWait: 100 },
      });
      const pub = new NatsAdapter({ servers, prefix, history });
      const errors: Array<{ code?: string }> = [];
      sub.on('error', (e) => errors.push(e as { code?: string }));
      const channel = `cut-${outage}`;
      try {
        const got: number[] = [];
        await sub.subscribe(channel, (e) => {
          if (e.type === 'message') got.push(e.entry.off);
        });
        await pub.publish(channel, { ev: 'e', d: 1 });
        await until(() => got.length === 1, 5000, 'the first message');
        await proxy.down();
        await until(() => sub.status === 'reconnecting', 5000, 'the outage to be noticed');
        const during = outage === 'within' ? 2 : 6; // 3 kept: 6 leaves offsets 2..4 trimmed
        for (let d = 0; d < during; d++) await pub.publish(channel, { ev: 'e', d });
        await proxy.up();
        await until(() => sub.status === 'ready', 10_000, 'the reconnect');
        const lost = () => errors.some((e) => e.code === NatsAdapterErrorCode.MESSAGES_LOST);
        await until(() => (outage === 'within' ? got.length === 3 : lost()), 10_000, 'the catch-up');
        const last = 1 + during + 1;
        await pub.publish(channel, { ev: 'e', d: 'after' });
        await until(() => got.at(-1) === last, 10_000, 'the message after the outage');
        if (outage === 'within') {
          assert.deepEqual(got, [1, 2, 3, 4], 'every offset once, in order');
          assert.deepEqual(
            errors.filter((e) => e.code === NatsAdapterErrorCode.MESSAGES_LOST),
            [],
          );
        } else {
          assert.deepEqual(got, [1, 5, 6, 7, 8], 'what history kept, after the gap, then live');
          assert.ok(lost(), 'the gap is reported, never silent');
        }
      } finally {
        await sub.close();
        await pub.close();
        await proxy.close();
      }
    });
  }

  it('rejects with NATS_ERR_UNAVAILABLE when NATS cannot be reached within timeoutMs', {
    timeout: 20_000,
  }, async () => {
    const port = await freePort();
    const a = new NatsAdapter({ servers: `nats://127.0.0.1:${port}`, timeoutMs: 300 });
    try {
      await assert.rejects(a.publish('x', { ev: 'e', d: 1 }), { code: NatsAdapterErrorCode.UNAVAILABLE });
      assert.equal(a.status, 'connecting');
    } finally {
      await a.close();
    }
    await assert.rejects(a.publish('x', { ev: 'e', d: 1 }), { code: NatsAdapterErrorCode.CLOSED });
  });
});
