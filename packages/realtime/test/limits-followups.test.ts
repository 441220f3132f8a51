// Regression tests for hostile-peer follow-ups: capacity refusals close with 1013 (and clients back
// off), closed HTTP sessions free their channels, presence info and message ids are bounded.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DisconnectCode, ErrorCodes, MemoryAdapter, type RealtimeServer } from '../src/server/index.js';
import { client, rawJsonClient as raw, startServer, until } from './helpers.js';

describe('capacity refusals close with 1013 (try again later)', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('an HTTP fallback session refused at the channel limit is closed with 1013, not 1011', async () => {
    const { server, url, port } = await startServer({ adapter: new MemoryAdapter({ maxChannels: 3 }) });
    servers.push(server);
    server.on('error', () => {});
    const c = client(url);
    for (const ch of ['a', 'b', 'c']) await c.channel(ch).subscribe(); // every channel live
    const res = await fetch(`http://127.0.0.1:${port}/realtime/http/open?transport=sse`, {
      method: 'POST',
      body: JSON.stringify({ t: 'hello', v: 1, cid: 'fallback' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { close?: { code: number; reason: string } };
    assert.equal(body.close?.code, DisconnectCode.TRY_AGAIN_LATER, JSON.stringify(body));
    c.close();
  });

  it('a client that the server keeps closing with 1013 after its welcome backs off', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    let connections = 0;
    server.on('connection', (conn) => {
      connections++;
      // After the welcome has gone out (the event comes just before it).
      setTimeout(() => conn.close(DisconnectCode.TRY_AGAIN_LATER, 'overloaded'), 10);
    });
    // Full delays (random 0.999): 20, 40, 80, 160, then 200 ms each when growing across welcomes.
    const c = client(url, { random: () => 0.999 });
    const started = Date.now();
    await until(() => Date.now() - started > 1500, 3000, '1.5 s');
    c.close();
    // Reset at every welcome, the delay would stay ~20 ms: dozens of connections.
    assert.ok(connections <= 12, `${connections} connections in 1.5 s`);
    assert.ok(connections >= 3, `it does retry (${connections})`);
  });
});

describe('closed HTTP fallback sessions free their channels', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it("a closed session's up, down and state channels are deleted, not kept until history ages out", async () => {
    const adapter = new MemoryAdapter();
    const { server, url } = await startServer({ adapter, httpFallback: { closedRetentionMs: 100 } });
    servers.push(server);
    for (const transport of ['sse', 'polling'] as const) {
      const c = client(url, { transports: [transport] });
      await c.channel('room').publish('e', transport);
      c.close();
      await until(() => server.connections.size === 0, 5000, 'the session closed');
    }
    // Only `room` is left once the sessions are forgotten.
    await until(() => adapter.stats.channels === 1, 5000, `channels freed (${adapter.stats.channels})`);
  });
});

describe('presence info and message ids are bounded', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('presence info from authenticate beyond maxPayloadDepth or maxPayloadBytes refuses the connection (4401)', {
    timeout: 10_000,
  }, async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = [deep];
    const infos: Record<string, unknown> = { deep, big: 'y'.repeat(4096), fine: { name: 'ok' } };
    const { server, url } = await startServer({
      maxPayloadBytes: 1024,
      authenticate: ({ token }) => ({ user: token ?? 'anon', info: infos[token ?? ''] }),
    });
    servers.push(server);
    server.on('error', () => {});
    for (const token of ['deep', 'big']) {
      const conn = await raw(url, token, token);
      assert.equal(conn.closed()?.code, DisconnectCode.UNAUTHORIZED, token);
    }
    const c = client(url, { token: 'fine' });
    await c.channel('room', { presence: true }).subscribe();
    assert.deepEqual(await server.presence('room'), [{ user: 'fine', info: { name: 'ok' } }]);
    c.close();
  });

  it('message ids longer than maxMessageIdLength are refused (message-id-too-long), client ids close 4400', {
    timeout: 10_000,
  }, async () => {
    const { server, url } = await startServer({ maxMessageIdLength: 64 });
    servers.push(server);
    const conn = await raw(url);
    conn.ws.send(JSON.stringify({ t: 'pub', id: 1, ch: 'c', ev: 'e', d: 1, mid: 'm'.repeat(65) }));
    conn.ws.send(JSON.stringify({ t: 'pub', id: 2, ch: 'c', ev: 'e', d: 1, mid: 'm'.repeat(64) }));
    const one = await until(() => conn.got.find((m) => m.t === 'res' && m.id === 1), 5000, 'reply 1');
    const two = await until(() => conn.got.find((m) => m.t === 'res' && m.id === 2), 5000, 'reply 2');
    assert.equal((one.err as { code: string } | undefined)?.code, ErrorCodes.MESSAGE_ID_TOO_LONG);
    assert.equal(two.ok, true);
    conn.ws.close();
    const long = await raw(url, 'c'.repeat(65));
    assert.equal(long.closed()?.code, DisconnectCode.PROTOCOL_ERROR);
  });
});
