// Sentinel failover under traffic: one master, one replica and three sentinels of the test's
// own; three ieum processes behind nginx find the master through the sentinels. The master is
// killed (SIGKILL) while clients publish; the sentinels promote the replica and the adapters
// reconnect to it. Both channels live on that master, so their subscribers get a `reset` (the
// promoted replica may lack the last acknowledged writes: see scripts.ts, Fencing). See
// failover-scenario.ts for what must hold.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RedisAdapter } from '../src/index.js';
import { failoverUnderTraffic } from './failover-scenario.js';
import { testPrefix } from './helpers.js';
import { MASTER_NAME, ownSentinel } from './own-sentinel.js';

const setup = await ownSentinel();
after(() => setup.stop());

describe('Sentinel: the master killed while three processes behind nginx carry traffic', () => {
  it('every acknowledged message is delivered once, in order, or the subscriber gets a reset', {
    timeout: 90_000,
  }, async (t) => {
    const prefix = testPrefix('sentinel-failover');
    const sentinels = setup.sentinels;
    const reader = new RedisAdapter({ keyPrefix: prefix, redisOptions: { name: MASTER_NAME, sentinels } });
    try {
      const resets = await failoverUnderTraffic({
        backend: `sentinel:${MASTER_NAME}:${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`,
        prefix,
        channels: { hit: 'room-a', spared: 'room-b' },
        sparedUntouched: false,
        fail: () => setup.master.kill(),
        position: (channel) => reader.position(channel),
        after: (fn) => t.after(fn),
        describe: async () => `master on port ${await setup.masterPort()}`,
      });
      assert.equal(await setup.masterPort(), setup.replica.port, 'the sentinels promoted the replica');
      console.log(`resets seen by the six subscribers: ${JSON.stringify(resets)}`);
    } finally {
      await reader.close();
    }
  });
});
