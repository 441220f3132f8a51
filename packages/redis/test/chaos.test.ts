// The recovery promise across processes under random connection loss: clients reach two
// RealtimeServers (each with its own RedisAdapter) through a balancer that alternates between
// them and cuts connections at random. Every client must end with every message of every channel
// once, in order, and every publish must be stored once.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { RealtimeClient } from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { RedisAdapter } from '../src/index.js';
import { deleteKeys, exactlyOnceUnderChaos, requireRedis, tcpProxy, testPrefix } from './helpers.js';

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
      for (let i = 0; i < CLIENTS; i++) {
        clients.push(
          new RealtimeClient(`ws://127.0.0.1:${balancer.port}/realtime`, {
            WebSocket,
            reconnect: { initialDelayMs: 10, maxDelayMs: 150 },
          }),
        );
      }
      let cuts = 0;
      const acks = await exactlyOnceUnderChaos({
        clients,
        channels: CHANNELS,
        publishesPerClient: PUBLISHES_PER_CLIENT,
        maxPauseMs: 60,
        adapter: adapters[0]!,
        chaosStep: () => {
          if (balancer.cut()) cuts++;
        },
      });
      console.log(
        `${cuts} connections cut, ${acks.filter((a) => a.duplicate).length} publishes acknowledged as retries`,
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
