// Redis Cluster failover under traffic: three ieum processes behind nginx on a 3-master/3-replica
// cluster of the test's own; the master of one channel is killed (SIGKILL) while clients publish,
// and its replica takes over. The failed shard's channel starts over under a new epoch (the
// replica may lack the last acknowledged writes: see scripts.ts, Fencing), so its subscribers get
// a `reset`; a channel on another shard goes on untouched. See failover-scenario.ts.
import { after, describe, it } from 'node:test';
import { RedisAdapter } from '../src/index.js';
import { failoverUnderTraffic } from './failover-scenario.js';
import { testPrefix } from './helpers.js';
import { ownCluster } from './own-cluster.js';

const cluster = await ownCluster();
after(() => cluster.stop());

describe('Redis Cluster: a master killed while three processes behind nginx carry traffic', () => {
  it('every acknowledged message is delivered once, in order, or the subscriber gets a reset', {
    timeout: 90_000,
  }, async (t) => {
    const prefix = testPrefix('cluster-failover');
    const hit = 'room-hit';
    const victim = await cluster.masterOf(`{${hit}}`);
    let spared = '';
    for (let i = 0; !spared; i++) {
      if ((await cluster.masterOf(`{room-${i}}`)) !== victim) spared = `room-${i}`;
    }
    const reader = new RedisAdapter({ cluster: { nodes: cluster.startup }, keyPrefix: prefix });
    try {
      const resets = await failoverUnderTraffic({
        backend: `cluster:${cluster.startup.map((n) => `${n.host}:${n.port}`).join(',')}`,
        prefix,
        channels: { hit, spared },
        sparedUntouched: true,
        fail: async () => {
          await victim.kill();
        },
        position: (channel) =>
          reader.position(channel).catch(async (error: Error) => {
            // Diagnostics: the reader's cluster client and what a slot map refresh gives it.
            const cmd = (
              reader as unknown as {
                cmd: {
                  status: string;
                  slots: string[][];
                  refreshSlotsCache(cb: (e?: Error) => void): void;
                  connectionPool: { getNodes(): Array<{ options: { port: number }; status: string }> };
                };
              }
            ).cmd;
            const owners = () => [0, 6000, 12000].map((s) => cmd.slots[s]?.[0]).join(' ');
            const before = owners();
            const refresh = await new Promise<string>((r) =>
              cmd.refreshSlotsCache((e) => r(String(e?.message))),
            );
            throw new Error(
              `${error.message} (cause: ${(error.cause as Error | undefined)?.message}); victim ${victim.port}; adapter ${reader.status}; reader's cluster client: ${cmd.status}, owners ${before}; ` +
                `pool ${cmd.connectionPool.getNodes().map((n) => `${n.options.port}:${n.status}`)}; ` +
                `refresh: ${refresh}, owners after ${owners()}`,
            );
          }),
        after: (fn) => t.after(fn),
        describe: () => cluster.describe(),
      });
      console.log(`resets seen by the six subscribers: ${JSON.stringify(resets)}`);
    } finally {
      await reader.close();
    }
  });
});
