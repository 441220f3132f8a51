// Test helpers: a realtime server on an ephemeral port and Node clients using @ieum/websocket.

import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { WebSocket } from '@ieum/websocket';
import {
  type ChannelMessage,
  type PublishAck,
  RealtimeClient,
  type RealtimeClientOptions,
} from '../src/client/index.js';
import { type Adapter, RealtimeServer, type RealtimeServerOptions } from '../src/server/index.js';

export async function startServer(
  options: RealtimeServerOptions = {},
): Promise<{ server: RealtimeServer; url: string; port: number }> {
  const server = new RealtimeServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `ws://127.0.0.1:${port}/realtime`, port };
}

export function client(url: string, options: RealtimeClientOptions = {}): RealtimeClient {
  return new RealtimeClient(url, {
    WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
}

export function until<T>(predicate: () => T | undefined | false, ms = 5000, what = 'condition'): Promise<T> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      const v = predicate();
      if (v) return resolve(v);
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

export const opened = (c: RealtimeClient) => until(() => c.state === 'open', 5000, 'client open');

/** A TCP proxy in front of the server whose connections a test can cut or silence at will. */
export async function chaosProxy(targetPort: number) {
  const { default: net } = await import('node:net');
  const pairs = new Set<{ a: import('node:net').Socket; b: import('node:net').Socket; silent: boolean }>();
  const server = net.createServer((a) => {
    const b = net.connect(targetPort, '127.0.0.1');
    const pair = { a, b, silent: false };
    pairs.add(pair);
    const forward = (from: import('node:net').Socket, to: import('node:net').Socket) =>
      from.on('data', (d) => {
        if (!pair.silent) to.write(d);
      });
    forward(a, b);
    forward(b, a);
    const end = () => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('close', end).on('error', end);
    b.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const pick = () => [...pairs][Math.floor(Math.random() * pairs.size)];
  return {
    port,
    get size() {
      return pairs.size;
    },
    /** Resets a random connection (both sides see the TCP connection die). */
    cut(): boolean {
      const p = pick();
      if (!p) return false;
      p.a.resetAndDestroy();
      p.b.destroy();
      return true;
    },
    /** Stops forwarding on a random connection without closing it (a dead peer). */
    silence(): boolean {
      const p = [...pairs].filter((x) => !x.silent)[0];
      if (!p) return false;
      p.silent = true;
      return true;
    },
    close(): Promise<void> {
      for (const p of pairs) {
        p.a.destroy();
        p.b.destroy();
      }
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Sends each HTTP request to the next upstream in turn (and refuses WebSocket upgrades). */
export async function roundRobin(ports: number[]) {
  let next = 0;
  const counts = ports.map(() => 0);
  const proxy = http.createServer((req, res) => {
    const i = next++ % ports.length;
    counts[i]!++;
    const up = http.request(
      { host: '127.0.0.1', port: ports[i], path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  const state = { allowUpgrades: false };
  proxy.on('upgrade', (req, socket, head) => {
    if (!state.allowUpgrades) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    // Tunnel the upgrade to the next upstream as raw bytes.
    const i = next++ % ports.length;
    const up = net.connect(ports[i]!, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let k = 0; k < req.rawHeaders.length; k += 2)
        lines.push(`${req.rawHeaders[k]}: ${req.rawHeaders[k + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    port: (proxy.address() as AddressInfo).port,
    counts,
    /** Refused (403) until set: a network that blocks WebSocket, then stops blocking it. */
    set allowUpgrades(v: boolean) {
      state.allowUpgrades = v;
    },
    close: () => {
      proxy.closeAllConnections();
      return new Promise<void>((r) => proxy.close(() => r()));
    },
  };
}

/**
 * The exactly-once run shared by the chaos tests (realtime on one server, redis across two):
 * `clients` subscribe to `channels`, then each publishes `publishesPerClient` messages spread over
 * them (not awaited one by one, a pause of up to `maxPauseMs` between them) while `chaosStep` runs
 * every 40-120 ms. Afterwards every client must have every message of every channel once, in
 * offset order, and `adapter` must hold each publish once. Returns the acknowledgements.
 */
export async function exactlyOnceUnderChaos(o: {
  clients: RealtimeClient[];
  channels: string[];
  publishesPerClient: number;
  maxPauseMs: number;
  adapter: Adapter;
  chaosStep: () => void;
}): Promise<PublishAck[]> {
  const { clients, channels } = o;
  const received = clients.map((c) => {
    const got: Record<string, ChannelMessage<Record<string, string>>[]> = {};
    for (const name of channels) {
      got[name] = [];
      c.channel<Record<string, string>>(name).on('message', (m) => got[name]!.push(m));
    }
    return got;
  });
  await Promise.all(clients.flatMap((c) => channels.map((n) => c.channel(n).subscribe())));

  let chaos = true;
  const chaosLoop = (async () => {
    while (chaos) {
      await new Promise((r) => setTimeout(r, 40 + Math.random() * 80));
      if (chaos) o.chaosStep();
    }
  })();
  const sent: Record<string, Set<string>> = Object.fromEntries(channels.map((n) => [n, new Set<string>()]));
  let acks: PublishAck[][];
  try {
    acks = await Promise.all(
      clients.map(async (c, ci) => {
        const results = [];
        for (let k = 0; k < o.publishesPerClient; k++) {
          const ch = channels[(ci + k) % channels.length]!;
          const body = `c${ci}-m${k}`;
          sent[ch]!.add(body);
          // Not awaited one by one: several publishes are in flight across reconnects.
          results.push(c.channel<Record<string, string>>(ch).publish('say', body));
          await new Promise((r) => setTimeout(r, Math.random() * o.maxPauseMs));
        }
        return Promise.all(results);
      }),
    );
  } finally {
    chaos = false;
    await chaosLoop;
  }

  const total = Object.fromEntries(channels.map((n) => [n, sent[n]!.size]));
  await until(
    () => received.every((got) => channels.every((n) => got[n]!.length >= total[n]!)),
    30_000,
    'every client to catch up',
  );
  await new Promise((r) => setTimeout(r, 300)); // a straggling duplicate would show up here
  for (const [ci, got] of received.entries()) {
    for (const n of channels) {
      const list = got[n]!;
      assert.deepEqual(
        list.map((m) => m.offset),
        Array.from({ length: total[n]! }, (_, i) => i + 1),
        `client ${ci} channel ${n}: offsets must be 1..${total[n]} once each, in order`,
      );
      assert.deepEqual(
        new Set(list.map((m) => m.data)),
        sent[n],
        `client ${ci} channel ${n}: the published set`,
      );
    }
  }
  // Each publish applied exactly once: the channel holds exactly what was published.
  for (const n of channels) {
    const h = await o.adapter.history(n, { epoch: (await o.adapter.position(n)).epoch, offset: 0 });
    assert.ok(h.ok);
    assert.equal(h.entries.length, sent[n]!.size, `channel ${n} holds each publish once`);
  }
  const all = acks.flat();
  assert.equal(all.length, clients.length * o.publishesPerClient);
  return all;
}

/**
 * The fallback round trip shared by the no-sticky-sessions tests: `viaProxy` (a client forced
 * onto `transport` behind a round-robin proxy whose per-server request counts are
 * `proxyCounts`) subscribes to `room`; ten messages published by `direct` and one of its own
 * arrive in order, its own at offset 11, and every server behind the proxy served requests.
 */
export async function fallbackRoundTrip(
  viaProxy: RealtimeClient,
  direct: RealtimeClient,
  room: string,
  transport: string,
  proxyCounts: readonly number[],
): Promise<void> {
  const got: ChannelMessage[] = [];
  viaProxy.channel(room).on('message', (m) => got.push(m));
  await viaProxy.channel(room).subscribe();
  assert.equal(viaProxy.transport, transport);
  await direct.channel(room).subscribe();
  for (let i = 1; i <= 10; i++) await direct.channel(room).publish('n', i);
  const ack = await viaProxy.channel(room).publish('n', 'via proxy');
  assert.equal(ack.offset, 11);
  await until(() => got.length === 11, 10_000, 'every message through the fallback');
  assert.deepEqual(
    got.map((m) => m.data),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 'via proxy'],
  );
  assert.ok(
    proxyCounts.every((n) => n > 0),
    `both servers served requests (${proxyCounts})`,
  );
}

/** A raw JSON-codec connection that has sent its hello; resolves once welcomed or closed. */
export async function rawJsonClient(url: string, cid = 'raw', token?: string) {
  const ws = new WebSocket(url, 'ieum.v1.json');
  const got: Array<Record<string, unknown>> = [];
  let closed: { code: number; reason: string } | undefined;
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString())));
  ws.on('close', (code: number, reason: Buffer) => {
    closed = { code, reason: reason.toString() };
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ t: 'hello', v: 1, cid, ...(token ? { token } : {}) }));
  await until(() => closed ?? got.find((m) => m.t === 'welcome'), 5000, 'welcome or close');
  return { ws, got, closed: () => closed };
}
