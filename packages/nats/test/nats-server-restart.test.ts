// What NatsAdapter does when the NATS server itself restarts: killed (SIGKILL) and started again
// on its JetStream store, every acknowledged message survives and subscribed clients see each
// once, in order, with no reset; started again with its store gone, subscribed clients get a
// `reset` (epoch-changed), then every later message; never a silent gap. Each test runs its own
// nats-server on a free port; the shared one is untouched.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { RealtimeClient, type SubscribeResult, type WebSocketConstructor } from '@ieum/realtime/client';
import { type PublishResult, RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { until } from '../../realtime/test/helpers.js';
import { NatsAdapter, NatsAdapterErrorCode } from '../src/index.js';
import { type OwnNats, ownNats } from './helpers.js';

const started: OwnNats[] = [];
after(() => Promise.all(started.map((n) => n.stop())));

/** An adapter on `url` that reconnects quickly and keeps its errors for the test to read. */
function adapterOn(url: string) {
  const adapter = new NatsAdapter({ servers: url, timeoutMs: 2000, natsOptions: { reconnectTimeWait: 100 } });
  const errors: Error[] = [];
  adapter.on('error', (e) => errors.push(e));
  return { adapter, errors };
}

/** A RealtimeServer on `adapter` and one client subscribed to `room`. */
async function serverAndClient(adapter: NatsAdapter) {
  const server = new RealtimeServer({ port: 0, host: '127.0.0.1', adapter, rateLimit: false });
  server.on('error', () => {});
  await new Promise((r) => server.once('listening', r));
  const client = new RealtimeClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime`, {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
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
    /** Each acknowledged message was received once, or is at or before the position of the reset. */
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

/** Publishes `d` with a message id, retrying (same id) while NATS is away: applied once. */
async function publishUntilAcked(pub: NatsAdapter, d: number): Promise<PublishResult> {
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      return await pub.publish('room', { ev: 'e', d, mid: `pub:${d}` });
    } catch (error) {
      if (Date.now() > end) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('realtime clients when the NATS server restarts', () => {
  for (const store of ['kept', 'lost'] as const) {
    const what =
      store === 'kept'
        ? 'every acknowledged message survives a kill and restart on its store, delivered once, in order, without reset'
        : 'a restart without its store gives subscribed clients a reset (epoch-changed), then every later message';
    it(what, { timeout: 60_000 }, async (t) => {
      let nats: OwnNats;
      try {
        nats = await ownNats();
      } catch (error) {
        if (process.env.CI === 'true') throw error;
        t.skip(`cannot start a nats-server of our own: ${(error as Error).message}`);
        return;
      }
      started.push(nats);
      const sub = adapterOn(nats.url);
      const pub = adapterOn(nats.url);
      const c = await serverAndClient(sub.adapter);
      try {
        const acks: PublishResult[] = [];
        for (let d = 1; d <= 4; d++) acks.push(await publishUntilAcked(pub.adapter, d));
        await until(() => c.got.length === 4, 5000, 'the first messages');
        await nats.kill();
        if (store === 'lost') rmSync(nats.dir, { recursive: true, force: true });
        const during = publishUntilAcked(pub.adapter, 5); // while NATS is away
        await nats.start();
        acks.push(await during);
        acks.push(await publishUntilAcked(pub.adapter, 6));
        if (store === 'lost') await until(() => c.resets.length > 0, 15_000, 'a reset');
        acks.push(await publishUntilAcked(pub.adapter, 7));
        await until(() => c.got.at(-1)?.endsWith(':7') ?? false, 15_000, 'the messages after the restart');
        c.checkDeliveredOrReset(acks);
        if (store === 'kept') {
          assert.deepEqual(c.resets, [], 'no reset: nothing was lost');
          assert.deepEqual(
            c.got.map((g) => g.split(':').slice(1).join(':')),
            ['1:1', '2:2', '3:3', '4:4', '5:5', '6:6', '7:7'],
            'offsets 1..7, each once, in order',
          );
          assert.equal(new Set(acks.map((a) => a.epoch)).size, 1, 'one epoch throughout');
          assert.equal(new Set(c.got.map((g) => g.split(':')[0])).size, 1, 'clients saw one epoch');
        } else {
          assert.deepEqual(c.resets, [{ reason: 'epoch-changed', at: 4 }], 'one reset, after the first four');
          assert.notEqual(acks[4]!.epoch, acks[0]!.epoch, 'the channel started over under a new epoch');
          assert.equal(c.got.at(-1), `${acks[6]!.epoch}:3:7`, 'the new epoch goes on after the reset');
          assert.ok(
            sub.errors.some((e) => (e as { code?: string }).code === NatsAdapterErrorCode.MESSAGES_LOST),
            'the adapter reports the loss',
          );
        }
      } finally {
        await c.close();
        await sub.adapter.close();
        await pub.adapter.close();
        await nats.stop();
      }
    });
  }
});
