// ieum fan-out through Redis (@ieum/redis): a message on /fanout is published with RedisAdapter
// (Lua publish with dedupe and offsets, stream history, sharded pub/sub) and broadcast, encoded
// once, when the adapter's subscription delivers it: the path a message takes between processes.
// Other paths echo (the runner's warm-up). REDIS_URL, default redis://127.0.0.1:6379.
import { RedisAdapter } from '@ieum/redis';
import { WebSocketServer } from '@ieum/websocket';
import { announce } from './control.mjs';

const adapter = new RedisAdapter({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  keyPrefix: `ieum-bench:${process.pid}:`,
  history: { maxMessages: 1000, maxAgeMs: 60_000 },
});
adapter.on?.('error', () => {});
const byId = new Map();
let nextId = 1;
let wss;
await adapter.subscribe('fanout', (event) => {
  if (event.type !== 'message') return;
  const except = byId.get(event.entry.except);
  wss?.broadcast(event.entry.d, { binary: true, ...(except ? { except } : {}) });
});
// Created after the subscription is in place, so 'listening' cannot fire before its handler.
wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
wss.on('connection', (ws, req) => {
  if (req.url === '/fanout') {
    const id = String(nextId++);
    byId.set(id, ws);
    ws.on('close', () => byId.delete(id));
    ws.on('message', (data) => {
      adapter.publish('fanout', { ev: 'm', d: data, except: id }).catch(() => ws.terminate());
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => announce({ port: wss.address().port }));
process.on('SIGTERM', () => adapter.close().finally(() => process.exit(0)));
