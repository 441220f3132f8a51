import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { backoffDelay, type ChannelMessage, DEFAULT_BACKOFF, type StorageLike } from '../src/client/index.js';
import { DisconnectCode, type RealtimeServer } from '../src/server/index.js';
import { client, opened, startServer, until } from './helpers.js';

class MapStorage implements StorageLike {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
}

describe('client persistence and policies', () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('with storage, a new client (a reloaded page) recovers what it missed and sends what it could not', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    const storage = new MapStorage();
    const first = client(url, { storage });
    const got1: number[] = [];
    first.channel('news').on('message', (m) => got1.push(m.data as number));
    await first.channel('news').subscribe();
    for (let i = 1; i <= 3; i++) await server.publish('news', 'n', i);
    await until(() => got1.length === 3);
    first.close(); // the page goes away

    for (let i = 4; i <= 6; i++) await server.publish('news', 'n', i);

    // Offline publishes persist too: a client that cannot reach any server...
    const dead = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => r(port));
      });
    });
    const offline = client(`ws://127.0.0.1:${dead}/realtime`, { storage });
    void offline
      .channel('news')
      .publish('n', 100)
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 150));
    offline.close();

    const reloaded = client(url, { storage });
    const got2: ChannelMessage[] = [];
    reloaded.channel('news').on('message', (m) => got2.push(m));
    const result = await reloaded.channel('news').subscribe();
    assert.equal(result.recovered, true);
    await until(() => got2.length === 4);
    assert.deepEqual(
      got2.map((m) => m.data),
      [4, 5, 6, 100],
      'the missed messages, then the offline publish, once',
    );
    assert.equal(got2[3]!.own, true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got2.length, 4);
    reloaded.close();
  });

  it('drop policy: a stalled connection stays open and the drops are counted', async () => {
    const { server, url, port } = await startServer({
      outbound: { maxQueuedMessages: 5, highWaterBytes: 1024, policy: 'drop' },
      metricsPath: '/metrics',
    });
    servers.push(server);
    const ws = new WebSocket(url, 'ieum.v1.json');
    let closed = 0;
    ws.on('close', (c) => {
      closed = c;
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'x' }));
    ws.send(JSON.stringify({ t: 'sub', id: 1, ch: 'c' }));
    await until(() => server.connections.size === 1);
    await new Promise((r) => setTimeout(r, 50));
    ws.pause();
    for (let i = 0; i < 300; i++) await server.publish('c', 'e', 'y'.repeat(64 * 1024));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const dropped = Number(/^ieum_outbound_dropped_total (\d+)/m.exec(text)?.[1]);
    assert.ok(dropped > 0, `some messages were dropped (${dropped})`);
    assert.equal(closed, 0);
    assert.equal(server.connections.size, 1);
    ws.terminate();
  });

  it('closes a client that stops answering heartbeats with 4408', async () => {
    const { server, url } = await startServer({ heartbeatIntervalMs: 100 });
    servers.push(server);
    const ws = new WebSocket(url, 'ieum.v1.json');
    const code = new Promise<number>((r) => ws.on('close', (c) => r(c)));
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'silent' })));
    // Never answers the server's pings.
    assert.equal(await code, DisconnectCode.HEARTBEAT_TIMEOUT);
  });

  it('refuses a browser Origin that is not allowed (403) and accepts an allowed one', async () => {
    const { server, url } = await startServer({ allowedOrigins: ['https://app.example'] });
    servers.push(server);
    const refused = new WebSocket(url, 'ieum.v1.json', { headers: { origin: 'https://evil.example' } });
    const status = await new Promise<number>((r) =>
      refused.on('unexpected-response', (_req, res) => r(res.statusCode!)),
    );
    assert.equal(status, 403);
    refused.on('error', () => {});
    const ok = client(url, {});
    await opened(ok);
    ok.close();
  });

  it('backoff uses full jitter below an exponentially growing, capped ceiling', () => {
    const o = { ...DEFAULT_BACKOFF, initialDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(
      backoffDelay(0, o, () => 0.999),
      99,
    );
    assert.equal(
      backoffDelay(3, o, () => 0.5),
      400,
    );
    assert.equal(
      backoffDelay(10, o, () => 0.999),
      999,
    );
    assert.equal(
      backoffDelay(10, o, () => 0),
      0,
    );
  });
});

describe('client close', () => {
  it('settles pending publishes and requests with "disconnected", and keeps publishes in storage', async () => {
    const { server, url } = await startServer();
    server.handle('slow', () => new Promise((r) => setTimeout(() => r('late'), 2000)));
    const storage = new MapStorage();
    const c = client(url, { storage });
    await opened(c);
    const request = c.request('slow', null);
    await new Promise((r) => setTimeout(r, 50));
    for (const conn of server.connections.values()) conn.ws.pause(); // the publish below gets no ack
    const publish = c.channel('x').publish('e', 1);
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    const outcomes = await Promise.allSettled([request, publish]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code: string }).code : o.status)),
      ['disconnected', 'disconnected'],
    );
    const saved = JSON.parse(storage.getItem('ieum-realtime')!) as { outbox: unknown[] };
    assert.equal(saved.outbox.length, 1, 'the unacknowledged publish stays in storage');
    await server.close({ timeoutMs: 500 });
  });
});
