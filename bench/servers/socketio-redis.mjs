// Socket.IO 4 rooms through Redis, 3 processes (bench/servers/cluster.mjs): each worker is the
// server of socketio-rooms.mjs with @socket.io/redis-adapter (Redis pub/sub between processes;
// no history, no deduplication), or with SIO_ADAPTER=streams @socket.io/redis-streams-adapter (a Redis
// stream, which also gives connection state recovery). REDIS_URL, default redis://127.0.0.1:6379.
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { clustered } from './cluster.mjs';

const streams = process.env.SIO_ADAPTER === 'streams';
if (clustered(3, { BENCH_KEY_PREFIX: `sio-bench:${process.pid}` })) {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const key = process.env.BENCH_KEY_PREFIX;
  const redis = new Redis(url);
  const adapter = streams
    ? createStreamsAdapter(redis, { streamName: `${key}:stream` })
    : createAdapter(redis, redis.duplicate(), { key });
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    pingInterval: 300_000,
    pingTimeout: 60_000,
    adapter,
  });
  io.on('connection', (socket) => {
    socket.join('bench');
    socket.on('bcast', (data) => socket.to('bench').emit('bcast', data));
  });
  httpServer.listen(0, '127.0.0.1');
}
