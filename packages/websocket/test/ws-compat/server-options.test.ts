// ws 8 compatibility: the connection options ws accepts on both WebSocketServer and WebSocket
// (closeTimeout, maxFragments, maxBufferedChunks, allowSynchronousEvents) and the server's
// WebSocket class option are accepted and honoured.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';
import { closeAfterTest, listen } from './server-helpers.js';

/** Opens a raw client connection to `port` and waits for the 101 (and the server's connection). */
async function rawClient(wss: WebSocketServer, port: number) {
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  const raw = await rawConnect(port);
  raw.socket.write(upgradeRequest('/'));
  const [ws] = await connected;
  return { raw, ws };
}

/** A raw server frame (unmasked, FIN set unless `fin` is false). */
function frame(opcode: number, payload: string, fin = true): Buffer {
  const body = Buffer.from(payload);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, body.length]), body]);
}

/**
 * A raw server that completes one handshake and then writes `frames` in a single write; the
 * test's client must handle them.
 */
async function rawServer(frames: Buffer): Promise<string> {
  const server = net.createServer((socket) => {
    socket.once('data', (head) => {
      const key = /sec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      socket.write(frames);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeAfterTest({ close: (cb) => server.close(cb) });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Records message events and the microtasks their handlers queue, in order. */
function recordTicks(ws: WebSocket, count: number): Promise<string[]> {
  const order: string[] = [];
  return new Promise((resolve) => {
    ws.on('message', (data) => {
      order.push(`message ${data}`);
      queueMicrotask(() => {
        order.push(`after ${data}`);
        if (order.length === count * 2) resolve(order);
      });
    });
  });
}

const THREE_MESSAGES_INTERLEAVED = ['message 1', 'after 1', 'message 2', 'after 2', 'message 3', 'after 3'];

describe('ws 8: shared connection options on WebSocketServer', () => {
  it('creates connections of the class given as the WebSocket option', { timeout: 10_000 }, async () => {
    class Tagged extends WebSocket {
      readonly tag = 'mine';
    }
    const { wss, port } = await listen({ WebSocket: Tagged });
    const { raw, ws } = await rawClient(wss, port);
    assert.ok(ws instanceof Tagged);
    assert.equal((ws as Tagged).tag, 'mine');
    raw.socket.destroy();
  });

  it('refuses a WebSocket option that is not a WebSocket class', () => {
    assert.throws(
      () => new WebSocketServer({ noServer: true, WebSocket: class {} as never }),
      /WebSocket class/,
    );
  });

  it('destroys the socket closeTimeout ms after its close frame when the peer never answers', {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await listen({ closeTimeout: 100 });
    const { raw, ws } = await rawClient(wss, port);
    const started = Date.now();
    ws.close(1000);
    await raw.ended;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 90 && elapsed < 5000, `socket closed after ${elapsed} ms`);
  });

  it('fails a message of more than maxFragments frames', { timeout: 10_000 }, async () => {
    const { wss, port } = await listen({ maxFragments: 2 });
    const { raw, ws } = await rawClient(wss, port);
    ws.on('error', () => {});
    // Not events.once: it would reject on the 'error' event that comes first.
    const closed = new Promise<[number]>((resolve) => ws.on('close', (code) => resolve([code])));
    raw.socket.write(
      Buffer.concat([
        maskedFrame(0x1, Buffer.from('a'), false),
        maskedFrame(0x0, Buffer.from('b'), false),
        maskedFrame(0x0, Buffer.from('c'), true),
      ]),
    );
    await closed;
    // The close frame the server sent (the raw peer never answers it).
    const received = raw.received();
    const frameStart = received.indexOf('\r\n\r\n') + 4;
    assert.equal(received[frameStart], 0x88);
    assert.equal(received.readUInt16BE(frameStart + 2), 1008);
    raw.socket.destroy();
  });

  it('takes maxFragments: 0 as "no count limit"', { timeout: 10_000 }, async () => {
    const { wss, port } = await listen({ maxFragments: 0 });
    const { raw, ws } = await rawClient(wss, port);
    const got = waitFor<[Buffer]>(ws, 'message');
    const frames = [maskedFrame(0x1, Buffer.from('x'), false)];
    for (let i = 0; i < 70_000; i++) frames.push(maskedFrame(0x0, Buffer.alloc(0), false));
    frames.push(maskedFrame(0x0, Buffer.from('y'), true));
    raw.socket.write(Buffer.concat(frames));
    assert.equal(String((await got)[0]), 'xy');
    raw.socket.destroy();
  });

  it('delivers a message held in many pieces intact with maxBufferedChunks: 1', {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await listen({ maxBufferedChunks: 1 });
    const { raw, ws } = await rawClient(wss, port);
    const got = waitFor<[Buffer]>(ws, 'message');
    const payload = Buffer.alloc(64 * 1024, 7);
    const bytes = maskedFrame(0x2, payload);
    // Written in 4 KiB pieces, each its own read on the server.
    for (let i = 0; i < bytes.length; i += 4096) {
      raw.socket.write(bytes.subarray(i, i + 4096));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok((await got)[0].equals(payload));
    raw.socket.destroy();
  });

  it("emits several 'message' events in one tick by default (allowSynchronousEvents: true)", {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await listen();
    const { raw, ws } = await rawClient(wss, port);
    const order = recordTicks(ws, 3);
    raw.socket.write(Buffer.concat(['1', '2', '3'].map((d) => maskedFrame(0x1, Buffer.from(d)))));
    assert.deepEqual((await order).slice(0, 3), ['message 1', 'message 2', 'message 3']);
    raw.socket.destroy();
  });

  it("emits each 'message' in its own macrotask with allowSynchronousEvents: false", {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await listen({ allowSynchronousEvents: false });
    const { raw, ws } = await rawClient(wss, port);
    const order = recordTicks(ws, 3);
    raw.socket.write(Buffer.concat(['1', '2', '3'].map((d) => maskedFrame(0x1, Buffer.from(d)))));
    assert.deepEqual(await order, THREE_MESSAGES_INTERLEAVED);
    raw.socket.destroy();
  });

  it('refuses closeTimeout and closeTimeoutMs given different values', () => {
    assert.throws(
      () => new WebSocketServer({ noServer: true, closeTimeout: 1, closeTimeoutMs: 2 }),
      /closeTimeoutMs and closeTimeout/,
    );
  });
});

describe('ws 8: shared connection options on the WebSocket client', () => {
  it('accepts closeTimeout, maxFragments, maxBufferedChunks and allowSynchronousEvents', {
    timeout: 10_000,
  }, async () => {
    const url = await rawServer(frame(0x1, 'hi'));
    const client = new WebSocket(url, {
      closeTimeout: 1000,
      maxFragments: 10,
      maxBufferedChunks: 10,
      allowSynchronousEvents: true,
    });
    assert.equal(String((await waitFor<[Buffer]>(client, 'message'))[0]), 'hi');
    client.terminate();
  });

  it('fails a message of more than maxFragments frames', { timeout: 10_000 }, async () => {
    const url = await rawServer(
      Buffer.concat([frame(0x1, 'a', false), frame(0x0, 'b', false), frame(0x0, 'c')]),
    );
    const client = new WebSocket(url, { maxFragments: 2 });
    const errored = new Promise<Error>((resolve) => client.on('error', resolve));
    const [code] = await new Promise<[number]>((resolve) => client.on('close', (c) => resolve([c])));
    assert.match((await errored).message, /maxFragments/);
    // The server never answers the close frame: the client gives up (1006) or sees its own code.
    assert.ok(code === 1008 || code === 1006, `close code ${code}`);
  });

  it("emits each 'message' in its own macrotask with allowSynchronousEvents: false", {
    timeout: 10_000,
  }, async () => {
    const url = await rawServer(Buffer.concat([frame(0x1, '1'), frame(0x1, '2'), frame(0x1, '3')]));
    const client = new WebSocket(url, { allowSynchronousEvents: false });
    const order = recordTicks(client, 3);
    assert.deepEqual(await order, THREE_MESSAGES_INTERLEAVED);
    client.terminate();
  });
});
