// ws 8 compatibility: createWebSocketStream(ws, options) wraps a WebSocket in a Duplex with
// ws's semantics (messages in, messages out, backpressure, end/close/error handling).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import WebSocketDefault, { createWebSocketStream, WebSocket, WebSocketServer } from '../../src/index.js';
import { maskedFrame, waitFor } from '../helpers/net.js';

describe('ws-compat: createWebSocketStream', { timeout: 30_000 }, () => {
  let wss: WebSocketServer;
  let url: string;

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await waitFor(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  /** A client and the server's side of the same connection. */
  async function pair(): Promise<{ client: WebSocket; peer: WebSocket }> {
    const peer = waitFor<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    const [[p]] = await Promise.all([peer, waitFor(client, 'open')]);
    return { client, peer: p };
  }

  const closed = (stream: Duplex) => new Promise<void>((resolve) => stream.once('close', () => resolve()));

  it('is exported by name and on the default export', () => {
    assert.equal(typeof createWebSocketStream, 'function');
    assert.equal(WebSocketDefault.createWebSocketStream, createWebSocketStream);
  });

  it('reads each message as a chunk and sends each written chunk as a message', async () => {
    const { client, peer } = await pair();
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    const got = waitFor<[Buffer]>(peer, 'message');
    stream.write('from the stream');
    assert.equal((await got)[0].toString(), 'from the stream');
    peer.send('from the peer');
    const [chunk] = await waitFor<[Buffer]>(stream, 'data');
    assert.ok(Buffer.isBuffer(chunk));
    assert.equal(chunk.toString(), 'from the peer');
    stream.destroy();
    await streamClosed;
  });

  it('writes made while CONNECTING wait for open', async () => {
    const peer = waitFor<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    const written = new Promise<Error | null | undefined>((resolve) => stream.write('early', resolve));
    const [p] = await peer;
    const [data] = await waitFor<[Buffer]>(p, 'message');
    assert.equal(data.toString(), 'early');
    assert.ok(!(await written));
    stream.destroy();
    await streamClosed;
  });

  it('in readableObjectMode, text messages are strings and binary ones Buffers', async () => {
    const { client, peer } = await pair();
    const stream = createWebSocketStream(client, { readableObjectMode: true });
    const streamClosed = closed(stream);
    peer.send('text');
    peer.send(Buffer.from([1, 2, 3]));
    const chunks: unknown[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (chunks.length === 2) break;
    }
    assert.equal(chunks[0], 'text');
    assert.deepEqual(chunks[1], Buffer.from([1, 2, 3]));
    await streamClosed;
  });

  it('pauses the WebSocket when the readable buffer is full, and resumes when it is read', async () => {
    const { client, peer } = await pair();
    const stream = createWebSocketStream(client, { readableHighWaterMark: 16 });
    const streamClosed = closed(stream);
    for (let i = 0; i < 4; i++) peer.send(Buffer.alloc(64, i));
    while (!client.isPaused) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.readableLength >= 16, true);
    // Reading resumes the WebSocket; every byte arrives, in order (reads may merge chunks).
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes === 256) break;
    }
    const expected = Buffer.concat([0, 1, 2, 3].map((i) => Buffer.alloc(64, i)));
    assert.deepEqual(Buffer.concat(chunks), expected);
    await streamClosed;
  });

  it('end() closes the WebSocket (the peer sees a close frame) and the stream emits close', async () => {
    const { client, peer } = await pair();
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    stream.resume();
    const peerClosed = waitFor<[number]>(peer, 'close');
    stream.end();
    const [code] = await peerClosed;
    assert.equal(code, 1005);
    await streamClosed;
    assert.equal(client.readyState, WebSocket.CLOSED);
  });

  it('the readable side ends when the WebSocket closes', async () => {
    const { client, peer } = await pair();
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    const ended = waitFor(stream, 'end');
    stream.resume();
    peer.close(1000);
    await ended;
    stream.end();
    await streamClosed;
  });

  it('destroy() terminates the WebSocket and emits close once it has closed', async () => {
    const { client } = await pair();
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    stream.destroy();
    await streamClosed;
    assert.equal(client.readyState, WebSocket.CLOSED);
  });

  it('a WebSocket error destroys the stream with that error', async () => {
    const { client, peer } = await pair();
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    const error = waitFor<[Error & { code?: string }]>(stream, 'error');
    // A masked frame from the server is a protocol error for the client.
    peer.rawSocket!.write(maskedFrame(0x1, Buffer.from('x')));
    const [err] = await error;
    assert.equal(err.code, 'WS_ERR_UNEXPECTED_MASK');
    await streamClosed;
    assert.equal(stream.destroyed, true);
  });

  it('a write after the WebSocket closed fails the write and destroys the stream', async () => {
    const { client } = await pair();
    const stream = createWebSocketStream(client);
    const streamClosed = closed(stream);
    client.close();
    await waitFor(client, 'close');
    const error = waitFor<[Error]>(stream, 'error');
    stream.write('late');
    const [err] = await error;
    assert.ok(err instanceof Error);
    await streamClosed;
  });
});
