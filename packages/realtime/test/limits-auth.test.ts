import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { SignJWT } from 'jose';
import { DisconnectCode, jwtAuthenticator, type RealtimeServer } from '../src/server/index.js';
import { client, opened, startServer, until } from './helpers.js';

/** A raw protocol client that subscribes to `channel` and then stops reading its socket. */
async function stalledSubscriber(url: string, channel: string) {
  const ws = new WebSocket(url, 'ieum.v1.json');
  const received: Array<{ t: string; d?: unknown; off?: number }> = [];
  let closeCode = 0;
  ws.on('message', (d) => received.push(JSON.parse(d.toString())));
  ws.on('close', (code) => {
    closeCode = code;
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'stalled' }));
  ws.send(JSON.stringify({ t: 'sub', id: 1, ch: channel }));
  await until(() => received.some((m) => m.t === 'res'), 5000, 'subscribed');
  ws.pause();
  return { ws, received, closeCode: () => closeCode };
}

const big = 'x'.repeat(64 * 1024);

describe('slow consumers', () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('disconnect policy: closes a connection that stops reading with 4409, others keep getting messages', async () => {
    const { server, url } = await startServer({ outbound: { maxQueuedMessages: 10, highWaterBytes: 1024 } });
    servers.push(server);
    const healthy = client(url);
    let got = 0;
    healthy.channel('feed').on('message', () => got++);
    await healthy.channel('feed').subscribe();
    const slow = await stalledSubscriber(url, 'feed');
    for (let i = 0; i < 400 && slow.closeCode() === 0; i++) {
      await server.publish('feed', 'tick', big);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    slow.ws.resume();
    await until(() => slow.closeCode() !== 0, 10_000, 'the slow consumer to be closed');
    assert.equal(slow.closeCode(), DisconnectCode.SLOW_CONSUMER);
    await server.publish('feed', 'tick', 'after');
    await until(() => got > 0 && healthy.state === 'open');
    healthy.close();
  });

  it('latest policy: keeps only the newest queued value per key', async () => {
    const { server, url } = await startServer({
      outbound: { maxQueuedMessages: 5, highWaterBytes: 1024, policy: 'latest' },
    });
    servers.push(server);
    const slow = await stalledSubscriber(url, 'game');
    // Fill the socket, then send 50 updates for each of 3 keys.
    for (let i = 0; i < 300; i++) await server.publish('game', 'fill', big, { key: 'fill' });
    for (let i = 0; i < 50; i++) {
      for (const key of ['p1', 'p2', 'p3']) await server.publish('game', 'pos', { key, i }, { key });
    }
    assert.equal(slow.closeCode(), 0, 'keyed updates never overflow the queue');
    slow.ws.resume();
    await until(
      () =>
        ['p1', 'p2', 'p3'].every((k) =>
          slow.received.some(
            (m) => (m.d as { key?: string; i?: number })?.key === k && (m.d as { i: number }).i === 49,
          ),
        ),
      10_000,
      'the latest positions',
    );
    const positions = slow.received.filter((m) => (m.d as { key?: string })?.key !== undefined);
    assert.ok(
      positions.length < 150,
      `superseded positions were dropped (${positions.length} of 150 arrived)`,
    );
    slow.ws.close();
  });

  it('latest policy: a keyed emit replaces the queued emit of the same event and key', async () => {
    const { server, url } = await startServer({
      outbound: { maxQueuedMessages: 5, highWaterBytes: 1024, policy: 'latest' },
    });
    servers.push(server);
    const slow = await stalledSubscriber(url, 'lobby');
    const conn = [...server.connections.values()][0]!;
    // Fill the socket, then send 100 snapshots under one key, and 100 under another event.
    for (let i = 0; i < 300; i++) conn.emit('fill', big, { key: 'fill' });
    for (let i = 0; i < 100; i++) {
      conn.emit('snapshot', { i }, { key: 'state' });
      conn.emit('score', { i }, { key: 'state' });
    }
    assert.equal(slow.closeCode(), 0, 'keyed emits never overflow the queue');
    assert.ok(conn.queuedMessages <= 3, `one queued emit per event and key (${conn.queuedMessages})`);
    slow.ws.resume();
    const last = (ev: string) =>
      slow.received.some(
        (m) => m.t === 'emit' && (m as { ev?: string }).ev === ev && (m.d as { i: number }).i === 99,
      );
    await until(() => last('snapshot') && last('score'), 10_000, 'the latest snapshot and score');
    const snapshots = slow.received.filter((m) => (m as { ev?: string }).ev === 'snapshot');
    assert.ok(
      snapshots.length < 100,
      `superseded snapshots were dropped (${snapshots.length} of 100 arrived)`,
    );
    slow.ws.close();
  });
});

describe('JWT authentication', () => {
  const secret = 'test-secret-at-least-32-bytes-long!!';
  const sign = (sub: string, seconds: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(new TextEncoder().encode(secret));
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('accepts a valid token, refreshes it before expiry, and closes 4402 when it is not refreshed', async () => {
    const { server, url } = await startServer({
      authenticate: jwtAuthenticator({ secret, clockToleranceSeconds: 0 }),
      tokenRefreshLeadMs: 1500,
    });
    servers.push(server);
    let issued = 0;
    const refreshing = client(url, {
      token: () => {
        issued++;
        return sign('alice', 2);
      },
    });
    const staticToken = client(url, { token: await sign('bob', 2), reconnect: false });
    await Promise.all([opened(refreshing), opened(staticToken)]);
    assert.equal(refreshing.user, 'alice');
    const closed = new Promise<number>((r) => staticToken.once('disconnect', (i) => r(i.code)));
    assert.equal(await closed, DisconnectCode.TOKEN_EXPIRED);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(refreshing.state, 'open', 'the refreshed connection outlives its first token');
    assert.ok(issued >= 2, 'the client was asked for a fresh token');
    refreshing.close();
  });

  it('refuses a token signed with another key, or without a subject, with 4401', async () => {
    const { server, url } = await startServer({ authenticate: jwtAuthenticator({ secret }) });
    servers.push(server);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough!!'));
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));
    for (const token of [forged, noSub, 'not-a-jwt']) {
      const c = client(url, { token });
      const info = await new Promise<{ code: number; action: string }>((r) => c.once('disconnect', r));
      assert.deepEqual([info.code, info.action], [DisconnectCode.UNAUTHORIZED, 'stop']);
    }
    assert.throws(() => jwtAuthenticator({}), /exactly one of `secret` or `jwksUrl`/);
  });
});

describe('graceful shutdown', () => {
  it('closes every connection with 1012, which clients treat as "reconnect"', async () => {
    const { server, url } = await startServer();
    const clients = Array.from({ length: 5 }, () => client(url));
    await Promise.all(clients.map(opened));
    const infos = clients.map(
      (c) => new Promise<{ code: number; action: string }>((r) => c.once('disconnect', r)),
    );
    await server.close({ batchSize: 2, batchIntervalMs: 10 });
    for (const info of await Promise.all(infos)) {
      assert.deepEqual([info.code, info.action], [DisconnectCode.SERVICE_RESTART, 'reconnect']);
    }
    assert.equal(server.connections.size, 0);
    for (const c of clients) c.close();
  });
});
