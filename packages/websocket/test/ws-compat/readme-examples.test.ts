// ws 8 compatibility: the usage patterns of ws's README (server, client, broadcast, heartbeat
// with ping/pong and isAlive, noServer + handleUpgrade, a shared http server as with express,
// a stream), written in our own words and run against ieum with only the import swapped.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import WebSocket, { createWebSocketStream, WebSocketServer } from '@ieum/websocket';
import express from 'express';
import { waitFor } from '../helpers/net.js';

type Tracked = WebSocket & { isAlive?: boolean };

const portOf = (server: { address(): unknown }) => (server.address() as AddressInfo).port;

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return portOf(server);
}

async function closeAll(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

describe('ws-compat: README patterns, import swapped', { timeout: 30_000 }, () => {
  it('a server that answers every message, and a client that talks to it', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', function connection(ws, request) {
      ws.on('error', console.error);
      ws.on('message', function message(data) {
        ws.send(`you said: ${data} (from ${request.socket.remoteAddress})`);
      });
      ws.send('welcome');
    });
    await waitFor(wss, 'listening');

    const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/path`);
    ws.on('error', console.error);
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on('message', function message(data) {
        received.push(data.toString());
        if (received.length === 2) resolve();
      });
    });
    ws.on('open', function open() {
      ws.send('something');
    });
    await done;
    assert.deepEqual(received, ['welcome', 'you said: something (from 127.0.0.1)']);
    ws.close();
    await waitFor(ws, 'close');
    await closeAll(wss);
  });

  it('a client that sends binary data', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const got = new Promise<[Buffer, boolean]>((resolve) =>
      wss.on('connection', (ws) =>
        ws.on('message', (data: Buffer, isBinary: boolean) => resolve([data, isBinary])),
      ),
    );
    await waitFor(wss, 'listening');
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
    ws.on('open', function open() {
      const array = new Float32Array(5);
      for (let i = 0; i < array.length; ++i) array[i] = i / 2;
      ws.send(array);
    });
    const [data, isBinary] = await got;
    assert.equal(isBinary, true);
    assert.deepEqual([...new Float32Array(new Uint8Array(data).buffer)], [0, 0.5, 1, 1.5, 2]);
    ws.terminate();
    await closeAll(wss);
  });

  it('broadcast to every open client through wss.clients, with and without the sender', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', function connection(ws) {
      ws.on('message', function message(data, isBinary) {
        const everyone = data.toString().startsWith('all:');
        for (const client of wss.clients) {
          if ((everyone || client !== ws) && client.readyState === WebSocket.OPEN) {
            client.send(data, { binary: isBinary });
          }
        }
      });
    });
    await waitFor(wss, 'listening');
    const url = `ws://127.0.0.1:${portOf(wss)}`;
    const clients = [new WebSocket(url), new WebSocket(url), new WebSocket(url)];
    await Promise.all(clients.map((c) => waitFor(c, 'open')));
    while (wss.clients.size < 3) await new Promise((resolve) => setImmediate(resolve));
    const inbox = clients.map(() => [] as string[]);
    clients.forEach((c, i) => {
      c.on('message', (d: Buffer) => inbox[i]!.push(d.toString()));
    });
    const [first, ...others] = clients;
    first!.send('others only');
    await Promise.all(others.map((c) => waitFor(c, 'message')));
    first!.send('all: everyone');
    await Promise.all(clients.map((c) => waitFor(c, 'message')));
    assert.deepEqual(inbox, [
      ['all: everyone'],
      ['others only', 'all: everyone'],
      ['others only', 'all: everyone'],
    ]);
    for (const c of clients) c.terminate();
    await closeAll(wss);
  });

  it('heartbeat: the server pings, marks isAlive on pong and terminates the silent client', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', function connection(ws: Tracked) {
      ws.isAlive = true;
      ws.on('error', () => {});
      ws.on('pong', function heartbeat() {
        ws.isAlive = true;
      });
    });
    const interval = setInterval(function ping() {
      for (const ws of wss.clients as Set<Tracked>) {
        if (ws.isAlive === false) {
          ws.terminate();
          continue;
        }
        ws.isAlive = false;
        ws.ping();
      }
    }, 50);
    wss.on('close', function close() {
      clearInterval(interval);
    });
    await waitFor(wss, 'listening');
    const url = `ws://127.0.0.1:${portOf(wss)}`;
    const healthy = new WebSocket(url);
    // A peer that never answers pings (as if its network went away).
    const silent = new WebSocket(url, { autoPong: false });
    await Promise.all([waitFor(healthy, 'open'), waitFor(silent, 'open')]);
    const [code] = await waitFor<[number]>(silent, 'close', 5000);
    assert.equal(code, 1006);
    assert.equal(healthy.readyState, WebSocket.OPEN);
    healthy.terminate();
    await closeAll(wss);
  });

  it('heartbeat: the client expects pings and terminates itself when they stop', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    let pinging: NodeJS.Timeout | undefined;
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      pinging = setInterval(() => ws.ping(), 20);
      setTimeout(() => clearInterval(pinging), 100);
    });
    await waitFor(wss, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`) as Tracked & {
      pingTimeout?: NodeJS.Timeout;
    };
    let pings = 0;
    function heartbeat() {
      pings++;
      clearTimeout(client.pingTimeout);
      client.pingTimeout = setTimeout(() => client.terminate(), 150);
    }
    client.on('error', console.error);
    client.on('open', heartbeat);
    client.on('ping', heartbeat);
    client.on('close', function clear() {
      clearTimeout(client.pingTimeout);
    });
    const [code] = await waitFor<[number]>(client, 'close', 5000);
    assert.equal(code, 1006);
    assert.ok(pings >= 3, `saw ${pings} heartbeats`);
    clearInterval(pinging);
    await closeAll(wss);
  });

  it('noServer: one http server routes upgrades by path to two WebSocketServers, after authentication', async () => {
    const chat = new WebSocketServer({ noServer: true });
    const feed = new WebSocketServer({ noServer: true });
    chat.on('connection', (ws) => ws.send('chat'));
    feed.on('connection', function connection(ws: WebSocket, _request: IncomingMessage, user: string) {
      ws.send(`feed for ${user}`);
    });
    const server = createServer();
    server.on('upgrade', function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
      const { pathname } = new URL(request.url ?? '/', 'ws://base.url');
      const user = request.headers.authorization === 'Bearer good' ? 'alice' : undefined;
      if (!user) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }
      if (pathname === '/chat') {
        chat.handleUpgrade(request, socket as never, head, function done(ws) {
          chat.emit('connection', ws, request);
        });
      } else if (pathname === '/feed') {
        feed.handleUpgrade(request, socket as never, head, function done(ws) {
          feed.emit('connection', ws, request, user);
        });
      } else {
        socket.destroy();
      }
    });
    const port = await listen(server);
    const open = (path: string, token: string) =>
      new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { Authorization: `Bearer ${token}` } });

    const a = open('/chat', 'good');
    const b = open('/feed', 'good');
    assert.equal((await waitFor<[Buffer]>(a, 'message'))[0].toString(), 'chat');
    assert.equal((await waitFor<[Buffer]>(b, 'message'))[0].toString(), 'feed for alice');

    const refused = open('/chat', 'bad');
    refused.on('error', () => {});
    const [, response] = await waitFor<[unknown, IncomingMessage]>(refused, 'unexpected-response');
    assert.equal(response.statusCode, 401);
    refused.terminate();

    a.terminate();
    b.terminate();
    await closeAll(chat);
    await closeAll(feed);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a WebSocketServer shares a plain http server (as with express) that still serves HTTP', async () => {
    const app = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`page ${req.url}`);
    };
    const server = createServer(app);
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${data}`)));
    const port = await listen(server);

    const page = await new Promise<string>((resolve, reject) => {
      httpRequest({ port, host: '127.0.0.1', path: '/index.html' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(page, 'page /index.html');

    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.on('open', () => ws.send('hi'));
    assert.equal((await waitFor<[Buffer]>(ws, 'message'))[0].toString(), 'echo hi');
    ws.terminate();
    await closeAll(wss);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('with a real express app: HTTP routes and an authenticated upgrade on one port', async () => {
    // The common express pattern: app.listen() returns the http server; upgrades are checked
    // against something an express route handed out (here a cookie) before handleUpgrade.
    const app = express();
    const tokens = new Set<string>();
    app.post('/login', (_req, res) => {
      const token = `t${tokens.size + 1}`;
      tokens.add(token);
      res.cookie('session', token).json({ ok: true });
    });
    app.get('/health', (_req, res) => {
      res.json({ clients: wss.clients.size });
    });
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', (ws: WebSocket, _req: IncomingMessage, user: string) => {
      ws.on('message', (data: Buffer) => ws.send(`${user}: ${data}`));
    });
    const server = app.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const token = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (token === undefined || !tokens.has(token)) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, token));
    });
    const base = `http://127.0.0.1:${portOf(server)}`;

    const refused = new WebSocket(base.replace('http', 'ws'));
    const [error] = await waitFor<[Error]>(refused, 'error');
    assert.match(error.message, /401/);

    const login = await fetch(`${base}/login`, { method: 'POST' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    assert.match(cookie, /^session=t1$/);
    const ws = new WebSocket(base.replace('http', 'ws'), { headers: { cookie } });
    ws.on('open', () => ws.send('hi'));
    assert.equal((await waitFor<[Buffer]>(ws, 'message'))[0].toString(), 't1: hi');
    assert.deepEqual(await (await fetch(`${base}/health`)).json(), { clients: 1 });
    ws.terminate();
    await closeAll(wss);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a client read and written as a stream', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(String(data).toUpperCase())));
    await waitFor(wss, 'listening');
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
    const duplex = createWebSocketStream(ws, { encoding: 'utf8' });
    duplex.on('error', console.error);
    duplex.write('shout');
    const [text] = await waitFor<[string]>(duplex, 'data');
    assert.equal(text, 'SHOUT');
    duplex.destroy();
    await waitFor(duplex, 'close');
    await closeAll(wss);
  });
});
