import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import type { ChannelMessage, RequestError } from '../src/client/index.js';
import { DisconnectCode, RealtimeError } from '../src/server/index.js';
import { client, opened, startServer, until } from './helpers.js';

describe('realtime server and client', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it("delivers channel messages to every subscriber in order, and marks the publisher's own", async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    const a = client(url);
    const b = client(url);
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    const got: Record<string, ChannelMessage[]> = { a: [], b: [] };
    a.channel('room').on('message', (m) => got.a!.push(m));
    b.channel('room').on('message', (m) => got.b!.push(m));
    await Promise.all([a.channel('room').subscribe(), b.channel('room').subscribe()]);
    for (let i = 0; i < 20; i++) await a.channel('room').publish('chat', { i });
    await server.publish('room', 'notice', 'from server');
    await until(() => got.b!.length === 21 && got.a!.length === 21);
    assert.deepEqual(
      got.b!.map((m) => m.offset),
      Array.from({ length: 21 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      got.b!.slice(0, 20).map((m) => (m.data as { i: number }).i),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.ok(got.a!.slice(0, 20).every((m) => m.own));
    assert.ok(got.b!.every((m) => !m.own));
    assert.equal(got.b![20]!.event, 'notice');
  });

  it('answers requests in both directions, with errors carrying their code', async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    server.handle('add', (d: { a: number; b: number }) => d.a + d.b);
    server.handle('fail', () => {
      throw new RealtimeError('out-of-stock', 'no more widgets');
    });
    server.handle('crash', () => {
      throw new Error('secret internals');
    });
    const errors: Error[] = [];
    server.on('error', (e) => errors.push(e));
    const c = client(url);
    cleanup.push(() => c.close());
    c.handle('whoami', () => 'a node client');
    assert.equal(await c.request('add', { a: 2, b: 3 }), 5);
    await assert.rejects(
      c.request('fail', null),
      (e: RequestError) => e.code === 'out-of-stock' && e.message === 'no more widgets',
    );
    await assert.rejects(
      c.request('crash', null),
      (e: RequestError) => e.code === 'handler-error' && !e.message.includes('secret'),
    );
    await assert.rejects(c.request('nope', null), (e: RequestError) => e.code === 'unknown-event');
    assert.equal(errors.length, 1);
    const conn = [...server.connections.values()][0]!;
    assert.equal(await conn.request('whoami', null), 'a node client');
    await assert.rejects(conn.request('unknown', null), (e: RealtimeError) => e.code === 'unknown-event');
  });

  it('tracks presence per user across several connections (first join, last leave)', async () => {
    let n = 0;
    const { server, url } = await startServer({
      authenticate: ({ token }) => ({ user: token!, info: { n: ++n } }),
    });
    cleanup.push(() => server.close());
    const watcher = client(url, { token: 'watcher' });
    const tab1 = client(url, { token: 'alice' });
    const tab2 = client(url, { token: 'alice' });
    cleanup.push(
      () => watcher.close(),
      () => tab1.close(),
      () => tab2.close(),
    );
    const events: string[] = [];
    const w = watcher.channel('doc', { presence: true });
    w.on('join', (m) => events.push(`join ${m.user}`));
    w.on('leave', (m) => events.push(`leave ${m.user}`));
    await w.subscribe();
    await tab1.channel('doc').subscribe();
    await tab2.channel('doc').subscribe();
    await until(() => events.includes('join alice'));
    assert.deepEqual((await w.members()).map((m) => m.user).sort(), ['alice', 'watcher']);
    tab1.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!events.includes('leave alice'), 'alice still has a tab open');
    tab2.close();
    await until(() => events.includes('leave alice'));
    assert.deepEqual(
      events.filter((e) => e.includes('alice')),
      ['join alice', 'leave alice'],
    );
    assert.equal(events.filter((e) => e === 'join watcher').length, 1, 'a member is reported once');
  });

  it('refuses bad credentials with 4401 and stops; refuses a forbidden channel with an error', async () => {
    const { server, url } = await startServer({
      authenticate: ({ token }) => {
        if (token !== 'good') throw new Error('bad token');
        return { user: 'u' };
      },
      authorizeChannel: ({ channel }) => !channel.startsWith('admin:'),
    });
    cleanup.push(() => server.close());
    const bad = client(url, { token: 'bad' });
    const info = await new Promise<{ code: number; action: string; reason: string }>((r) =>
      bad.once('disconnect', r),
    );
    assert.deepEqual(info, { code: DisconnectCode.UNAUTHORIZED, reason: 'bad token', action: 'stop' });
    assert.equal(bad.state, 'closed');
    const good = client(url, { token: 'good' });
    cleanup.push(() => good.close());
    await opened(good);
    await assert.rejects(good.channel('admin:x').subscribe(), (e: RequestError) => e.code === 'forbidden');
    await good.channel('public').subscribe();
  });

  it('closes a client that breaks the protocol with 4400 and keeps serving others', async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    const ok = client(url);
    cleanup.push(() => ok.close());
    await opened(ok);
    for (const bad of ['not json', '{"t":"sub","id":1,"ch":"x"}', '[1,2]', '{"t":"hello","v":1}']) {
      const raw = new WebSocket(url, 'ieum.v1.json');
      const closed = new Promise<number>((r) => raw.on('close', (code) => r(code)));
      raw.on('open', () => raw.send(bad));
      assert.equal(await closed, DisconnectCode.PROTOCOL_ERROR, bad);
    }
    const v2 = new WebSocket(url, 'ieum.v1.json');
    v2.on('open', () => v2.send(JSON.stringify({ t: 'hello', v: 2, cid: 'x' })));
    const [code, reason] = await new Promise<[number, string]>((r) =>
      v2.on('close', (c, why) => r([c, why.toString()])),
    );
    assert.equal(code, DisconnectCode.PROTOCOL_ERROR);
    assert.match(reason, /unsupported protocol version 2/);
    const wrong = new WebSocket(url, 'chat.v3');
    const [wrongCode, wrongReason] = await new Promise<[number, string]>((r) =>
      wrong.on('close', (c, why) => r([c, why.toString()])),
    );
    assert.equal(wrongCode, DisconnectCode.PROTOCOL_ERROR);
    assert.match(wrongReason, /use ieum\.v1\.json or ieum\.v1\.msgpack/);
    assert.equal(await ok.request('x', null).catch((e: RequestError) => e.code), 'unknown-event');
  });

  it('closes a flooding client with 4429 (rate limit)', async () => {
    const { server, url } = await startServer({ rateLimit: { messagesPerSecond: 10, burst: 20 } });
    cleanup.push(() => server.close());
    const raw = new WebSocket(url, 'ieum.v1.json');
    const closed = new Promise<number>((r) => raw.on('close', (code) => r(code)));
    raw.on('open', () => {
      raw.send(JSON.stringify({ t: 'hello', v: 1, cid: 'flood' }));
      for (let i = 0; i < 50; i++) raw.send('{"t":"ping"}');
    });
    assert.equal(await closed, DisconnectCode.RATE_LIMITED);
  });

  it('beforePublish validates and transforms client publishes; a refusal reaches the publisher only', async () => {
    const { server, url } = await startServer({
      authenticate: ({ token }) => ({ user: token! }),
      beforePublish: ({ data, connection }) => {
        if (typeof data !== 'string') throw new RealtimeError('bad-request', 'text only');
        return { by: connection.user, text: data.toUpperCase() };
      },
    });
    cleanup.push(() => server.close());
    const c = client(url, { token: 'dora' });
    cleanup.push(() => c.close());
    const got: unknown[] = [];
    const ch = c.channel('x');
    ch.on('message', (m) => got.push(m.data));
    await ch.subscribe();
    await assert.rejects(
      ch.publish('e', 42),
      (e: RequestError) => e.code === 'bad-request' && e.message === 'text only',
    );
    const ack = await ch.publish('e', 'hi');
    assert.equal(ack.offset, 1, 'the refused publish was not stored');
    await until(() => got.length === 1);
    assert.deepEqual(got, [{ by: 'dora', text: 'HI' }]);
  });

  it('a handler that throws without an error listener does not take the process down', async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    server.handle('boom', () => {
      throw new Error('bug in a handler');
    });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const c = client(url);
    cleanup.push(() => c.close());
    await assert.rejects(c.request('boom', null), (e: RequestError) => e.code === 'handler-error');
    await until(() => warnings.includes('bug in a handler'));
    process.off('warning', onWarning);
    assert.equal(c.state, 'open');
  });

  it('serves Prometheus metrics on /metrics when metricsPath asks for it', async () => {
    const { server, url, port } = await startServer({ metricsPath: '/metrics' });
    cleanup.push(() => server.close());
    const c = client(url);
    cleanup.push(() => c.close());
    await c.channel('m').subscribe();
    await c.channel('m').publish('e', 'x');
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^ieum_connections 1$/m);
    assert.match(text, /^ieum_messages_received_total [1-9]/m);
    assert.match(text, /^ieum_bytes_sent_total [1-9]/m);
  });
});
