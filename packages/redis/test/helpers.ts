// Test helpers: the Redis under test (REDIS_URL or the local default, a failure when missing),
// unique key prefixes with cleanup, and TCP proxies to cut connections on purpose.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Adapter } from '@ieum/realtime/adapter';
import { RealtimeClient } from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { Redis } from 'ioredis';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fails (never skips) when Redis is not there: in CI a missing service is a failure. */
export async function requireRedis(): Promise<string> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new Error(
      `Redis not reachable at ${redisUrl}: start redis-server or set REDIS_URL (${(error as Error).message})`,
    );
  } finally {
    probe.disconnect();
  }
  return redisUrl;
}

/** A key prefix no other run uses. */
export function testPrefix(name: string): string {
  return `ieum-test:${name}:${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(prefix: string): Promise<number> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return deleted;
}

/** Number of keys under `prefix`. */
export async function countKeys(prefix: string): Promise<number> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
    return n;
  } finally {
    r.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP proxy on a fixed local port that forwards each new connection to the first target that
 * accepts it (so clients reach whichever server is alive). `down()` closes the listener and every
 * forwarded connection (the target looks unreachable); `up()` listens again on the same port.
 */
export async function tcpProxy(targets: () => Array<{ host: string; port: number }>) {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const forward = (client: net.Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    client.pause();
    const attempt = (list: Array<{ host: string; port: number }>) => {
      const target = list[0];
      if (!target) {
        client.destroy();
        return;
      }
      const upstream = net.connect(target.port, target.host);
      const failed = () => attempt(list.slice(1));
      upstream.once('error', failed);
      upstream.once('connect', () => {
        upstream.off('error', failed);
        sockets.add(upstream);
        const pair = { client, upstream };
        pairs.add(pair);
        client.on('close', () => pairs.delete(pair));
        upstream.on('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => {});
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(targets());
  };
  let server = net.createServer(forward);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    /** Closes the listener and cuts every forwarded connection. */
    async down(): Promise<void> {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async up(): Promise<void> {
      server = net.createServer(forward);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
    },
    /** Forwarded connections open now. */
    get size() {
      return pairs.size;
    },
    /** Resets one random forwarded connection (both ends see it die). */
    cut(): boolean {
      const list = [...pairs];
      const pair = list[Math.floor(Math.random() * list.length)];
      if (!pair) return false;
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
      return true;
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Redis host and port from the URL (for proxies). */
export function redisTarget(): { host: string; port: number } {
  const u = new URL(redisUrl);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

/**
 * A local port free right now, with `port + offset` free too (Redis Cluster's bus listens on
 * port + 10000), below 55536 so both fit.
 */
export async function freePortPair(offset: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * (65_535 - offset - 20_000));
    if ((await free(port)) && (await free(port + offset))) return port;
  }
  throw new Error('no free local port pair found');
}

/** A local port free right now (for a server that must come back on the same port). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** A redis-server of a test's own (never the shared one), in a temporary directory. */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** Its working directory (`dump.rdb` goes here). */
  readonly dir: string;
  /** A fresh connection to it (disconnect it when done). */
  client(): Redis;
  /** Kills it (SIGKILL: no save, as a crash) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (it loads `dump.rdb` if there is one). */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
  /** The last 20,000 characters it printed (for a failure's message). */
  log(): string;
  /** Whether its process is running. */
  alive(): boolean;
}

/**
 * Starts `redis-server` on a free port with no persistence (`--save "" --appendonly no`) plus
 * `args`, and waits until it accepts connections (at most 10 s).
 */
export async function ownRedis(args: string[] = [], given: { port?: number } = {}): Promise<OwnRedis> {
  const port = given.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ieum-redis-'));
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    const c = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`redis-server did not start on port ${port}:\n${output}`));
      }, 10_000);
      c.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${REDIS_SERVER}: ${error.message}`));
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) on port ${port}:\n${output}`));
      });
      c.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        log = (log + chunk.toString()).slice(-20_000);
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
    });
  };
  // Should the test process die without stop(), its redis-server goes with it.
  const orphaned = () => child?.kill('SIGKILL');
  process.once('exit', orphaned);
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    client: () => new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 }),
    kill,
    start,
    log: () => log,
    alive: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async stop() {
      process.off('exit', orphaned);
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { exactlyOnceUnderChaos } from '../../realtime/test/helpers.js';

// Shared with the realtime package's tests.
export {
  exactlyOnceUnderChaos,
  fallbackRoundTrip,
  roundRobin as httpRoundRobin,
  until,
} from '../../realtime/test/helpers.js';

/**
 * The two-server chaos run shared by every adapter's tests: two RealtimeServers (one adapter
 * each) behind a balancer that alternates between them and cuts connections at random; every
 * client must end with every message of every channel once, in order, every publish stored once.
 * Closes the clients, balancer, servers and adapters; the caller deletes what the adapters stored.
 */
export async function chaosAcrossTwoServers(
  adapters: Adapter[],
  o: { channels: string[]; clients?: number; publishesPerClient?: number },
): Promise<void> {
  const servers = adapters.map(
    (adapter) =>
      new RealtimeServer({ port: 0, host: '127.0.0.1', adapter, heartbeatIntervalMs: 200, rateLimit: false }),
  );
  await Promise.all(servers.map((s) => new Promise((r) => s.once('listening', r))));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  let turn = 0;
  const balancer = await tcpProxy(() => {
    turn++;
    return ports.map((_, i) => ({ host: '127.0.0.1', port: ports[(turn + i) % ports.length]! }));
  });
  const clients: RealtimeClient[] = [];
  try {
    for (let i = 0; i < (o.clients ?? 4); i++) {
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
      channels: o.channels,
      publishesPerClient: o.publishesPerClient ?? 40,
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
  }
}
