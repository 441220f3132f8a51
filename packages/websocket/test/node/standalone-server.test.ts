// The standalone server (`{ port }`) reads request heads with its own strict parser: what
// verifyClient and 'connection' listeners get, and how malformed heads are answered.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WsClient from 'ws';
import { type VerifyClientInfo, WebSocketServer } from '../../src/index.js';
import { rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function listen(options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(wss);
  await waitFor(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

async function responseTo(port: number, request: string): Promise<string> {
  const raw = await rawConnect(port);
  raw.socket.write(request);
  await raw.ended;
  return raw.received().toString('latin1');
}

describe('standalone WebSocketServer request heads', () => {
  it('gives verifyClient and connection listeners an IncomingMessage with what ws users read', {
    timeout: 5000,
  }, async () => {
    let seen: VerifyClientInfo | undefined;
    const { wss, port } = await listen({
      verifyClient: (info: VerifyClientInfo) => {
        seen = info;
        return true;
      },
    });
    const client = new WsClient(`ws://127.0.0.1:${port}/room/1?token=abc`, {
      origin: 'https://app.example',
      headers: { 'X-Forwarded-For': '10.0.0.1', Cookie: 'a=1' },
    });
    const [[, req]] = await Promise.all([
      waitFor<[unknown, IncomingMessage]>(wss, 'connection'),
      waitFor(client, 'open'),
    ]);
    assert.ok(req instanceof IncomingMessage);
    assert.equal(seen?.req, req);
    assert.equal(seen?.origin, 'https://app.example');
    assert.equal(seen?.secure, false);
    assert.equal(req.method, 'GET');
    assert.equal(req.url, '/room/1?token=abc');
    assert.equal(req.httpVersion, '1.1');
    assert.equal(req.headers.origin, 'https://app.example');
    assert.equal(req.headers['x-forwarded-for'], '10.0.0.1');
    assert.equal(req.headers.cookie, 'a=1');
    assert.equal(req.headers.host, `127.0.0.1:${port}`);
    assert.ok(req.rawHeaders.includes('X-Forwarded-For'));
    assert.equal(req.socket.remoteAddress, '127.0.0.1');
    client.terminate();
  });

  it('passes bytes sent right after the head to the connection', { timeout: 5000 }, async () => {
    const { wss, port } = await listen();
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const raw = await rawConnect(port);
    // A masked text frame "hi" (key 01 02 03 04) in the same write as the request.
    raw.socket.write(
      Buffer.concat([Buffer.from(upgradeRequest('/')), Buffer.from('818201020304696b', 'hex')]),
    );
    const hi = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    // Echoed back unmasked; the socket closing first (nothing echoed) fails the test.
    let closed = false;
    raw.ended.then(() => {
      closed = true;
    });
    while (!raw.received().includes(hi) && !closed) await new Promise((r) => setTimeout(r, 5));
    assert.ok(raw.received().includes(hi), 'the frame sent with the request was echoed');
    raw.socket.destroy();
  });

  const refusals: Array<[string, string, RegExp]> = [
    [
      'a bare LF line end',
      upgradeRequest('/').replace('Host: 127.0.0.1\r\n', 'Host: 127.0.0.1\n'),
      /^HTTP\/1\.1 400 /,
    ],
    ['a folded header (obs-fold)', upgradeRequest('/', ['X-A: 1', ' 2']), /^HTTP\/1\.1 400 /],
    ['whitespace before a colon', upgradeRequest('/', ['X-A : 1']), /^HTTP\/1\.1 400 /],
    ['a control character in a value', upgradeRequest('/', ['X-A: a\x01b']), /^HTTP\/1\.1 400 /],
    ['a malformed request line', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
    [
      'a request that is not an upgrade',
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      /^HTTP\/1\.1 426 [\s\S]*\r\nUpgrade: websocket\r\n/,
    ],
    [
      'too many header lines',
      upgradeRequest(
        '/',
        Array.from({ length: 101 }, (_, i) => `X-${i}: a`),
      ),
      /^HTTP\/1\.1 431 /,
    ],
  ];
  for (const [name, request, expected] of refusals) {
    it(`answers ${name} with ${expected.source.slice(12, 15)} and closes`, { timeout: 5000 }, async () => {
      const { port } = await listen();
      assert.match(await responseTo(port, request), expected);
    });
  }

  it('answers 408 and closes when the head does not arrive within handshakeTimeoutMs', {
    timeout: 5000,
  }, async () => {
    const { port } = await listen({ handshakeTimeoutMs: 100 });
    assert.match(await responseTo(port, 'GET / HTTP/1.1\r\nHost: x\r\n'), /^HTTP\/1\.1 408 /);
  });

  it('close() drops connections that have not sent a complete head', { timeout: 5000 }, async () => {
    const { wss, port } = await listen({ handshakeTimeoutMs: 0 });
    const raw = await rawConnect(port);
    raw.socket.write('GET / HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 20));
    const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
    servers.splice(servers.indexOf(wss), 1);
    await raw.ended;
    await closed;
  });
});
