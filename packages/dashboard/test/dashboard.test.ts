// The dashboard's server side: opt-in and authenticated, samples that equal the server's
// Prometheus counters, per-channel rates, recovery outcomes, and frame inspector tails (channel,
// connection, rate limit), on a RealtimeServer and on a plain WebSocketServer.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  type Channel,
  type ChannelMessage,
  RealtimeClient,
  type WebSocketConstructor,
} from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { WebSocket, WebSocketServer } from '@ieum/websocket';
import { type Dashboard, type Frame, mountDashboard, type Sample } from '../src/index.js';

const TOKEN = 'test-token-0123456789';
const WS = WebSocket as unknown as WebSocketConstructor;

/** Resolves with the first value `pick` returns (not undefined) among `channel`'s messages. */
function next<T>(ch: Channel<Record<string, Sample>>, pick: (s: Sample) => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: ChannelMessage<Record<string, Sample>>) => {
      const v = pick(m.data);
      if (v !== undefined) {
        ch.off('message', on);
        resolve(v);
      }
    };
    ch.on('message', on);
  });
}

/** Prometheus text format → value of each sample line (`name{labels}` → number). */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    values.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return values;
}

describe('dashboard on a RealtimeServer', { timeout: 20_000 }, () => {
  let server: http.Server;
  let rt: RealtimeServer;
  let dashboard: Dashboard;
  let base: string;
  const clients: RealtimeClient[] = [];
  const client = (url: string, token: string, extra: object = {}) => {
    const c = new RealtimeClient(url, { WebSocket: WS, token, reconnect: false, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    server = http.createServer((req, res) => {
      if (dashboard.handleRequest(req, res)) return;
      if (req.url === '/metrics') return rt.metrics!.handler()(req, res);
      res.writeHead(404).end();
    });
    rt = new RealtimeServer({ server, authenticate: ({ token }) => ({ user: token ?? 'anon' }) });
    dashboard = mountDashboard(rt, { server, token: TOKEN, path: '/dash', intervalMs: 100 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const c of clients) c.close();
    await dashboard.close();
    await rt.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses to mount without a long enough token', () => {
    assert.throws(() => mountDashboard(rt, { server, token: '' }), /token/);
    assert.throws(() => mountDashboard(rt, { server, token: 'short' }), /at least 16/);
    assert.throws(() => mountDashboard(rt, { token: TOKEN } as never), /server` or `port/);
  });

  it('closes a page with a wrong token (4401) and serves the page and its script', async () => {
    const bad = client(`ws://${base}/dash/realtime`, 'wrong-token-0123456789');
    const info = await new Promise<{ code: number }>((r) => bad.once('disconnect', r));
    assert.equal(info.code, 4401);
    const page = await fetch(`http://${base}/dash/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ieum dashboard<\/title>/);
    const js = await fetch(`http://${base}/dash/dashboard.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.ok((await js.text()).length > 10_000);
    assert.equal((await fetch(`http://${base}/dash/favicon.svg`)).status, 200);
    assert.equal((await fetch(`http://${base}/elsewhere`)).status, 404);
  });

  it('publishes samples whose totals equal the Prometheus endpoint, with per-channel rates', async () => {
    const dash = client(`ws://${base}/dash/realtime`, TOKEN);
    assert.deepEqual(await dash.request('targets', null), ['server']);
    const stats = dash.channel<Record<string, Sample>>('stats:server');
    await stats.subscribe();
    const sub = client(`ws://${base}/realtime`, 'bob');
    await sub.channel('room:a').subscribe();
    const pub = client(`ws://${base}/realtime`, 'ann');
    for (let i = 0; i < 20; i++) await pub.channel('room:a').publish('line', { i });
    // Quiet now: the next sample taken after this scrape must show exactly its numbers.
    const metrics = await scrape(`http://${base}/metrics`);
    const since = Date.now();
    const sample = await next(stats, (s) => (s.at > since ? s : undefined));
    assert.equal(sample.totals.messagesIn, metrics.get('ieum_messages_received_total'));
    assert.equal(sample.totals.messagesOut, metrics.get('ieum_messages_sent_total'));
    assert.equal(sample.totals.bytesIn, metrics.get('ieum_bytes_received_total'));
    assert.equal(sample.totals.bytesOut, metrics.get('ieum_bytes_sent_total'));
    assert.equal(sample.totals.opened, metrics.get('ieum_connections_opened_total'));
    assert.equal(sample.connections, metrics.get('ieum_connections'));
    assert.ok(sample.totals.messagesIn >= 20);
    // Every publish was fanned out to one local subscriber: counted on the channel.
    await pub.channel('room:a').publish('line', { i: 'late' });
    const withRoom = await next(stats, (s) => s.channels.find((c) => c.name === 'room:a'));
    assert.equal(withRoom.subscribers, 1);
    assert.ok(withRoom.messagesPerSecond > 0 && withRoom.bytesOutPerSecond > 0);
  });

  it('counts recovered and reset subscriptions', async () => {
    const dash = client(`ws://${base}/dash/realtime`, TOKEN);
    const stats = dash.channel<Record<string, Sample>>('stats:server');
    await stats.subscribe();
    const c = client(`ws://${base}/realtime`, 'carol');
    const ch = c.channel('room:r');
    await ch.subscribe();
    const pos = await rt.publish('room:r', 'x', 1);
    const before = await next(stats, (s) => s.totals);
    const again = client(`ws://${base}/realtime`, 'carol');
    await again.channel('room:r').subscribe({ since: { ep: pos.epoch, off: 0 } });
    await again.channel('room:gone').subscribe({ since: { ep: 'no-such-epoch', off: 3 } });
    const after = await next(stats, (s) => (s.totals.reset > before.reset ? s.totals : undefined));
    assert.equal(after.recovered, before.recovered + 1);
    assert.equal(after.reset, before.reset + 1);
  });

  it('tails a channel and a connection, and rate-limits a tail', async () => {
    const dash = client(`ws://${base}/dash/realtime`, TOKEN);
    const frames: Array<Frame & { tail: number }> = [];
    dash.handle('frame', (f) => void frames.push(f as Frame & { tail: number }));
    const ann = client(`ws://${base}/realtime`, 'ann2');
    await ann.channel('room:t').subscribe();
    const annConn = [...rt.connections.values()].find((c) => c.user === 'ann2')!;
    const chTail = (await dash.request('tail', { kind: 'channel', name: 'room:t' })) as number;
    const connTail = (await dash.request('tail', { kind: 'connection', id: annConn.id })) as number;
    await ann.channel('room:t').publish('say', { text: 'hello inspector' });
    for (let i = 0; i < 200 && frames.filter((f) => f.tail === connTail).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const pub = frames.find((f) => f.tail === chTail)!;
    assert.equal(pub.dir, 'pub');
    assert.match(pub.preview, /hello inspector/);
    const dirs = new Set(frames.filter((f) => f.tail === connTail).map((f) => f.dir));
    assert.ok(dirs.has('in') && dirs.has('out'), [...dirs].join());
    await assert.rejects(dash.request('tail', { kind: 'connection', id: 'nope' }), /no open connection/);
    await assert.rejects(dash.request('tail', { kind: 'bogus' }), /tail \{/);
    assert.equal(await dash.request('untail', chTail), true);
    assert.equal(await dash.request('untail', connTail), true);

    // Past maxFramesPerSecond (50) frames are skipped and the next frame says how many.
    frames.length = 0;
    const flood = (await dash.request('tail', { kind: 'channel', name: 'room:flood' })) as number;
    for (let i = 0; i < 120; i++) await rt.publish('room:flood', 'n', i);
    for (let i = 0; i < 200 && frames.length < 50; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(frames.length, 50);
    assert.ok(frames.every((f) => f.tail === flood));
  });
});

describe('dashboard on a plain WebSocketServer, on its own port', { timeout: 20_000 }, () => {
  it('counts messages and bytes both ways and tails a connection', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', r));
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const dashboard = mountDashboard({ echo: wss }, { token: TOKEN, port: 0, intervalMs: 100 });
    await dashboard.listening();
    const dash = new RealtimeClient(`ws://127.0.0.1:${dashboard.port}/ieum-dashboard/realtime`, {
      WebSocket: WS,
      token: TOKEN,
      reconnect: false,
    });
    const stats = dash.channel<Record<string, Sample>>('stats:echo');
    await stats.subscribe();
    const port = (wss.address() as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => ws.once('open', r));
    const first = await next(stats, (s) => (s.connections === 1 ? s : undefined));
    const frames: Frame[] = [];
    dash.handle('frame', (f) => void frames.push(f as Frame));
    await dash.request('tail', { source: 'echo', kind: 'connection', id: first.connectionList[0]!.id });
    let echoed = 0;
    ws.on('message', () => echoed++);
    for (let i = 0; i < 5; i++) ws.send('ping-ping');
    while (echoed < 5) await new Promise((r) => setTimeout(r, 10));
    const since = Date.now();
    const s = await next(stats, (x) => (x.at > since ? x : undefined));
    assert.equal(s.source, 'websocket');
    assert.equal(s.totals.messagesIn, 5);
    assert.equal(s.totals.messagesOut, 5);
    assert.equal(s.totals.bytesIn, 45);
    assert.equal(s.totals.bytesOut, 45);
    assert.deepEqual(
      frames.map((f) => [f.dir, f.preview]),
      Array.from({ length: 5 }, () => [
        ['in', 'ping-ping'],
        ['out', 'ping-ping'],
      ]).flat(),
    );
    ws.close();
    dash.close();
    await dashboard.close();
    await new Promise<void>((r) => wss.close(() => r()));
  });
});
