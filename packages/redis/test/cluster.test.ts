// RedisAdapter on a Redis Cluster of the test's own (3 masters, 3 replicas): the shared adapter
// conformance suite, and the two-server chaos test (clients cut at random, every message once,
// in order) with channels spread over the shards.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { adapterConformance } from '@ieum/realtime/adapter-conformance';
import { RedisAdapter } from '../src/index.js';
import { chaosAcrossTwoServers, testPrefix } from './helpers.js';
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
    // Hash tags on three different masters (checked by the spread test's slots).
    await chaosAcrossTwoServers(adapters, { channels: ['alpha', 'beta', 'gamma', 'delta'] });
  });
});
