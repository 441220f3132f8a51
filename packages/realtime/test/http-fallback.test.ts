// HTTP fallbacks: limits and errors of the endpoints, and sessions served by whichever process a
// request reaches (two servers sharing one adapter behind a round-robin proxy: no sticky sessions).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryAdapter, type RealtimeServer } from '../src/server/index.js';
import { client, fallbackRoundTrip, opened, roundRobin, startServer, until } from './helpers.js';

describe('HTTP fallback transports', () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('answers malformed and oversized requests with clear statuses', async () => {
    const { server, port } = await startServer({
      maxMessageBytes: 1024,
      allowedOrigins: ['https://app.example'],
    });
    servers.push(server);
    const base = `http://127.0.0.1:${port}/realtime/http`;
    const status = async (path: string, init?: RequestInit) => {
      const r = await fetch(`${base}/${path}`, init);
      return `${r.status} ${(await r.text()).trim()}`;
    };
    assert.match(await status('nope'), /^404 unknown endpoint/);
    assert.match(await status('open'), /^405 open takes POST/);
    assert.match(await status('send', { method: 'POST', body: 'x' }), /^400 missing or malformed session/);
    assert.match(
      await status(`send?s=${'a'.repeat(32)}`, { method: 'POST', body: '{}' }),
      /^404 unknown session/,
    );
    assert.match(await status(`poll?s=${'a'.repeat(32)}`), /^404 unknown session/);
    assert.match(
      await status('open', { method: 'POST', headers: { origin: 'https://evil.example' } }),
      /^403 Origin not allowed/,
    );
    assert.match(await status('open', { method: 'POST' }), /^400 send the hello in the body of open/);
    const open = await fetch(`${base}/open`, {
      method: 'POST',
      headers: { origin: 'https://app.example' },
      body: JSON.stringify({ t: 'hello', v: 1, cid: 'c' }),
    });
    assert.equal(open.headers.get('access-control-allow-origin'), 'https://app.example');
    const { s } = (await open.json()) as { s: string };
    assert.match(
      await status(`send?s=${s}`, { method: 'POST', body: 'x'.repeat(2000) }),
      /^413 body larger than 1024 bytes/,
    );
    const many = Array.from({ length: 101 }, () => '{"t":"ping"}').join('\n');
    const big = await fetch(`${base}/send?s=${s}`, { method: 'POST', body: many });
    assert.equal(big.status, 413);
    // A malformed message in a valid POST closes the session like a WebSocket would (4400).
    assert.match(await status(`send?s=${s}`, { method: 'POST', body: 'not json' }), /^204/);
    const poll = (await (await fetch(`${base}/poll?s=${s}`)).json()) as {
      entries: Array<{ ev: string; d: { code?: number; reason?: string } }>;
    };
    const last = poll.entries.at(-1)!;
    assert.equal(last.ev, 'close');
    assert.equal(last.d.code, 4400);
    assert.match(last.d.reason ?? '', /JSON/);
  });

  for (const transport of ['sse', 'polling'] as const) {
    it(`${transport}: requests spread over two servers sharing an adapter work (no sticky sessions)`, async () => {
      const adapter = new MemoryAdapter();
      const a = await startServer({ adapter });
      const b = await startServer({ adapter });
      servers.push(a.server, b.server);
      const proxy = await roundRobin([a.port, b.port]);
      try {
        const url = `ws://127.0.0.1:${proxy.port}/realtime`;
        // WebSocket is refused by the proxy: the client falls back on its own.
        const viaProxy = client(url, { transports: ['websocket', transport] });
        const direct = client(a.url);
        await opened(viaProxy);
        assert.equal(viaProxy.transport, transport);
        await fallbackRoundTrip(viaProxy, direct, 'room', transport, proxy.counts);
        viaProxy.close();
        direct.close();
      } finally {
        proxy.close();
      }
    });
  }

  it('moves back to WebSocket once it works again (upgrade probe)', async () => {
    const { server, port } = await startServer();
    servers.push(server);
    const proxy = await roundRobin([port]);
    try {
      const c = client(`ws://127.0.0.1:${proxy.port}/realtime`, { upgradeProbeMs: 100 });
      const got: unknown[] = [];
      c.channel('up').on('message', (m) => got.push(m.data));
      await c.channel('up').subscribe();
      assert.equal(c.transport, 'sse', 'WebSocket refused: fallback');
      await server.publish('up', 'n', 1);
      proxy.allowUpgrades = true;
      await until(() => c.transport === 'websocket' && c.state === 'open', 5000, 'the move to websocket');
      await server.publish('up', 'n', 2);
      await until(() => got.length === 2);
      assert.deepEqual(got, [1, 2], 'nothing lost or repeated across the move');
      c.close();
    } finally {
      proxy.close();
    }
  });
});
