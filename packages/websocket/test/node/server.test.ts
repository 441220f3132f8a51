// WebSocketServer behaviour a user relies on: modes, gatekeeping, timeouts, heartbeat, backpressure, wss.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WsClient from 'ws';
import { rejectHandshake, WebSocket, WebSocketServer } from '../../src/index.js';
import { computeAcceptKey } from '../../src/protocol/accept-key.js';
import { maskedFrame, rawConnect, selfSignedCert, upgradeRequest, waitFor } from '../helpers/net.js';

const servers: { close(cb?: () => void): void }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function listen(
  options: ConstructorParameters<typeof WebSocketServer>[0],
): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(wss);
  await waitFor(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

/** Sends a raw request and returns the status line of the response. */
async function statusOf(port: number, request: string): Promise<string> {
  const raw = await rawConnect(port);
  raw.socket.write(request);
  await raw.ended;
  return raw.received().toString().split('\r\n')[0] ?? '';
}

describe('WebSocketServer handshake gatekeeping', () => {
  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const { port } = await listen({});
    assert.equal(await statusOf(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'HTTP/1.1 426 Upgrade Required');
  });

  it('answers an unsupported version with 400 and Sec-WebSocket-Version: 13, 8 (RFC 6455 §4.4)', async () => {
    const { port } = await listen({});
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/').replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 7'));
    await raw.ended;
    const response = raw.received().toString();
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.match(response, /\r\nSec-WebSocket-Version: 13, 8\r\n/i);
  });

  it('refuses another path with 400', async () => {
    const { port } = await listen({ path: '/ws' });
    assert.match(await statusOf(port, upgradeRequest('/other')), /^HTTP\/1\.1 400 /);
  });

  it('accepts the configured path with a query string', async () => {
    const { port } = await listen({ path: '/ws' });
    const c = new WebSocket(`ws://127.0.0.1:${port}/ws?token=1`);
    await waitFor(c, 'open');
    c.terminate();
  });

  it('refuses an Origin not on the allow-list with 403', async () => {
    const { port } = await listen({ allowedOrigins: ['https://good.example'] });
    const bad = new WsClient(`ws://127.0.0.1:${port}`, { origin: 'https://evil.example' });
    const [, res] = await waitFor<[unknown, http.IncomingMessage]>(bad, 'unexpected-response');
    assert.equal(res.statusCode, 403);
    res.resume();
    const good = new WsClient(`ws://127.0.0.1:${port}`, { origin: 'https://good.example' });
    await waitFor(good, 'open');
    good.terminate();
  });

  it('lets an async authorize hook refuse with a status and reason', async () => {
    const { port } = await listen({
      authorize: async (req) => {
        await new Promise((r) => setTimeout(r, 10));
        if (req.headers.authorization !== 'Bearer good') throw rejectHandshake(401, 'token expired');
      },
    });
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/', ['Authorization: Bearer bad']));
    await raw.ended;
    const response = raw.received().toString();
    assert.match(response, /^HTTP\/1\.1 401 /);
    assert.match(response, /token expired$/);
    const ok = new WsClient(`ws://127.0.0.1:${port}`, { headers: { authorization: 'Bearer good' } });
    await waitFor(ok, 'open');
    ok.terminate();
  });

  it('answers 500 without details when authorize throws unexpectedly, and reports the error', async () => {
    const { wss, port } = await listen({
      authorize: () => {
        throw new Error('database down: secret details');
      },
    });
    const errored = waitFor<[Error]>(wss, 'error');
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/'));
    await raw.ended;
    const response = raw.received().toString();
    assert.match(response, /^HTTP\/1\.1 500 /);
    assert.doesNotMatch(response, /secret/);
    const [error] = await errored;
    assert.match(error.message, /database down/);
  });

  it('answers 408 when authorization outlasts the handshake timeout', async () => {
    const { port } = await listen({ handshakeTimeoutMs: 200, authorize: () => new Promise(() => {}) });
    assert.match(await statusOf(port, upgradeRequest('/')), /^HTTP\/1\.1 408 /);
  });

  it('selects the first subprotocol of its preference list that the client offers', async () => {
    const { port } = await listen({ protocols: ['v3', 'v2'] });
    const c = new WsClient(`ws://127.0.0.1:${port}`, ['v1', 'v2', 'v3']);
    await waitFor(c, 'open');
    assert.equal(c.protocol, 'v3');
    c.terminate();
  });

  it('supports ws-style verifyClient with a callback and custom status', async () => {
    const { port } = await listen({ verifyClient: (_info, cb) => cb(false, 429, 'slow down') });
    assert.match(await statusOf(port, upgradeRequest('/')), /^HTTP\/1\.1 429 /);
  });

  it('rejects unknown options with a clear error', () => {
    assert.throws(
      () => new WebSocketServer({ port: 0, maxPayloadBytes: 1 } as never),
      /Unknown WebSocketServer option "maxPayloadBytes"/,
    );
    assert.throws(() => new WebSocketServer({}), /exactly one of `port`, `server` or `noServer/);
  });
});

describe('WebSocketServer modes', () => {
  it('attaches to an existing HTTP server and leaves other requests to it', async () => {
    const server = http.createServer((_req, res) => res.end('plain http'));
    const wss = new WebSocketServer({ server, path: '/ws' });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    wss.on('connection', (ws) => ws.send('hi'));
    const c = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const [msg] = await waitFor<[Buffer]>(c, 'message');
    assert.equal(msg.toString(), 'hi');
    const body = await new Promise<string>((resolve) =>
      http.get(`http://127.0.0.1:${port}/`, (res) => {
        let s = '';
        res.on('data', (d) => (s += d));
        res.on('end', () => resolve(s));
      }),
    );
    assert.equal(body, 'plain http');
    c.terminate();
    wss.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('completes upgrades handed to handleUpgrade in noServer mode', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket as import('node:net').Socket, head, (ws) => ws.send(`hello ${req.url}`));
    });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const c = new WsClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/room/1`);
    const [msg] = await waitFor<[Buffer]>(c, 'message');
    assert.equal(msg.toString(), 'hello /room/1');
    c.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves wss with a certificate made at test time, to ws and ieum clients', async () => {
    const { key, cert } = selfSignedCert();
    const server = https.createServer({ key, cert });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ours = new WebSocket(url, { ca: cert });
    await waitFor(ours, 'open');
    ours.send('secure');
    const [m1] = await waitFor<[Buffer]>(ours, 'message');
    assert.equal(m1.toString(), 'secure');
    ours.close();
    const theirs = new WsClient(url, { ca: cert });
    await waitFor(theirs, 'open');
    theirs.send('also secure');
    const [m2] = await waitFor<[Buffer]>(theirs, 'message');
    assert.equal(m2.toString(), 'also secure');
    theirs.terminate();
    // Without trusting the certificate, the client refuses the server.
    const untrusting = new WebSocket(url);
    const [error] = await waitFor<[Error]>(untrusting, 'error');
    assert.match(error.message, /self[- ]signed|certificate/i);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('WebSocketServer connection management', () => {
  it('delivers a frame that arrived in the same packet as the upgrade request (regression: head bytes)', async () => {
    const { wss, port } = await listen({});
    const got = new Promise<string>((resolve) =>
      wss.on('connection', (ws) => ws.on('message', (d) => resolve(String(d)))),
    );
    const raw = await rawConnect(port);
    raw.socket.write(
      Buffer.concat([Buffer.from(upgradeRequest('/')), maskedFrame(0x1, Buffer.from('early bird'))]),
    );
    assert.equal(await got, 'early bird');
    raw.socket.destroy();
  });

  it('terminates a client that stops answering heartbeat pings', async () => {
    const { wss, port } = await listen({ heartbeatIntervalMs: 100 });
    const serverSide = waitFor<[WebSocket]>(wss, 'connection');
    const silent = new WebSocket(`ws://127.0.0.1:${port}`, { autoPong: false });
    const healthy = new WebSocket(`ws://127.0.0.1:${port}`);
    await Promise.all([waitFor(silent, 'open'), waitFor(healthy, 'open'), serverSide]);
    const [code] = await waitFor<[number]>(silent, 'close', 3000);
    assert.equal(code, 1006);
    assert.equal(healthy.readyState, WebSocket.OPEN, 'a client that answers pings stays connected');
    healthy.terminate();
  });

  it('terminates a peer that stops reading once maxBufferedBytes is exceeded, and says why', async () => {
    const { wss, port } = await listen({ maxBufferedBytes: 1024 * 1024 });
    const serverSide = waitFor<[WebSocket]>(wss, 'connection');
    const c = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(c, 'open');
    const [ws] = await serverSide;
    c.pause(); // stops reading: TCP backpressure builds up
    const errored = waitFor<[Error & { code: string; closeCode: number }]>(ws, 'error', 10_000);
    const chunk = Buffer.alloc(64 * 1024);
    const timer = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) for (let i = 0; i < 16; i++) ws.send(chunk);
    }, 5);
    const [error] = await errored;
    clearInterval(timer);
    assert.equal(error.code, 'WS_ERR_PEER_NOT_READING');
    assert.equal(error.closeCode, 1008);
    await waitFor(ws, 'close');
    c.terminate();
  });

  it('reports bufferedAmount and calls send callbacks once data is written', async () => {
    const { wss, port } = await listen({});
    const serverSide = waitFor<[WebSocket]>(wss, 'connection');
    const c = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(c, 'open');
    const [ws] = await serverSide;
    await new Promise<void>((resolve, reject) => ws.send('x', (err) => (err ? reject(err) : resolve())));
    assert.equal(typeof ws.bufferedAmount, 'number');
    ws.close();
    const err = await new Promise<Error | null | undefined>((resolve) => ws.send('after close', resolve));
    assert.match(String(err?.message), /not open: readyState 2 \(CLOSING\)/);
    c.terminate();
  });

  it('writes what handlers send for one input chunk once per connection, in order, with every callback', async () => {
    // A client writes 8 messages at once. For each, the server echoes it and broadcasts it to a
    // second client: each socket must see one write (not 8), carrying all 8 frames in order.
    const { wss, port } = await listen({});
    const sockets: net.Socket[] = [];
    const writes: number[] = [];
    wss.on('connection', (_ws, req) => {
      const socket = req.socket;
      const index = sockets.push(socket) - 1;
      writes[index] = 0;
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = ((...args: unknown[]) => {
        writes[index]!++;
        return write(...args);
      }) as typeof socket.write;
    });
    const listener = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(listener, 'open');
    const broadcastOrder: string[] = [];
    listener.on('message', (d) => broadcastOrder.push(String(d)));
    const raw = await rawConnect(port);
    const upgraded = waitFor<[WebSocket]>(wss, 'connection');
    raw.socket.write(upgradeRequest('/'));
    const [sender] = await upgraded;
    try {
      const callbacks: string[] = [];
      sender.on('message', (data) => {
        const text = String(data);
        sender.send(`echo ${text}`, () => callbacks.push(`echo ${text}`));
        for (const client of wss.clients)
          if (client !== sender) client.send(text, () => callbacks.push(`broadcast ${text}`));
      });
      await new Promise((r) => setTimeout(r, 50));
      writes.fill(0);
      const texts = ['1', '2', '3', '4', '5', '6', '7', '8'];
      raw.socket.write(Buffer.concat(texts.map((t) => maskedFrame(0x1, Buffer.from(t)))));
      const deadline = Date.now() + 5000;
      while (broadcastOrder.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(broadcastOrder, texts);
      assert.deepEqual(writes, [1, 1], 'one write per connection for the whole input chunk');
      const echoes = raw.received().toString('latin1');
      for (const t of texts) assert.ok(echoes.includes(`echo ${t}`), `echo ${t} arrived`);
      assert.ok(echoes.indexOf('echo 1') < echoes.indexOf('echo 8'), 'echoes in order');
      while (callbacks.length < 16 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        callbacks.filter((c) => c.startsWith('echo')),
        texts.map((t) => `echo ${t}`),
      );
      assert.equal(callbacks.length, 16);
    } finally {
      raw.socket.destroy();
      listener.terminate();
    }
  });

  it('batch writes what it sends outside any input in one write per connection, in order', {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await listen({});
    const writes: number[] = [];
    wss.on('connection', (_ws, req) => {
      const socket = req.socket;
      const index = writes.push(0) - 1;
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = ((...args: unknown[]) => {
        writes[index]!++;
        return write(...args);
      }) as typeof socket.write;
    });
    const clients = [new WebSocket(`ws://127.0.0.1:${port}`), new WebSocket(`ws://127.0.0.1:${port}`)];
    const received: string[][] = [[], []];
    for (const [i, c] of clients.entries()) c.on('message', (d) => received[i]!.push(String(d)));
    await Promise.all(clients.map((c) => waitFor(c, 'open')));
    while (wss.clients.size < 2) await new Promise((r) => setTimeout(r, 5));
    try {
      writes.fill(0);
      const texts = ['1', '2', '3', '4', '5', '6', '7', '8'];
      const prepared = texts.map((t) => WebSocketServer.prepare(t));
      let callbacks = 0;
      const returned = WebSocketServer.batch(() => {
        for (const ws of wss.clients) {
          for (const [i, t] of texts.entries()) {
            if (i % 2 === 0) ws.send(t, () => callbacks++);
            else ws.sendPrepared(prepared[i]!, () => callbacks++);
          }
        }
        return 'value';
      });
      assert.equal(returned, 'value', 'batch returns what fn returns');
      const deadline = Date.now() + 5000;
      while (received.some((r) => r.length < 8) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(received, [texts, texts]);
      assert.deepEqual(writes, [1, 1], 'one write per connection for the whole batch');
      while (callbacks < 16 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(callbacks, 16, 'every callback called');
    } finally {
      for (const c of clients) c.terminate();
    }
  });

  it('calls send callbacks in order when an error handler sends while waiting output is written', async () => {
    // A's handler sends to B (which waits for the end of the chunk), then overflows A's buffer:
    // writing A's output fails A (peerNotReading) and its 'error' handler sends to B again,
    // before B's waiting output is written. B's callbacks must still run in send order.
    const { wss, port } = await listen({ maxBufferedBytes: 1024 });
    const accepted: WebSocket[] = [];
    wss.on('connection', (ws) => accepted.push(ws));
    const a = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(a, 'open');
    const b = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(b, 'open');
    while (accepted.length < 2) await new Promise((r) => setTimeout(r, 5));
    const [serverA, serverB] = accepted as [WebSocket, WebSocket];
    const callbacks: string[] = [];
    const done = new Promise<void>((resolve) => {
      const record = (name: string) => (error?: Error | null) => {
        callbacks.push(error ? `${name}: ${error.message}` : name);
        if (callbacks.length === 2) resolve();
      };
      serverA.on('error', () => serverB.send('second', record('second')));
      serverA.on('message', () => {
        serverB.send('first', record('first'));
        serverA.send(Buffer.alloc(32 * 1024 * 1024));
      });
    });
    a.pause();
    a.send('go');
    try {
      await done;
      assert.deepEqual(callbacks, ['first', 'second']);
    } finally {
      a.terminate();
      b.terminate();
    }
  });

  it('counts output that waits for the end of the input chunk in bufferedAmount', async () => {
    const { wss, port } = await listen({});
    const serverSide = waitFor<[WebSocket]>(wss, 'connection');
    const c = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(c, 'open');
    const [ws] = await serverSide;
    const seen = new Promise<number>((resolve) =>
      ws.on('message', () => {
        ws.send(Buffer.alloc(1000));
        resolve(ws.bufferedAmount);
      }),
    );
    c.send('go');
    try {
      assert.ok((await seen) >= 1000, 'the 1,000-byte message counts before it is written');
    } finally {
      c.terminate();
    }
  });

  it('holds messages while paused and delivers them in order on resume', async () => {
    const { wss, port } = await listen({});
    const serverSide = waitFor<[WebSocket]>(wss, 'connection');
    const c = new WebSocket(`ws://127.0.0.1:${port}`);
    await waitFor(c, 'open');
    const [ws] = await serverSide;
    const got: string[] = [];
    c.on('message', (d) => got.push(d.toString()));
    c.pause();
    assert.equal(c.isPaused, true);
    ws.send('1');
    ws.send('2');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, []);
    c.resume();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, ['1', '2']);
    c.terminate();
  });
});

describe('timeouts', () => {
  it('fails a client handshake the server never answers with WS_ERR_HANDSHAKE_TIMEOUT', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const c = new WebSocket(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
      handshakeTimeout: 200,
    });
    const closed = new Promise<number>((resolve) => c.once('close', (code: number) => resolve(code)));
    const [error] = await waitFor<[Error & { code: string }]>(c, 'error');
    assert.equal(error.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
    assert.equal(await closed, 1006);
    silent.close();
  });

  it('destroys the socket when the peer never answers our close frame (closeTimeoutMs)', async () => {
    const { wss, port } = await listen({ closeTimeoutMs: 200 });
    const serverSide = waitFor<[WebSocket]>(wss, 'connection');
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/'));
    const [ws] = await serverSide;
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.close(1000);
    // The raw peer reads but never replies: the server gives up after closeTimeoutMs.
    assert.equal(await closed, 1006);
    await raw.ended;
  });

  for (const first of ['client', 'server'] as const) {
    it(`a client closes the TCP connection when the server does not after the close handshake (${first} closes first, closeTimeoutMs)`, async () => {
      // RFC 6455 §7.1.1: the server closes first; a client waits for it, but not forever.
      const sockets: net.Socket[] = [];
      const raw = net.createServer((socket) => {
        sockets.push(socket);
        let handshaken = false;
        socket.on('error', () => {});
        socket.on('data', (data: Buffer) => {
          if (!handshaken) {
            handshaken = true;
            const key = /Sec-WebSocket-Key: (\S+)/i.exec(data.toString('latin1'))?.[1] ?? '';
            socket.write(
              'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`,
            );
            // The server starts the closing handshake at once.
            if (first === 'server') socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
            return;
          }
          // The client's close frame: reply (if the client closed first), keep the TCP connection open.
          if (first === 'client') socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
        });
      });
      servers.push({
        close: (cb) => {
          for (const socket of sockets) socket.destroy();
          raw.close(cb);
        },
      });
      raw.listen(0, '127.0.0.1');
      await waitFor(raw, 'listening');
      const c = new WebSocket(`ws://127.0.0.1:${(raw.address() as AddressInfo).port}`, {
        closeTimeoutMs: 200,
      });
      const closed = waitFor<[number]>(c, 'close', 3000);
      await waitFor(c, 'open');
      if (first === 'client') c.close(1000);
      const [code] = await closed;
      assert.equal(code, 1000, 'the close handshake completed');
    });
  }
});
