// ieum realtime through Redis, 3 processes (bench/servers/cluster.mjs): each worker is the
// server of ieum-realtime.mjs with @ieum/redis's RedisAdapter (Lua publish with offsets and
// dedupe, stream history, sharded pub/sub; history and dedupe on, as by default). The control
// connection's events are published by whichever worker it reached; every worker delivers them
// to its own subscribers when its Redis subscription has them. REDIS_URL, default
// redis://127.0.0.1:6379.

import { RealtimeServer } from '@ieum/realtime/server';
import { RedisAdapter } from '@ieum/redis';
import { clustered } from './cluster.mjs';

if (clustered(3, { BENCH_KEY_PREFIX: `ieum-bench-rt:${process.pid}:` })) {
  const adapter = new RedisAdapter({
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: process.env.BENCH_KEY_PREFIX,
    history: { maxMessages: 1000, maxAgeMs: 60_000 },
  });
  const rt = new RealtimeServer({
    port: 0,
    host: '127.0.0.1',
    adapter,
    rateLimit: false,
    inputBytesPerSecond: false,
    subscribeRateLimit: false,
    channelRate: false,
    heartbeatIntervalMs: 300_000,
    helloTimeoutMs: 60_000,
    httpFallback: false,
  });
  rt.handle('bcast', (data) => rt.publish('bench', 'bcast', data).then(() => undefined));
  rt.on('error', (error) => process.stderr.write(`realtime error: ${error.message}\n`));
}
