// The hub's fan-out batches: a burst of publishes that arrives in one input chunk reaches each
// subscriber in one socket write, each message encoded and framed once for all of them. Writes
// are counted on the server-side sockets, handed to the server through `handleUpgrade`.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '@ieum/websocket';
import { RealtimeServer, type RealtimeServerOptions } from '../src/server/index.js';
import { until } from './helpers.js';

/** A realtime server behind an HTTP server of ours that counts `write` calls per socket. */
async function countingServer(options: RealtimeServerOptions = {}) {
  const rt = new RealtimeServer({ noServer: true, httpFallback: false, ...options });
  /** Socket writes by the client's port (the server socket's remote port). */
  const writes = new Map<number, number>();
  const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
  httpServer.on('upgrade', (req, socket: Socket, head) => {
    const port = socket.remotePort!;
    writes.set(port, 0);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      writes.set(port, writes.get(port)! + 1);
      return write(...args);
    }) as typeof socket.write;
    rt.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/realtime`;
  const close = async () => {
    await rt.close({ timeoutMs: 1000 });
    httpServer.closeAllConnections();
    await new Promise((r) => httpServer.close(r));
  };
  return { rt, url, writes, close };
}

/** A raw JSON client, welcomed, and subscribed to `channel` unless `channel` is undefined. */
async function rawClient(url: string, cid: string, channel: string | undefined, deflate: boolean) {
  const ws = new WebSocket(url, 'ieum.v1.json', { perMessageDeflate: deflate });
  const got: Array<Record<string, unknown>> = [];
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ t: 'hello', v: 1, cid }));
  await until(() => got.find((m) => m.t === 'welcome'), 5000, `${cid} welcomed`);
  if (channel !== undefined) {
    ws.send(JSON.stringify({ t: 'sub', id: 1, ch: channel }));
    await until(() => got.find((m) => m.t === 'res' && m.id === 1), 5000, `${cid} subscribed`);
  }
  return { ws, got };
}

async function burst(deflate: boolean) {
  const server = await countingServer(deflate ? { perMessageDeflate: true } : {});
  const subscribers = await Promise.all(
    ['a', 'b', 'c'].map((cid) => rawClient(server.url, cid, 'room', deflate)),
  );
  const publisher = await rawClient(server.url, 'pub', undefined, deflate);
  try {
    if (deflate) {
      for (const s of subscribers) assert.match(s.ws.extensions, /permessage-deflate/, 'deflate negotiated');
    }
    // The server-side socket of each subscriber, by the order they connected.
    const ports = [...server.writes.keys()].slice(0, 3);
    assert.equal(ports.length, 3);
    for (const p of ports) server.writes.set(p, 0);
    const texts = ['1', '2', '3', '4', '5', '6', '7', '8'];
    // Eight publishes in one client write: they reach the server in one input chunk.
    WebSocketServer.batch(() => {
      texts.forEach((text, i) => {
        publisher.ws.send(
          JSON.stringify({ t: 'pub', id: 10 + i, ch: 'room', ev: 'say', d: text, mid: `m${i}` }),
        );
      });
    });
    for (const s of subscribers) {
      await until(() => s.got.filter((m) => m.t === 'msg').length === 8, 5000, 'eight messages');
      const msgs = s.got.filter((m) => m.t === 'msg');
      assert.deepEqual(
        msgs.map((m) => m.d),
        texts,
      );
      assert.deepEqual(
        msgs.map((m) => m.off),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
    }
    await until(() => publisher.got.filter((m) => m.t === 'res').length === 8, 5000, 'eight acks');
    assert.deepEqual(
      ports.map((p) => server.writes.get(p)),
      [1, 1, 1],
      'one socket write per subscriber for the whole burst',
    );
  } finally {
    for (const c of [...subscribers, publisher]) c.ws.terminate();
    await server.close();
  }
}

describe('Hub fan-out batching', () => {
  it(
    'delivers eight publishes from one input chunk in one socket write per subscriber',
    { timeout: 15_000 },
    () => burst(false),
  );

  it('does the same for subscribers that negotiated permessage-deflate', { timeout: 15_000 }, () =>
    burst(true),
  );

  it('rt.publish calls made in one turn leave in one socket write per subscriber', {
    timeout: 15_000,
  }, async () => {
    const server = await countingServer();
    const subscribers = await Promise.all(['a', 'b'].map((cid) => rawClient(server.url, cid, 'room', false)));
    try {
      const ports = [...server.writes.keys()];
      for (const p of ports) server.writes.set(p, 0);
      await Promise.all([1, 2, 3, 4, 5].map((n) => server.rt.publish('room', 'n', n)));
      for (const s of subscribers) {
        await until(() => s.got.filter((m) => m.t === 'msg').length === 5, 5000, 'five messages');
        assert.deepEqual(
          s.got.filter((m) => m.t === 'msg').map((m) => m.d),
          [1, 2, 3, 4, 5],
        );
      }
      assert.deepEqual(
        ports.map((p) => server.writes.get(p)),
        [1, 1],
      );
    } finally {
      for (const c of subscribers) c.ws.terminate();
      await server.close();
    }
  });
});
