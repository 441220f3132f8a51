// HTTP fallbacks against hostile clients, on the wire: request targets that are not URLs, POSTs to
// sessions that are not authenticated or closed, unknown session ids, floods of POSTs and opens,
// streams that are never read, and metrics that are not for the public.
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  type Adapter,
  type ChannelEntry,
  MemoryAdapter,
  type RealtimeServer,
  RealtimeServer as Server,
} from '../src/server/index.js';
import { startServer, until } from './helpers.js';

const hello = (cid = 'c', token?: string) =>
  JSON.stringify({ t: 'hello', v: 1, cid, ...(token ? { token } : {}) });

/** The status code of a raw request sent byte for byte (targets fetch would refuse to send). */
function rawStatus(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no status for ${target}: ${JSON.stringify(data)}`)));
    socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

async function open(
  base: string,
  body: string = hello(),
  transport: 'sse' | 'polling' = 'sse',
): Promise<{ status: number; s?: string; close?: { code: number; reason: string } }> {
  const r = await fetch(`${base}/open?transport=${transport}`, { method: 'POST', body });
  const text = await r.text();
  return {
    status: r.status,
    ...(r.headers.get('content-type') === 'application/json' ? JSON.parse(text) : {}),
  };
}

const post = async (base: string, path: string, body = '') =>
  (await fetch(`${base}/${path}`, { method: 'POST', body })).status;

/** Bytes of every entry in `channel`'s history. */
async function storedBytes(adapter: Adapter, channel: string): Promise<number> {
  const { epoch } = await adapter.position(channel);
  const h = await adapter.history(channel, { epoch, offset: 0 });
  assert.ok(h.ok);
  return h.entries.reduce((n: number, e: ChannelEntry) => n + JSON.stringify(e.d).length, 0);
}

/** A MemoryAdapter recording which methods were called. */
function spyAdapter(): { adapter: MemoryAdapter; calls: string[] } {
  const calls: string[] = [];
  const target = new MemoryAdapter();
  const adapter = new Proxy(target, {
    get(t, key, receiver) {
      const v = Reflect.get(t, key, receiver);
      if (typeof v !== 'function' || key === 'close') return v;
      return (...args: unknown[]) => {
        calls.push(`${String(key)} ${String(args[0])}`);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { adapter, calls };
}

describe('HTTP fallbacks against hostile clients', () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  const start = async (options: ConstructorParameters<typeof Server>[0] = {}) => {
    const started = await startServer(options);
    servers.push(started.server);
    return { ...started, base: `http://127.0.0.1:${started.port}/realtime/http` };
  };
  const targets = ['http://:99999/', 'http://[::1/', 'http://a%zz/', 'http://:99999/realtime/http/open'];

  it('answers 400 to request targets that are not URLs instead of exiting', { timeout: 10_000 }, async () => {
    const { port } = await start();
    for (const target of targets) assert.equal(await rawStatus(port, target), 400, target);
    assert.equal(await rawStatus(port, '/realtime/http/nope'), 404, 'still serving');
  });

  it('answers 400 to such targets through handleRequest in server mode', { timeout: 10_000 }, async () => {
    const httpServer = http.createServer((req, res) => {
      if (rt.handleRequest(req, res)) return;
      res.writeHead(200).end('app');
    });
    const rt = new Server({ server: httpServer });
    servers.push(rt);
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    const { port } = httpServer.address() as AddressInfo;
    try {
      for (const target of targets) assert.equal(await rawStatus(port, target), 400, target);
      assert.equal(await rawStatus(port, '/'), 200, 'still serving');
    } finally {
      httpServer.close();
    }
  });

  it('stores nothing for a session that failed authentication or was closed', {
    timeout: 10_000,
  }, async () => {
    const { adapter, calls } = spyAdapter();
    const { base } = await start({
      adapter,
      authenticate: ({ token }) => {
        if (token !== 'good') throw new Error('bad token');
        return { user: 'u' };
      },
    });
    const refused = await open(base, hello('c', 'bad'));
    assert.deepEqual(refused.close, { code: 4401, reason: 'bad token' });
    assert.equal(calls.length, 0, `a refused hello touches no adapter: ${calls.join(', ')}`);

    const { s } = await open(base, hello('c', 'good'));
    assert.ok(s);
    assert.equal(await post(base, `close?s=${s}`), 204);
    const big = 'x'.repeat(512 * 1024);
    for (let i = 0; i < 8; i++) assert.equal(await post(base, `send?s=${s}`, big), 410);
    assert.equal(calls.filter((c) => c.startsWith(`publish $s:${s}:up`)).length, 0);
    assert.equal(await storedBytes(adapter, `$s:${s}:up`), 0);
  });

  it('rate limits POSTs per session in bytes, and keeps nothing of a refused one', {
    timeout: 10_000,
  }, async () => {
    // Two servers share the adapter: POSTs reaching the one that does not run the session go
    // through the up channel, where they would be stored.
    const adapter = new MemoryAdapter();
    const httpFallback = { maxBodyBytes: 10_000, sendBytesPerSecond: 1000, sendBurstBytes: 20_000 };
    const a = await start({ adapter, httpFallback });
    const b = await start({ adapter, httpFallback });
    const { s } = await open(a.base);
    assert.ok(s);
    const body = JSON.stringify({ t: 'ping', pad: 'p'.repeat(9000) });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await post(b.base, `send?s=${s}`, body));
    assert.deepEqual(statuses.slice(0, 2), [204, 204]);
    assert.ok(
      statuses.slice(2).every((x) => x === 429),
      String(statuses),
    );
    assert.ok((await storedBytes(adapter, `$s:${s}:up`)) <= 20_000 + 200, 'no more than the burst stored');
  });

  it('limits opens per client address and while authenticating', { timeout: 10_000 }, async () => {
    const { base } = await start({ httpFallback: { maxSessionsPerIp: 3 } });
    for (let i = 0; i < 3; i++) assert.ok((await open(base)).s);
    assert.equal((await open(base)).status, 429);

    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let authenticating = 0;
    const slow = await start({
      httpFallback: { maxPendingSessions: 2 },
      authenticate: async () => {
        authenticating++;
        await gate;
        return { user: 'u' };
      },
    });
    const waiting = [open(slow.base), open(slow.base)];
    await until(() => authenticating === 2, 3000, 'two sessions authenticating');
    assert.equal((await open(slow.base)).status, 503);
    release();
    for (const w of await Promise.all(waiting)) assert.ok(w.s);
  });

  it('creates no adapter state for unknown session ids', { timeout: 10_000 }, async () => {
    const { adapter, calls } = spyAdapter();
    const { base } = await start({ adapter });
    const channels = (adapter as unknown as { channels: Map<string, unknown> }).channels;
    for (let i = 0; i < 20; i++) {
      const s = `${String(i).padStart(2, '0')}${'z'.repeat(30)}`;
      assert.equal(await post(base, `send?s=${s}`, hello()), 404);
      assert.equal(await post(base, `close?s=${s}`), 404);
      assert.equal((await fetch(`${base}/poll?s=${s}`)).status, 404);
      assert.equal((await fetch(`${base}/sse?s=${s}`)).status, 404);
    }
    assert.deepEqual(
      calls.filter((c) => !c.startsWith('presenceList')),
      [],
      'only read-only lookups',
    );
    assert.equal(channels.size, 0);
  });

  it('serves one stream per session: a new stream ends the previous one', { timeout: 10_000 }, async () => {
    const { port, base } = await start();
    const { s } = await open(base);
    const ended: boolean[] = [];
    const responses: http.IncomingMessage[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http.get(`http://127.0.0.1:${port}/realtime/http/sse?s=${s}`, resolve).on('error', reject),
      );
      assert.equal(res.statusCode, 200);
      ended.push(false);
      res.on('data', () => {});
      res.on('close', () => {
        ended[i] = true;
      });
      responses.push(res);
    }
    await until(() => ended.slice(0, 4).every(Boolean), 3000, 'the four older streams to end');
    assert.equal(ended[4], false, 'the newest stream stays');
    responses[4]!.destroy();
  });

  it('closes a fallback client that does not read with 4409 and keeps its unread data bounded', {
    timeout: 10_000,
  }, async () => {
    const outbound = { highWaterBytes: 64 * 1024, maxQueuedBytes: 256 * 1024 };
    const { server, base } = await start({ outbound });
    const closed = new Promise<number>((r) => server.on('disconnect', (_c, code) => r(code)));
    // Polling, and never polls.
    const { s } = await open(base, hello(), 'polling');
    assert.equal(await post(base, `send?s=${s}`, JSON.stringify({ t: 'sub', id: 1, ch: 'c' })), 204);
    await until(() => [...server.connections.values()][0]?.channels.length === 1);
    const payload = 'y'.repeat(16 * 1024);
    let code: number | undefined;
    void closed.then((c) => {
      code = c;
    });
    for (let i = 0; i < 400 && code === undefined; i++) await server.publish('c', 'e', payload);
    assert.equal(await closed, 4409);
    const down = await storedBytes(server.adapter, `$s:${s}:down`);
    assert.ok(down <= outbound.highWaterBytes + 3 * payload.length, `unread data stored: ${down} bytes`);
  });

  it('closes an SSE client that never reads its stream with 4409', { timeout: 10_000 }, async () => {
    const outbound = { highWaterBytes: 64 * 1024, maxQueuedBytes: 256 * 1024 };
    const { server, port, base } = await start({ outbound });
    const closed = new Promise<number>((r) => server.on('disconnect', (_c, code) => r(code)));
    const { s } = await open(base);
    assert.equal(await post(base, `send?s=${s}`, JSON.stringify({ t: 'sub', id: 1, ch: 'c' })), 204);
    await until(() => [...server.connections.values()][0]?.channels.length === 1);
    // A raw socket that sends the request and never reads a byte.
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    socket.write(`GET /realtime/http/sse?s=${s} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const payload = 'y'.repeat(64 * 1024);
    let code: number | undefined;
    void closed.then((c) => {
      code = c;
    });
    // Loopback socket buffers take several MiB before the server sees any backpressure.
    for (let i = 0; i < 1000 && code === undefined; i++) {
      await server.publish('c', 'e', payload);
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(await closed, 4409);
    socket.destroy();
  });

  it('does not serve /metrics on the realtime port unless asked', { timeout: 10_000 }, async () => {
    const { port } = await start();
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 426);
    const opted = await start({ metricsPath: '/metrics' });
    assert.equal((await fetch(`http://127.0.0.1:${opted.port}/metrics`)).status, 200);
  });
});
