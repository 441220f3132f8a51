// Interop in both directions with the independent `ws` 8 implementation.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';

const SIZES = [0, 1, 125, 126, 65535, 65536, 3 * 1024 * 1024];

function payload(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}
function text(n: number): string {
  // Multi-byte characters (1 + 2 + 3 + 4 = 10 bytes per unit) exercise UTF-8 validation.
  const unit = 'añ한😀';
  return unit.repeat(Math.floor(n / 10)) + 'x'.repeat(n % 10);
}

describe('ieum server with a ws client', () => {
  let server: WebSocketServer;
  let url: string;
  before(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await waitFor(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close-me') ws.close(4001, 'asked to');
        else if (!isBinary && data.toString() === 'terminate-me') ws.terminate();
        else ws.send(data, { binary: isBinary });
      });
    });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function open(): Promise<WsClient> {
    const c = new WsClient(url);
    await waitFor(c, 'open');
    return c;
  }

  for (const size of SIZES) {
    it(`echoes a ${size}-byte binary and text message`, async () => {
      const c = await open();
      const bin = payload(size, size);
      c.send(bin);
      const [got, isBinary] = await waitFor<[Buffer, boolean]>(c, 'message', 20_000);
      assert.equal(isBinary, true);
      assert.ok(got.equals(bin), 'binary echo differs');
      const t = text(size);
      c.send(t);
      const [gotText, textBinary] = await waitFor<[Buffer, boolean]>(c, 'message', 20_000);
      assert.equal(textBinary, false);
      assert.equal(gotText.toString(), t);
      c.close();
      await waitFor(c, 'close');
    });
  }

  it('reassembles a message the client sends in fragments', async () => {
    const c = await open();
    c.send('frag', { fin: false });
    c.send('men', { fin: false });
    c.send('ted', { fin: true });
    const [got] = await waitFor<[Buffer]>(c, 'message');
    assert.equal(got.toString(), 'fragmented');
    c.terminate();
  });

  it('answers a ping with a pong carrying the same payload', async () => {
    const c = await open();
    c.ping(Buffer.from('are you there'));
    const [data] = await waitFor<[Buffer]>(c, 'pong');
    assert.equal(data.toString(), 'are you there');
    c.terminate();
  });

  it('reports the client close code and reason to the server and completes the handshake', async () => {
    const c = await open();
    const serverSide = waitFor<[WebSocket]>(server, 'connection');
    const c2 = new WsClient(url);
    const [ws] = await serverSide;
    await waitFor(c2, 'open');
    const closed = waitFor<[number, Buffer]>(ws, 'close');
    c2.close(4000, 'bye now');
    const [code, reason] = await closed;
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'bye now');
    const [clientCode] = await waitFor<[number]>(c2, 'close');
    assert.equal(clientCode, 4000, 'the server echoes the close code');
    c.terminate();
  });

  it('closes with the code the server chose', async () => {
    const c = await open();
    c.send('close-me');
    const [code, reason] = await waitFor<[number, Buffer]>(c, 'close');
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'asked to');
  });

  it('gives the client 1006 when the server terminates', async () => {
    const c = await open();
    c.send('terminate-me');
    const [code] = await waitFor<[number]>(c, 'close');
    assert.equal(code, 1006);
  });

  it('sends a server ping the ws client answers, and tracks clients', async () => {
    const serverSide = waitFor<[WebSocket]>(server, 'connection');
    const c = new WsClient(url);
    const [ws] = await serverSide;
    await waitFor(c, 'open');
    assert.ok(server.clients.has(ws));
    ws.ping(Buffer.from('hb'));
    const [data] = await waitFor<[Buffer]>(ws, 'pong');
    assert.equal(data.toString(), 'hb');
    c.close();
    await waitFor(ws, 'close');
    assert.ok(!server.clients.has(ws));
  });

  it('broadcasts a message encoded once to every client', async () => {
    const clients = await Promise.all([open(), open(), open()]);
    const got = clients.map((c) => waitFor<[Buffer]>(c, 'message'));
    const n = server.broadcast('to everyone');
    assert.ok(n >= 3);
    for (const [data] of await Promise.all(got)) assert.equal(data.toString(), 'to everyone');
    for (const c of clients) c.terminate();
  });
});

describe('ieum client with a ws server', () => {
  let server: WsServer;
  let url: string;
  before(async () => {
    server = new WsServer({
      port: 0,
      host: '127.0.0.1',
      handleProtocols: (set) => (set.has('chat') ? 'chat' : false),
    });
    await waitFor(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close-me') ws.close(4002, 'server says bye');
        else if (!isBinary && data.toString() === 'frag-me') {
          ws.send('ab', { fin: false });
          ws.send('cd', { fin: true });
        } else ws.send(data, { binary: isBinary });
      });
    });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function open(protocols?: string[]): Promise<WebSocket> {
    const c = new WebSocket(url, protocols);
    await waitFor(c, 'open');
    return c;
  }

  for (const size of SIZES) {
    it(`sends and receives a ${size}-byte binary and text message`, async () => {
      const c = await open();
      const bin = payload(size, size + 1);
      c.send(bin);
      const [got, isBinary] = await waitFor<[Buffer, boolean]>(c, 'message', 20_000);
      assert.equal(isBinary, true);
      assert.ok(got.equals(bin));
      const t = text(size);
      c.send(t);
      const [gotText, textBinary] = await waitFor<[Buffer, boolean]>(c, 'message', 20_000);
      assert.equal(textBinary, false);
      assert.equal(gotText.toString(), t);
      c.close(1000);
      const [code] = await waitFor<[number]>(c, 'close');
      assert.equal(code, 1000);
    });
  }

  it('negotiates a subprotocol', async () => {
    const c = await open(['v2', 'chat']);
    assert.equal(c.protocol, 'chat');
    c.terminate();
  });

  it('reassembles fragments sent by the server', async () => {
    const c = await open();
    c.send('frag-me');
    const [data] = await waitFor<[Buffer]>(c, 'message');
    assert.equal(data.toString(), 'abcd');
    c.terminate();
  });

  it('gets the server close code and reason and ends cleanly', async () => {
    const c = await open();
    c.send('close-me');
    const [code, reason] = await waitFor<[number, Buffer]>(c, 'close');
    assert.equal(code, 4002);
    assert.equal(reason.toString(), 'server says bye');
    assert.equal(c.readyState, WebSocket.CLOSED);
  });

  it('exposes the WHATWG API: onopen, onmessage with a string, addEventListener, onclose', async () => {
    const c = new WebSocket(url);
    c.binaryType = 'arraybuffer';
    const events: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      c.onopen = () => {
        events.push('open');
        c.send('hello');
      };
      c.onmessage = (e) => {
        if (typeof e.data === 'string') {
          events.push(`text:${e.data}`);
          c.send(new Uint8Array([1, 2, 3]));
        } else {
          assert.ok(e.data instanceof ArrayBuffer);
          events.push(`binary:${new Uint8Array(e.data as ArrayBuffer).join(',')}`);
          c.close(1000, 'done');
        }
      };
      c.addEventListener('close', (e) => {
        try {
          events.push(`close:${e.code}:${e.reason}:${e.wasClean}`);
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    await done;
    assert.deepEqual(events, ['open', 'text:hello', 'binary:1,2,3', 'close:1000:done:true']);
  });

  it('throws when sending while CONNECTING, like browsers and ws', () => {
    const c = new WebSocket(url);
    assert.throws(() => c.send('too early'), /CONNECTING/);
    c.close();
  });

  it('reports close 1006 after terminate()', async () => {
    const c = await open();
    c.terminate();
    const [code] = await waitFor<[number]>(c, 'close');
    assert.equal(code, 1006);
  });

  it('emits an error naming the status, then close 1006, when a server refuses the upgrade', async () => {
    const refusing = new WsServer({ port: 0, host: '127.0.0.1', verifyClient: () => false });
    await waitFor(refusing, 'listening');
    const c = new WebSocket(`ws://127.0.0.1:${(refusing.address() as AddressInfo).port}`);
    // events.once() would reject on 'error', so listen for close directly.
    const closed = new Promise<number>((resolve) => c.once('close', (code: number) => resolve(code)));
    const [error] = await waitFor<[Error]>(c, 'error');
    assert.match(error.message, /401/);
    const code = await closed;
    assert.equal(code, 1006);
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
  });
});
