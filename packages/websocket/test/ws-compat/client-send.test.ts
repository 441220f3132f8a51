// ws 8 compatibility: send / ping / pong argument handling, Blobs, binaryType.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebSocket as WsSocket } from 'ws';
import { WebSocket } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { type WsPeer, wsPeer } from './helpers.js';

describe('ws compat: send, ping and pong', { timeout: 15_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  /** An open ieum client and the ws server's side of it. */
  async function pair(): Promise<{ ws: WebSocket; server: WsSocket }> {
    const serverSide = waitFor<[WsSocket]>(peer.wss, 'connection');
    const ws = new WebSocket(peer.url);
    await waitFor(ws, 'open');
    const [server] = await serverSide;
    return { ws, server };
  }

  it('ping(callback) sends an empty ping and calls back (the heartbeat of ws README)', async () => {
    const { ws, server } = await pair();
    const got = waitFor<[Buffer]>(server, 'ping');
    const done = new Promise<unknown>((resolve) => ws.ping(resolve));
    const [data] = await got;
    assert.equal(data.length, 0);
    assert.ok(!(await done), 'the callback gets no error');
    const pong = waitFor<[Buffer]>(server, 'pong');
    const sent = new Promise<unknown>((resolve) => ws.pong(resolve));
    assert.equal((await pong)[0].length, 0);
    assert.ok(!(await sent), 'the callback gets no error');
    ws.close();
  });

  it('ping(data, callback) and ping(data, mask, callback) send the data; numbers as text', async () => {
    const { ws, server } = await pair();
    const pings: string[] = [];
    server.on('ping', (data: Buffer) => pings.push(data.toString()));
    await new Promise((resolve) => ws.ping('a', resolve));
    await new Promise((resolve) => ws.ping(Buffer.from('b'), true, resolve));
    await new Promise((resolve) => ws.pong(42, false, resolve));
    ws.ping(7);
    await new Promise((resolve) => ws.ping(undefined, undefined, resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(pings, ['a', 'b', '7', '']);
    ws.close();
  });

  it('send() with no data sends an empty binary message; send("") an empty text message', async () => {
    const { ws, server } = await pair();
    const messages: Array<[number, boolean]> = [];
    server.on('message', (data: Buffer, isBinary: boolean) => messages.push([data.length, isBinary]));
    ws.send();
    await new Promise((resolve) => ws.send(undefined, resolve));
    ws.send('');
    await new Promise((resolve) => ws.send(null, {}, resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The peer echoes too: only the server's view counts here.
    assert.deepEqual(messages, [
      [0, true],
      [0, true],
      [0, false],
      [0, true],
    ]);
    ws.close();
  });

  it('send(array of byte values) sends those bytes, as ws (Buffer.from)', async () => {
    const { ws, server } = await pair();
    const got = waitFor<[Buffer, boolean]>(server, 'message');
    ws.send([1, 2, 3]);
    const [data, isBinary] = await got;
    assert.deepEqual([...data], [1, 2, 3]);
    assert.equal(isBinary, true);
    ws.close();
  });

  it('while CONNECTING, send/ping/pong throw, even with only a callback', () => {
    const ws = new WebSocket(peer.url);
    ws.on('error', () => {});
    assert.throws(() => ws.send('x'), /CONNECTING/);
    assert.throws(() => ws.ping(() => {}), /CONNECTING/);
    assert.throws(() => ws.pong(() => {}), /CONNECTING/);
    ws.terminate();
  });

  it('once CLOSING, ping(callback)/pong/send call back with "not open" and count in bufferedAmount', async () => {
    const { ws } = await pair();
    ws.close();
    const errors = await Promise.all([
      new Promise<Error | null | undefined>((resolve) => ws.ping(resolve)),
      new Promise<Error | null | undefined>((resolve) => ws.pong('ab', resolve)),
      new Promise<Error | null | undefined>((resolve) => ws.send('héllo', resolve)),
    ]);
    for (const error of errors) assert.match(String(error?.message), /not open: readyState 2 \(CLOSING\)/);
    // WHATWG (and ws): bytes given to send() after close still add to bufferedAmount.
    assert.equal(ws.bufferedAmount, 2 + 6);
    await new Promise((resolve) => ws.once('close', resolve));
    ws.ping(() => {});
    const closedError = await new Promise<Error | null | undefined>((resolve) => ws.send('x', resolve));
    assert.equal(closedError?.message, 'WebSocket is not open: readyState 3 (CLOSED)');
  });

  it('sends a Blob, later sends wait for it: the peer sees call order', async () => {
    const { ws, server } = await pair();
    const seen: string[] = [];
    const all = new Promise<void>((resolve) => {
      server.on('message', (data: Buffer, isBinary: boolean) => {
        seen.push(`${isBinary ? 'bin' : 'text'}:${data.toString()}`);
        if (seen.length === 4) resolve();
      });
    });
    const pinged = waitFor<[Buffer]>(server, 'ping');
    const callbacks: string[] = [];
    ws.send(new Blob(['blob-1']), () => callbacks.push('blob-1'));
    assert.equal(ws.bufferedAmount >= 6, true, 'a Blob being read counts in bufferedAmount');
    ws.send('text-2', () => callbacks.push('text-2'));
    ws.ping('p');
    ws.send(new Blob([new Uint8Array([0x62, 0x33])]), { binary: false }, () => callbacks.push('blob-3'));
    ws.send(Buffer.from('bin-4'), () => callbacks.push('bin-4'));
    await all;
    assert.deepEqual(seen, ['bin:blob-1', 'text:text-2', 'text:b3', 'bin:bin-4']);
    assert.equal((await pinged)[0].toString(), 'p');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(callbacks, ['blob-1', 'text-2', 'blob-3', 'bin-4']);
    ws.close();
  });

  it('close() right after send(blob) sends the Blob first, then the close frame', async () => {
    const { ws, server } = await pair();
    const got = waitFor<[Buffer]>(server, 'message');
    ws.send(new Blob(['last words']));
    ws.close(4000, 'bye');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.equal((await got)[0].toString(), 'last words');
    const [code, reason] = await waitFor<[number, Buffer]>(server, 'close');
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'bye');
  });

  it('terminate() while a Blob is read: its callback and the later ones get "socket was closed"', async () => {
    const { ws } = await pair();
    const result = new Promise<Error | null | undefined>((resolve) =>
      ws.send(new Blob(['x'.repeat(1000)]), resolve),
    );
    const after = new Promise<Error | null | undefined>((resolve) => ws.send('after', resolve));
    ws.terminate();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    // ws's message, for the Blob and for what waited behind it.
    assert.equal((await result)?.message, 'The socket was closed while the blob was being read');
    assert.equal((await after)?.message, 'The socket was closed while the blob was being read');
  });
});

describe('ws compat: binaryType', { timeout: 5_000 }, () => {
  it('ignores an invalid value, as ws and browsers do', () => {
    const ws = new WebSocket(null);
    ws.binaryType = 'arraybuffer';
    ws.binaryType = 'nope' as never;
    assert.equal(ws.binaryType, 'arraybuffer');
    ws.binaryType = undefined as never;
    assert.equal(ws.binaryType, 'arraybuffer');
  });
});
