// RedisAdapter on a Redis Cluster of the test's own (3 masters, 3 replicas): the shared adapter
// conformance suite, and the two-server chaos test (clients cut at random, every message once,
// in order) with channels spread over the shards.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { adapterConformance } from '@ieum/realtime/adapter-conformance';
import { RealtimeClient, type WebSocketConstructor } from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { RedisAdapter } from '../src/index.js';
import { exactlyOnceUnderChaos, tcpProxy, testPrefix } from './helpers.js';
import { ownCluster } from './own-cluster.js';

const cluster = await ownCluster();
after(() => cluster.stop());
const nodes = cluster.startup;

const keyPrefix = testPrefix('cluster-conformance');
const create = () => new RedisAdapter({ cluster: { nodes }, keyPrefix, history: { maxMessages: 10 } });
adapterConformance('RedisAdapter on Redis Cluster', create, { maxMessages: 10, deliveryMs: 2000 }, create);

describe('RedisAdapter on Redis Cluster', () => {
  it('spreads channels over the shards, each channel on the master of its hash tag', {
    timeout: 20_000,
  }, async () => {
    const adapter = new RedisAdapter({ cluster: { nodes }, keyPrefix: testPrefix('cluster-spread') });
    try {
      const masters = new Set<number>();
      for (let i = 0; i < 12; i++) {
        const channel = `spread-${i}`;
        await adapter.publish(channel, { ev: 'e', d: i });
        masters.add((await cluster.masterOf(`{${channel}}`)).port);
      }
      assert.equal(masters.size, 3, 'twelve channels land on all three masters');
    } finally {
      await adapter.close();
    }
  });

  it('under random connection loss, every client receives every message once, in order', {
    timeout: 90_000,
  }, async () => {
    const prefix = testPrefix('cluster-chaos');
    const adapters = [0, 1].map(
      () => new RedisAdapter({ cluster: { nodes }, keyPrefix: prefix, history: { maxMessages: 10_000 } }),
    );
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
      for (let i = 0; i < 4; i++) {
        clients.push(
          new RealtimeClient(`ws://127.0.0.1:${balancer.port}/realtime`, {
            WebSocket: WebSocket as unknown as WebSocketConstructor,
            reconnect: { initialDelayMs: 10, maxDelayMs: 150 },
          }),
        );
      }
      let cuts = 0;
      await exactlyOnceUnderChaos({
        clients,
        // Hash tags on three different masters (checked by the spread test's slots).
        channels: ['alpha', 'beta', 'gamma', 'delta'],
        publishesPerClient: 40,
        maxPauseMs: 60,
        adapter: adapters[0]!,
        chaosStep: () => {
          if (balancer.cut()) cuts++;
        },
      });
      assert.ok(cuts >= 10, `the chaos must actually have cut connections (cut ${cuts})`);
    } finally {
      for (const c of clients) c.close();
      await balancer.close();
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(adapters.map((a) => a.close()));
    }
  });
});
