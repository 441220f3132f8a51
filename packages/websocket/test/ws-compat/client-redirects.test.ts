// ws 8 compatibility: followRedirects, maxRedirects, the 'redirect' event, and which headers
// ws (like curl 7.77) keeps when it follows a redirect.
import assert from 'node:assert/strict';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/index.js';
import { selfSignedCert, waitFor } from '../helpers/net.js';
import { recordLifecycle, redirector } from './helpers.js';

/**
 * One HTTP server: an upgrade request for a path in `redirects` gets a 302 to its target; any
 * other is accepted by a ws server. Every upgrade request is recorded.
 */
async function site(redirects: Record<string, string>) {
  const server = http.createServer();
  const wss = new WsServer({ noServer: true });
  const requests: IncomingMessage[] = [];
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    requests.push(req);
    const target = redirects[req.url ?? ''];
    if (target !== undefined) {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${target}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(d)));
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `ws://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Site = Awaited<ReturnType<typeof site>>;

describe('ws compat: redirects', { timeout: 15_000 }, () => {
  let target: Site;
  before(async () => {
    target = await site({});
  });
  after(() => target.close());

  it('without followRedirects, a 302 is an unexpected response (error, then close 1006)', async () => {
    const r = await redirector(302, () => `${target.origin}/`);
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/`);
    const { events, closed } = recordLifecycle(ws);
    let message = '';
    ws.on('error', (error) => {
      message = error.message;
    });
    await closed;
    assert.deepEqual(events, ['error', 'close 1006']);
    assert.equal(message, 'Unexpected server response: 302');
    assert.equal(target.requests.length, 0);
    await r.close();
  });

  it("follows a redirect: 'redirect' gets the new URL and the request, url is the final URL", async () => {
    const r = await redirector(301, () => `${target.origin}/landing?x=1`);
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/start`, { followRedirects: true });
    const redirected: Array<[string, boolean]> = [];
    ws.on('redirect', (url: string, request: ClientRequest) => {
      redirected.push([url, typeof request.setHeader === 'function']);
    });
    await waitFor(ws, 'open');
    assert.deepEqual(redirected, [[`${target.origin}/landing?x=1`, true]]);
    assert.equal(ws.url, `${target.origin}/landing?x=1`);
    assert.equal(target.requests.at(-1)?.url, '/landing?x=1');
    ws.send('arrived');
    assert.equal((await waitFor<[Buffer]>(ws, 'message'))[0].toString(), 'arrived');
    ws.terminate();
    await r.close();
  });

  it('resolves a relative Location against the URL that answered it', async () => {
    const s = await site({ '/a/old': 'new' });
    const ws = new WebSocket(`${s.origin}/a/old`, { followRedirects: true });
    await waitFor(ws, 'open');
    assert.deepEqual(
      s.requests.map((r) => r.url),
      ['/a/old', '/a/new'],
    );
    ws.terminate();
    await s.close();
  });

  it('fails after maxRedirects redirects (error, one close 1006)', async () => {
    const r = await redirector(302, (req) => `/loop${Number(req.url?.slice(5) || 0) + 1}`);
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/loop0`, { followRedirects: true, maxRedirects: 2 });
    const { events, closed } = recordLifecycle(ws);
    let message = '';
    ws.on('error', (error) => {
      message = error.message;
    });
    await closed;
    assert.deepEqual(events, ['error', 'close 1006']);
    assert.match(message, /Maximum redirects exceeded/);
    assert.deepEqual(
      r.requests.map((req) => req.url),
      ['/loop0', '/loop1', '/loop2'],
    );
    await r.close();
  });

  it('a Location that is not a WebSocket URL is an error event, not a throw', async () => {
    const r = await redirector(302, () => 'ftp://127.0.0.1/file');
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/`, { followRedirects: true });
    const { events, closed } = recordLifecycle(ws);
    ws.on('error', () => {});
    await closed;
    assert.deepEqual(events, ['error', 'close 1006']);
    await r.close();
  });

  const sensitive = { Authorization: 'Bearer t0ken', Cookie: 'id=1', Host: 'app.example', 'X-Trace': 'abc' };

  it('keeps Authorization, Cookie and Host on a redirect to the same host and port', async () => {
    const s = await site({ '/old': '/new' });
    const ws = new WebSocket(`${s.origin}/old`, { followRedirects: true, headers: sensitive });
    await waitFor(ws, 'open');
    const last = s.requests.at(-1)!;
    assert.equal(last.url, '/new');
    assert.equal(last.headers.authorization, 'Bearer t0ken');
    assert.equal(last.headers.cookie, 'id=1');
    assert.equal(last.headers.host, 'app.example');
    assert.equal(last.headers['x-trace'], 'abc');
    ws.terminate();
    await s.close();
  });

  it('drops Authorization, Cookie and Host (and URL credentials) on a redirect to another host', async () => {
    const r = await redirector(302, () => `${target.origin}/elsewhere`);
    const ws = new WebSocket(`ws://user:pw@127.0.0.1:${r.port}/`, {
      followRedirects: true,
      headers: sensitive,
    });
    await waitFor(ws, 'open');
    assert.equal(r.requests[0]?.headers.authorization, 'Bearer t0ken', 'the first request sends them');
    const last = target.requests.at(-1)!;
    assert.equal(last.url, '/elsewhere');
    assert.equal(last.headers.authorization, undefined);
    assert.equal(last.headers.cookie, undefined);
    assert.equal(last.headers.host, new URL(target.origin).host);
    assert.equal(last.headers['x-trace'], 'abc');
    ws.terminate();
    await r.close();
  });

  it("with a 'redirect' listener nothing is dropped: the application decides", async () => {
    const r = await redirector(302, () => `${target.origin}/decided`);
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/`, { followRedirects: true, headers: sensitive });
    ws.on('redirect', (_url: string, request: ClientRequest) => request.removeHeader('cookie'));
    await waitFor(ws, 'open');
    const last = target.requests.at(-1)!;
    assert.equal(last.url, '/decided');
    assert.equal(last.headers.authorization, 'Bearer t0ken');
    assert.equal(last.headers.cookie, undefined);
    ws.terminate();
    await r.close();
  });

  it('the first Authorization wins: URL credentials of the first request go on, not the redirect’s', async () => {
    const redirects: Record<string, string> = {};
    const s = await site(redirects);
    // Same host and port, so nothing is dropped; the Location carries other credentials.
    redirects['/old'] = `ws://carol:second@127.0.0.1:${s.port}/new`;
    const ws = new WebSocket(`ws://alice:first@127.0.0.1:${s.port}/old`, { followRedirects: true });
    await waitFor(ws, 'open');
    const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
    assert.deepEqual(
      s.requests.map((r) => [r.url, r.headers.authorization]),
      [
        ['/old', basic('alice:first')],
        ['/new', basic('alice:first')],
      ],
    );
    ws.terminate();
    await s.close();
  });

  it('drops Authorization and Cookie (not Host) on a redirect from wss: down to ws: on the same port', async () => {
    // One port speaks both: TLS (first byte 22, a handshake record) goes to an https server that
    // redirects to ws: on the same port; plain HTTP goes to a ws server.
    const plain = http.createServer();
    const secure = https.createServer(selfSignedCert());
    const requests: IncomingMessage[] = [];
    const wss = new WsServer({ server: plain });
    wss.on('connection', (_ws, req) => requests.push(req));
    const front = net.createServer((socket) => {
      socket.once('readable', () => {
        const first = socket.read(1) as Buffer | null;
        if (!first) return socket.destroy();
        socket.unshift(first);
        (first[0] === 22 ? secure : plain).emit('connection', socket);
      });
    });
    front.listen(0, '127.0.0.1');
    await waitFor(front, 'listening');
    const { port } = front.address() as AddressInfo;
    secure.on('upgrade', (req: IncomingMessage, socket) => {
      requests.push(req);
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${port}/down\r\n\r\n`);
    });
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, {
      followRedirects: true,
      rejectUnauthorized: false,
      headers: sensitive,
    });
    await waitFor(ws, 'open');
    assert.equal(requests.length, 2);
    assert.equal(requests[0]?.headers.authorization, 'Bearer t0ken');
    const last = requests[1]!;
    assert.equal(last.url, '/down');
    assert.equal(last.headers.authorization, undefined);
    assert.equal(last.headers.cookie, undefined);
    assert.equal(last.headers.host, 'app.example');
    ws.terminate();
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => front.close(resolve));
  });
});
