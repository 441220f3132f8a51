// A Sentinel setup of a test's own: one master, one replica and three sentinels (redis-server
// --sentinel with a config file each), on free local ports in temporary directories.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePortPair, type OwnRedis, ownRedis, REDIS_SERVER, sleep } from './helpers.js';

export const MASTER_NAME = 'ieum-test';

export interface OwnSentinel {
  master: OwnRedis;
  replica: OwnRedis;
  /** `{ host, port }` of each sentinel, for ioredis's `sentinels` option. */
  sentinels: Array<{ host: string; port: number }>;
  /** The port of the master the sentinels name now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const c = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

/**
 * Starts the master and its replica, then three sentinels (quorum 2, `down-after-milliseconds`
 * 1,000, so a failover takes a few seconds), and waits until the sentinels see the replica.
 */
export async function ownSentinel(): Promise<OwnSentinel> {
  const master = await ownRedis();
  const replica = await ownRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const sentinels: Array<{ host: string; port: number }> = [];
  const kill = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await Promise.all([master.stop(), replica.stop()]);
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePortPair(0);
      const dir = mkdtempSync(join(tmpdir(), 'ieum-sentinel-'));
      dirs.push(dir);
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      children.push(spawn(REDIS_SERVER, [conf, '--sentinel'], { stdio: 'ignore' }));
      sentinels.push({ host: '127.0.0.1', port });
    }
    const masterPort = async () => {
      const s = new Redis(sentinels[0]!.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      try {
        const [, port] = (await s.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [
          string,
          string,
        ];
        return Number(port);
      } finally {
        s.disconnect();
      }
    };
    const end = Date.now() + 20_000;
    for (;;) {
      const up = await Promise.all(sentinels.map((s) => ping(s.port)));
      if (up.every(Boolean)) {
        const s = new Redis(sentinels[0]!.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
        try {
          const replicas = (await s.call('SENTINEL', 'replicas', MASTER_NAME)) as string[][];
          const known = (await s.call('SENTINEL', 'sentinels', MASTER_NAME)) as unknown[];
          if (replicas.length === 1 && known.length === 2) break;
        } finally {
          s.disconnect();
        }
      }
      if (Date.now() > end)
        throw new Error('the sentinels did not see the replica and each other within 20 s');
      await sleep(200);
    }
    return { master, replica, sentinels, masterPort, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
