// A Redis Cluster of a test's own: 3 masters and 3 replicas (redis-server in cluster mode, joined
// by `redis-cli --cluster create`), on free local ports in a temporary directory.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePortPair, type OwnRedis, ownRedis, sleep } from './helpers.js';

const run = promisify(execFile);
export const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';

export interface OwnCluster {
  /** Every node, masters and replicas. */
  readonly nodes: OwnRedis[];
  /** `{ host, port }` of each node, for `RedisAdapter({ cluster: { nodes } })`. */
  readonly startup: Array<{ host: string; port: number }>;
  /** The node that is master of the slot of `key` now. */
  masterOf(key: string): Promise<OwnRedis>;
  /** Waits until every live node reports `cluster_state:ok` and `slot` has a live master. */
  healthy(timeoutMs?: number): Promise<void>;
  /** `CLUSTER NODES` as a live node sees it (for a failure's message). */
  describe(): Promise<string>;
  /** A fresh ioredis Cluster client (disconnect it when done). */
  client(): Cluster;
  stop(): Promise<void>;
}

async function clusterInfo(node: OwnRedis): Promise<string> {
  const c = new Redis(node.port, '127.0.0.1', {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return String(await c.call('CLUSTER', 'INFO'));
  } catch {
    return '';
  } finally {
    c.disconnect();
  }
}

/**
 * Starts 6 nodes (node timeout 1,000 ms, so a failover takes about 2-3 s), creates the cluster
 * with one replica per master, and waits until it is healthy (at most 30 s).
 */
export async function ownCluster(): Promise<OwnCluster> {
  const nodes: OwnRedis[] = [];
  const live = new Set<OwnRedis>();
  try {
    for (let i = 0; i < 6; i++) {
      // The cluster bus listens on port + 10000: both must be free.
      const port = await freePortPair(10_000);
      const node = await ownRedis(
        [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '1000',
          '--cluster-replica-validity-factor',
          '0',
        ],
        { port },
      );
      nodes.push(node);
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  for (const n of nodes) live.add(n);
  await run(REDIS_CLI, [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);
  const healthy = async (timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(nodes.filter((n) => n.alive()).map((n) => clusterInfo(n)));
      if (infos.every((i) => i.includes('cluster_state:ok'))) return;
      if (Date.now() > end) throw new Error(`the Redis Cluster did not become healthy:\n${infos.join('\n')}`);
      await sleep(100);
    }
  };
  await healthy();
  const startup = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  const client = () => new Cluster(startup, { redisOptions: { maxRetriesPerRequest: 1 } });
  const describe = async () => {
    const node = nodes.find((n) => n.alive());
    if (!node) return 'no live node';
    const c = new Redis(node.port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      return String(await c.call('CLUSTER', 'NODES'));
    } catch (error) {
      return (error as Error).message;
    } finally {
      c.disconnect();
    }
  };
  return {
    nodes,
    startup,
    describe,
    healthy,
    client,
    async masterOf(key) {
      const c = client();
      try {
        const slot = Number(await c.call('CLUSTER', 'KEYSLOT', key));
        const shards = (await c.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
        const owner = shards.find(([lo, hi]) => slot >= lo && slot <= hi)!;
        return nodes.find((n) => n.port === Number(owner[2][1]))!;
      } finally {
        c.disconnect();
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
