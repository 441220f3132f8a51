// ws 8 compatibility: client options handed to http.request / net.connect / tls.connect, and
// the client's own ws options (auth, generateMask, finishRequest, timeout).
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/index.js';
import { selfSignedCert, waitFor } from '../helpers/net.js';
import { recordLifecycle, type WsPeer, wsPeer } from './helpers.js';

/** Waits for 'open' or the first 'error', whichever comes first. */
function outcome(ws: WebSocket): Promise<Error | 'open'> {
  return new Promise((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('error', resolve);
  });
}

describe('ws compat: TLS options reach tls.connect', { timeout: 20_000 }, () => {
  let server: https.Server;
  let url: string;
  let cert: Buffer;
  before(async () => {
    const pair = selfSignedCert();
    cert = pair.cert;
    server = https.createServer(pair);
    new WsServer({ server }).on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('ecdhCurve is honoured (the key exchange uses the curve asked for)', async () => {
    const ws = new WebSocket(url, { ca: cert, ecdhCurve: 'secp384r1' });
    assert.equal(await outcome(ws), 'open');
    const info = (ws.rawSocket as TLSSocket).getEphemeralKeyInfo() as { name?: string };
    assert.equal(info.name, 'secp384r1');
    ws.terminate();
  });

  it('secureOptions is honoured (SSL_OP_NO_TLSv1_3 gives TLSv1.2)', async () => {
    const ws = new WebSocket(url, { ca: cert, secureOptions: constants.SSL_OP_NO_TLSv1_3 });
    assert.equal(await outcome(ws), 'open');
    assert.equal((ws.rawSocket as TLSSocket).getProtocol(), 'TLSv1.2');
    ws.terminate();
  });

  it('sigalgs is honoured (an EC server cannot sign with RSA-PSS only: the handshake fails)', async () => {
    const ws = new WebSocket(url, { ca: cert, sigalgs: 'RSA-PSS+SHA256' });
    const result = await outcome(ws);
    assert.ok(result instanceof Error, 'the TLS handshake must fail');
  });

  it('checkServerIdentity is honoured (its error fails the handshake)', async () => {
    const ws = new WebSocket(url, { ca: cert, checkServerIdentity: () => new Error('not the pinned key') });
    const { events, closed } = recordLifecycle(ws);
    const result = await outcome(ws);
    assert.ok(result instanceof Error);
    assert.equal(result.message, 'not the pinned key');
    await closed;
    assert.deepEqual(events, ['error', 'close 1006']);
  });

  it('servername defaults to none for an IP address and is sent when given', async () => {
    const names: Array<string | false | null> = [];
    const onSecure = (socket: TLSSocket) => names.push(socket.servername);
    server.on('secureConnection', onSecure);
    const plain = new WebSocket(url, { ca: cert });
    assert.equal(await outcome(plain), 'open');
    const named = new WebSocket(url, { ca: cert, servername: 'localhost' });
    assert.equal(await outcome(named), 'open');
    server.off('secureConnection', onSecure);
    assert.deepEqual(names, [false, 'localhost']);
    plain.terminate();
    named.terminate();
  });
});

describe('ws compat: http.request and net.connect options', { timeout: 15_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  it('lookup and family are honoured (a made-up name resolves through the lookup given)', async () => {
    const asked: string[] = [];
    const lookup = ((
      hostname: string,
      options: { all?: boolean },
      callback: (...args: unknown[]) => void,
    ) => {
      asked.push(hostname);
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    }) as unknown as LookupFunction;
    const ws = new WebSocket(`ws://peer.ieum.test:${peer.port}/`, { lookup, family: 4 });
    assert.equal(await outcome(ws), 'open');
    assert.deepEqual(asked, ['peer.ieum.test']);
    assert.equal(peer.requests.at(-1)?.headers.host, `peer.ieum.test:${peer.port}`);
    ws.terminate();
  });

  it('localAddress is honoured (the server sees the connection come from it)', async () => {
    const ws = new WebSocket(peer.url, { localAddress: '127.0.0.2' });
    assert.equal(await outcome(ws), 'open');
    assert.equal(peer.requests.at(-1)?.socket.remoteAddress, '127.0.0.2');
    ws.terminate();
  });

  it('auth is sent as Authorization: Basic', async () => {
    const ws = new WebSocket(peer.url, { auth: 'alice:s3cret' });
    assert.equal(await outcome(ws), 'open');
    assert.equal(
      peer.requests.at(-1)?.headers.authorization,
      `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
    );
    ws.terminate();
  });

  it('URL userinfo is sent as Authorization: Basic (and not in the request line)', async () => {
    const ws = new WebSocket(`ws://bob:pa55@127.0.0.1:${peer.port}/path`);
    assert.equal(await outcome(ws), 'open');
    const req = peer.requests.at(-1)!;
    assert.equal(req.headers.authorization, `Basic ${Buffer.from('bob:pa55').toString('base64')}`);
    assert.equal(req.url, '/path');
    assert.equal(ws.url, `ws://bob:pa55@127.0.0.1:${peer.port}/path`);
    ws.terminate();
  });

  it('finishRequest gets the request and the WebSocket, and ends the request itself', async () => {
    let seen: unknown;
    const ws = new WebSocket(peer.url, {
      finishRequest: (request, websocket) => {
        seen = websocket;
        request.setHeader('X-Finished-By', 'app');
        request.end();
      },
    });
    assert.equal(await outcome(ws), 'open');
    assert.equal(seen, ws);
    assert.equal(peer.requests.at(-1)?.headers['x-finished-by'], 'app');
    ws.terminate();
  });

  it('generateMask fills the masking key of every frame', async () => {
    const written: Buffer[] = [];
    const ws = new WebSocket(peer.url, {
      generateMask: (mask) => mask.fill(0),
      createConnection: (options) => {
        const socket = net.connect(options as net.NetConnectOpts);
        const write = socket.write;
        socket.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
          if (Buffer.isBuffer(chunk)) written.push(Buffer.from(chunk));
          return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
        } as typeof socket.write;
        return socket;
      },
    });
    assert.equal(await outcome(ws), 'open');
    written.length = 0;
    ws.send('hi');
    const [echo] = await waitFor<[Buffer]>(ws, 'message');
    assert.equal(echo.toString(), 'hi');
    // FIN + text, masked, length 2, key 00 00 00 00, then the payload as is.
    assert.deepEqual([...Buffer.concat(written)], [0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]);
    ws.terminate();
  });

  it('signal is honoured: aborting it fails the handshake (error, then close 1006)', async () => {
    // Reads and never answers, so only the signal can end the handshake.
    const silent = net.createServer((socket) => socket.resume());
    silent.listen(0, '127.0.0.1');
    await waitFor(silent, 'listening');
    const controller = new AbortController();
    const ws = new WebSocket(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
      signal: controller.signal,
    });
    const { events, closed } = recordLifecycle(ws);
    let name = '';
    ws.on('error', (error) => {
      name = error.name;
    });
    setTimeout(() => controller.abort(), 50);
    await closed;
    assert.deepEqual(events, ['error', 'close 1006']);
    assert.equal(name, 'AbortError');
    await new Promise((resolve) => silent.close(resolve));
  });

  it('timeout works as handshakeTimeout when that is not given', async () => {
    // Reads (so it sees the client hang up) and never answers.
    const silent = net.createServer((socket) => socket.resume());
    silent.listen(0, '127.0.0.1');
    await waitFor(silent, 'listening');
    const ws = new WebSocket(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, { timeout: 150 });
    const result = await outcome(ws);
    assert.ok(result instanceof Error);
    assert.equal((result as Error & { code?: string }).code, 'WS_ERR_HANDSHAKE_TIMEOUT');
    await new Promise((resolve) => silent.close(resolve));
  });

  it('options the URL decides (host, port, path, ...) are refused with a message saying so', () => {
    for (const name of ['host', 'hostname', 'port', 'path', 'socketPath', 'method', 'protocol']) {
      assert.throws(
        () => new WebSocket(peer.url, { [name]: 'x' } as never),
        (error: Error) => error.message.includes(`"${name}" comes from the URL`),
        name,
      );
    }
    assert.throws(
      () => new WebSocket(peer.url, { noSuchOption: 1 } as never),
      /Unknown WebSocket client option/,
    );
  });
});
