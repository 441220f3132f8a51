// ws fan-out through Redis pub/sub (ioredis), the classic scale-out of the seed article: a message
// on /fanout is PUBLISHed; what the subscription delivers is sent to every local client in a loop.
// Other paths echo (the runner's warm-up). REDIS_URL, default redis://127.0.0.1:6379.
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import { announce } from './control.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pub = new Redis(url);
const sub = new Redis(url);
const topic = `ws-bench:${process.pid}:fanout`;
await sub.subscribe(topic);
// Created after the subscription is in place, so 'listening' cannot fire before its handler.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
const byId = new Map();
let nextId = 1;
sub.on('messageBuffer', (_channel, message) => {
  // 4-byte sender id, then the payload.
  const except = byId.get(message.readUInt32BE(0));
  const data = message.subarray(4);
  for (const client of wss.clients) {
    if (client !== except && client.readyState === 1) client.send(data, { binary: true });
  }
});
wss.on('connection', (ws, req) => {
  if (req.url === '/fanout') {
    const id = nextId++;
    byId.set(id, ws);
    ws.on('close', () => byId.delete(id));
    ws.on('message', (data) => {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(id);
      pub.publish(topic, Buffer.concat([head, data])).catch(() => ws.terminate());
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => announce({ port: wss.address().port }));
process.on('SIGTERM', () => process.exit(0));
