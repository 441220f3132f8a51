// The recovery promise across processes under random connection loss: clients reach two
// RealtimeServers (each with its own RedisAdapter) through a balancer that alternates between
// them and cuts connections at random. Every client must end with every message of every channel
// once, in order, and every publish must be stored once.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type ChannelMessage, RealtimeClient, type WebSocketConstructor } from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { RedisAdapter } from '../src/index.js';
import { deleteKeys, requireRedis, tcpProxy, testPrefix, until } from './helpers.js';

const url = await requireRedis();
const CLIENTS = 4;
const CHANNELS = ['alpha', 'beta'];
const PUBLISHES_PER_CLIENT = 40;

describe('recovery across two servers under random connection loss', () => {
  it('every client receives every message once, in order, and no publish applies twice', {
    timeout: 90_000,
  }, async () => {
    const keyPrefix = testPrefix('chaos');
    const adapters = [0, 1].map(() => new RedisAdapter({ url, keyPrefix, history: { maxMessages: 10_000 } }));
    const servers = adapters.map(
      (adapter) =>
        new RealtimeServer({
          port: 0,
          host: '127.0.0.1',
          adapter,
          heartbeatIntervalMs: 200,
          rateLimit: false,
        }),
    );
    await Promise.all(servers.map((s) => new Promise((r) => s.once('listening', r))));
    const ports = servers.map((s) => (s.address() as AddressInfo).port);
    let turn = 0;
    const balancer = await tcpProxy(() => {
      turn++;
      return [0, 1].map((i) => ({ host: '127.0.0.1', port: ports[(turn + i) % 2]! }));
    });
    const clients: RealtimeClient[] = [];
    try {
      const received: Array<Record<string, ChannelMessage<string>[]>> = [];
      for (let i = 0; i < CLIENTS; i++) {
        const c = new RealtimeClient(`ws://127.0.0.1:${balancer.port}/realtime`, {
          WebSocket: WebSocket as unknown as WebSocketConstructor,
          reconnect: { initialDelayMs: 10, maxDelayMs: 150 },
        });
        const got: Record<string, ChannelMessage<string>[]> = {};
        for (const name of CHANNELS) {
          got[name] = [];
          c.channel<string>(name).on('message', (m) => got[name]!.push(m));
        }
        clients.push(c);
        received.push(got);
      }
      await Promise.all(clients.flatMap((c) => CHANNELS.map((n) => c.channel(n).subscribe())));

      let chaos = true;
      let cuts = 0;
      const chaosLoop = (async () => {
        while (chaos) {
          await new Promise((r) => setTimeout(r, 40 + Math.random() * 80));
          if (chaos && balancer.cut()) cuts++;
        }
      })();
      const sent: Record<string, Set<string>> = Object.fromEntries(
        CHANNELS.map((n) => [n, new Set<string>()]),
      );
      const acks = await Promise.all(
        clients.map(async (c, ci) => {
          const results = [];
          for (let k = 0; k < PUBLISHES_PER_CLIENT; k++) {
            const ch = CHANNELS[(ci + k) % CHANNELS.length]!;
            const body = `c${ci}-m${k}`;
            sent[ch]!.add(body);
            results.push(c.channel<string>(ch).publish('say', body));
            await new Promise((r) => setTimeout(r, Math.random() * 60));
          }
          return Promise.all(results);
        }),
      );
      chaos = false;
      await chaosLoop;

      const total = Object.fromEntries(CHANNELS.map((n) => [n, sent[n]!.size]));
      await until(
        () => received.every((got) => CHANNELS.every((n) => got[n]!.length >= total[n]!)),
        30_000,
        'every client to catch up',
      );
      await new Promise((r) => setTimeout(r, 300));
      for (const [ci, got] of received.entries()) {
        for (const n of CHANNELS) {
          assert.deepEqual(
            got[n]!.map((m) => m.offset),
            Array.from({ length: total[n]! }, (_, i) => i + 1),
            `client ${ci} channel ${n}: offsets 1..${total[n]} once each, in order`,
          );
          assert.deepEqual(new Set(got[n]!.map((m) => m.data)), sent[n]);
        }
      }
      for (const n of CHANNELS) {
        const h = await adapters[0]!.history(n, { epoch: (await adapters[0]!.position(n)).epoch, offset: 0 });
        assert.ok(h.ok);
        assert.equal(h.entries.length, sent[n]!.size, `channel ${n} holds each publish once`);
      }
      console.log(
        `${cuts} connections cut, ${acks.flat().filter((a) => a.duplicate).length} publishes acknowledged as retries`,
      );
      assert.ok(cuts >= 10, `the chaos must actually have cut connections (cut ${cuts})`);
    } finally {
      for (const c of clients) c.close();
      await balancer.close();
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(adapters.map((a) => a.close()));
      await deleteKeys(keyPrefix);
    }
  });
});
