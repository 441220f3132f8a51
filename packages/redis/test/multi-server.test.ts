// Scale-out end to end: two RealtimeServer processes (here: two servers in one process, each with
// its own RedisAdapter and Redis connections) behind one address, Node clients on both.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { type ChannelMessage, RealtimeClient, type RealtimeClientOptions } from '@ieum/realtime/client';
import { RealtimeServer, type RealtimeServerOptions } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { RedisAdapter, type RedisAdapterOptions } from '../src/index.js';
import {
  deleteKeys,
  fallbackRoundTrip,
  httpRoundRobin,
  requireRedis,
  tcpProxy,
  testPrefix,
  until,
} from './helpers.js';

const url = await requireRedis();
const keyPrefix = testPrefix('servers');
const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
  await deleteKeys(keyPrefix);
});

/** A server with its own RedisAdapter; users are named by their token. */
async function startNode(
  options: RealtimeServerOptions = {},
  adapterOptions: Omit<RedisAdapterOptions, 'url' | 'keyPrefix'> = {},
) {
  const adapter = new RedisAdapter({ url, keyPrefix, ...adapterOptions });
  const server = new RealtimeServer({
    port: 0,
    host: '127.0.0.1',
    adapter,
    authenticate: ({ token }) => ({ user: token ?? 'anonymous', info: { name: token } }),
    ...options,
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const node = { server, adapter, port, url: `ws://127.0.0.1:${port}/realtime` };
  cleanup.push(async () => {
    await server.close();
    await adapter.close();
  });
  return node;
}

function client(address: string, options: RealtimeClientOptions = {}): RealtimeClient {
  const c = new RealtimeClient(address, {
    WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  cleanup.push(() => c.close());
  return c;
}

describe('two RealtimeServers sharing one Redis', () => {
  it('lets clients on different servers share a channel: messages in one order, presence', async () => {
    const one = await startNode();
    const two = await startNode();
    const alice = client(one.url, { token: 'alice' });
    const bob = client(two.url, { token: 'bob' });
    const a = alice.channel<Record<string, string>>('room', { presence: true });
    const b = bob.channel<Record<string, string>>('room', { presence: true });
    const got: Record<string, ChannelMessage<Record<string, string>>[]> = { alice: [], bob: [] };
    const seen: string[] = [];
    a.on('message', (m) => got.alice!.push(m));
    b.on('message', (m) => got.bob!.push(m));
    a.on('join', (m) => seen.push(`alice saw join ${m.user}`));
    a.on('leave', (m) => seen.push(`alice saw leave ${m.user}`));
    await a.subscribe();
    const subscribed = await b.subscribe();
    assert.deepEqual(
      subscribed.members?.map((m) => m.user).sort(),
      ['alice', 'bob'],
      "bob's server lists alice, who is on the other server",
    );
    await until(() => seen.includes('alice saw join bob'), 3000, 'the join across servers');

    for (let i = 0; i < 10; i++) {
      await a.publish('say', `a${i}`);
      await b.publish('say', `b${i}`);
    }
    await one.server.publish('room', 'notice', 'from server one');
    await until(() => got.alice!.length === 21 && got.bob!.length === 21, 5000, 'every message on both');
    for (const who of ['alice', 'bob']) {
      assert.deepEqual(
        got[who]!.map((m) => m.offset),
        Array.from({ length: 21 }, (_, i) => i + 1),
        `${who}: offsets 1..21 in order`,
      );
    }
    assert.deepEqual(
      got.alice!.map((m) => m.data),
      got.bob!.map((m) => m.data),
      'one order for everyone',
    );
    assert.ok(got.alice!.filter((m) => m.own).every((m) => m.data.startsWith('a')));
    assert.deepEqual((await a.members()).map((m) => m.user).sort(), ['alice', 'bob']);

    bob.close();
    await until(() => seen.includes('alice saw leave bob'), 3000, 'the leave across servers');
    assert.deepEqual(await one.server.presence('room'), [{ user: 'alice', info: { name: 'alice' } }]);
  });

  it('moves a client to the other server when its server shuts down; it recovers every message once, in order', {
    timeout: 60_000,
  }, async () => {
    const one = await startNode();
    const two = await startNode();
    // The load balancer: new connections go to server one while it accepts them, else to two.
    const balancer = await tcpProxy(() => [
      { host: '127.0.0.1', port: one.port },
      { host: '127.0.0.1', port: two.port },
    ]);
    cleanup.push(() => balancer.close());
    const reader = client(`ws://127.0.0.1:${balancer.port}/realtime`, { token: 'reader' });
    const writer = client(two.url, { token: 'writer' });
    const received: ChannelMessage<Record<string, number>>[] = [];
    const resets: string[] = [];
    const feed = reader.channel<Record<string, number>>('feed');
    feed.on('message', (m) => received.push(m));
    feed.on('reset', (reason) => resets.push(String(reason)));
    const resubscribed: Array<{ recovered?: boolean; off: number; had: number }> = [];
    feed.on('subscribed', (r) =>
      resubscribed.push({ recovered: r.recovered, off: r.off, had: received.length }),
    );
    await feed.subscribe();
    assert.equal(one.server.connections.size, 1, 'the reader starts on server one');

    const TOTAL = 200;
    const publishing = (async () => {
      const acks = [];
      for (let i = 1; i <= TOTAL; i++) {
        acks.push(writer.channel<Record<string, number>>('feed').publish('tick', i));
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 10));
      }
      return Promise.all(acks);
    })();
    await until(() => received.length >= 40, 5000, 'some messages before the shutdown');
    await one.server.close({ timeoutMs: 1000 }); // 1012 to its clients; they reconnect elsewhere
    const acks = await publishing;

    await until(() => received.length >= TOTAL, 10_000, 'every message after the move');
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would show up here
    assert.equal(two.server.connections.size, 2, 'the reader is now on server two');
    assert.deepEqual(resets, [], 'recovered, not reset');
    const moved = resubscribed[1]!;
    assert.equal(moved.recovered, true);
    assert.ok(
      moved.off > moved.had,
      `messages were published during the move (${moved.had} -> ${moved.off})`,
    );
    assert.deepEqual(
      received.map((m) => m.offset),
      Array.from({ length: TOTAL }, (_, i) => i + 1),
      'offsets 1..TOTAL once each, in order',
    );
    assert.deepEqual(
      received.map((m) => m.data),
      Array.from({ length: TOTAL }, (_, i) => i + 1),
    );
    assert.equal(new Set(acks.map((a) => a.offset)).size, TOTAL, 'every publish stored once');
  });

  it('survives a crashed server: its clients move and recover, and its users who do not come back leave after presenceTtlMs', {
    timeout: 60_000,
  }, async () => {
    const one = await startNode({}, { presenceTtlMs: 600 });
    const two = await startNode({}, { presenceTtlMs: 600 });
    one.server.on('error', () => {}); // its adapter is gone after the crash
    let oneAlive = true;
    const balancer = await tcpProxy(() => [
      ...(oneAlive ? [{ host: '127.0.0.1', port: one.port }] : []),
      { host: '127.0.0.1', port: two.port },
    ]);
    cleanup.push(() => balancer.close());
    const address = `ws://127.0.0.1:${balancer.port}/realtime`;
    const reader = client(address, { token: 'reader' });
    const ghost = client(address, { token: 'ghost', reconnect: false });
    const watcher = client(two.url, { token: 'watcher' });
    const received: number[] = [];
    const feed = reader.channel<Record<string, number>>('crash-feed');
    feed.on('message', (m) => received.push(m.offset));
    const presence: string[] = [];
    const watched = watcher.channel<Record<string, number>>('crash-feed', { presence: true });
    // (The client also reports the members of its subscribe result, itself included, as joins.)
    watched.on('join', (m) => m.user !== 'watcher' && presence.push(`join ${m.user}`));
    watched.on('leave', (m) => presence.push(`leave ${m.user}`));
    await watched.subscribe();
    await feed.subscribe();
    await ghost.channel('crash-feed').subscribe();
    assert.equal(one.server.connections.size, 2, 'reader and ghost start on server one');
    await until(() => presence.length === 2, 3000, `their joins: ${presence}`);

    for (let i = 1; i <= 20; i++) await watched.publish('tick', i);
    await until(() => received.length === 20, 3000, 'live messages');
    // The crash: no cleanup reaches Redis, sockets die without a close frame, no new connections.
    one.adapter.disconnectForTest();
    oneAlive = false;
    for (const ws of one.server.wss.clients) ws.terminate();
    const crashed = Date.now();
    for (let i = 21; i <= 60; i++) await watched.publish('tick', i);

    await until(() => received.length === 60, 10_000, 'recovery on server two');
    assert.deepEqual(
      received,
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    await until(() => presence.includes('leave ghost'), 3000, "the ghost's leave");
    assert.ok(Date.now() - crashed >= 300, 'the leave came from expiry, not from a cleanup');
    assert.deepEqual(
      presence,
      ['join reader', 'join ghost', 'leave ghost'],
      'the reader never left: it moved',
    );
    assert.deepEqual((await watched.members()).map((m) => m.user).sort(), ['reader', 'watcher']);
  });

  for (const transport of ['sse', 'polling'] as const) {
    it(`${transport}: a fallback session works when every request lands on another server`, async () => {
      const one = await startNode();
      const two = await startNode();
      const proxy = await httpRoundRobin([one.port, two.port]);
      cleanup.push(() => proxy.close());
      // WebSocket is refused by the proxy: the client falls back by itself.
      const viaProxy = client(`ws://127.0.0.1:${proxy.port}/realtime`, {
        token: 'fallback',
        transports: ['websocket', transport],
      });
      const direct = client(two.url, { token: 'direct' });
      const room = `http-room-${transport}`;
      await fallbackRoundTrip(viaProxy, direct, room, transport, proxy.counts);
      viaProxy.close();
    });
  }
});
