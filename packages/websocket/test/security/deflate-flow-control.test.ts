// permessage-deflate under hostile peers (issue "hostile peers", items 12 and 13; issue "ws 8
// drop-in", item 9): data waiting to be compressed counts in bufferedAmount, inflation is paced
// and stops reading the peer while it is behind, and memory stays bounded when a few bytes of
// input inflate to far more.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import WsClient from 'ws';
import { type DeflateOptions, WebSocket, WebSocketServer } from '../../src/index.js';
import { rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const MiB = 1024 * 1024;

/** A masked, compressed (RSV1) binary frame carrying `payload` (key 00 00 00 00: no change). */
function compressedFrame(payload: Buffer): Buffer {
  const len = payload.length;
  let head: Buffer;
  if (len < 126) head = Buffer.from([0xc2, 0x80 | len]);
  else if (len < 65536) head = Buffer.from([0xc2, 0x80 | 126, len >> 8, len & 255]);
  else {
    head = Buffer.alloc(10);
    head[0] = 0xc2;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/** The permessage-deflate payload of `size` zero bytes, compressed afresh (no tail). */
function zeros(size: number): Buffer {
  const out = zlib.deflateRawSync(Buffer.alloc(size), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** `count` copies of `frame` in one buffer. */
function repeat(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** A server echoing text messages (the bystander's), and binary ones too with `echoBinary`. */
async function listen(perMessageDeflate: DeflateOptions, echoBinary: boolean) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (d, b) => {
      if (!b || echoBinary) ws.send(d, { binary: b });
    });
  });
  await waitFor(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

/** A raw peer that negotiated permessage-deflate (client_no_context_takeover: frames stand alone). */
async function deflatePeer(wss: WebSocketServer, port: number) {
  const raw = await rawConnect(port);
  const accepted = waitFor<[WebSocket]>(wss, 'connection');
  raw.socket.write(
    upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover']),
  );
  const [ws] = await accepted;
  assert.match(ws.extensions, /permessage-deflate/);
  return { raw, ws };
}

/** Round trips of a bystander (a `ws` client, echo server) sampled every 20 ms for `ms`. */
async function bystanderRoundTrips(port: number, ms: number): Promise<number[]> {
  const c = new WsClient(`ws://127.0.0.1:${port}`);
  await waitFor(c, 'open');
  const times: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const start = performance.now();
    c.send('ping?');
    await waitFor(c, 'message', 10_000);
    times.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, 20));
  }
  c.terminate();
  return times;
}

describe('permessage-deflate flow control', () => {
  const servers: WebSocketServer[] = [];
  after(async () => {
    for (const wss of servers) {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('bufferedAmount counts data waiting to be compressed, so flow control built on it holds back', async () => {
    const { wss, port } = await listen({ threshold: 0 }, false);
    servers.push(wss);
    const accepted = waitFor<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: true });
    await waitFor(client, 'open');
    const [ws] = await accepted;
    const message = Buffer.alloc(256 * 1024, 7); // compressed in the thread pool
    let sends = 0;
    // Send while under 1 MiB, as a flow-controlled sender would: it must stop after a few.
    while (ws.bufferedAmount < MiB && sends < 200) {
      ws.send(message);
      sends++;
    }
    assert.ok(sends <= 5, `${sends} messages of 256 KiB sent before bufferedAmount reached 1 MiB`);
    await new Promise<void>((resolve, reject) => ws.send('last', (e) => (e ? reject(e) : resolve())));
    assert.ok(ws.bufferedAmount < MiB, 'bufferedAmount goes down once compressed and written');
    client.terminate();
  });

  it('ieum echo --deflate fed tiny messages inflating 700-fold by a peer that does not read keeps memory and waiting bytes bounded', async () => {
    // The echo server's settings: every message compressed (threshold 0). Each 81-byte frame
    // inflates to 60 KB, which the echo compresses again in the thread pool.
    const { wss, port } = await listen({ threshold: 0 }, true);
    servers.push(wss);
    const { raw, ws } = await deflatePeer(wss, port);
    raw.socket.pause(); // never reads the echoes
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    try {
      raw.socket.write(repeat(compressedFrame(zeros(60_000)), 12_000)); // ~1 MB, 720 MB inflated
      const times = await bystanderRoundTrips(port, 1500);
      const growth = (rssPeak - rssBefore) / MiB;
      assert.ok(growth < 200, `server memory grew by ${growth.toFixed(0)} MiB`);
      assert.ok(Math.max(...times) < 1000, `bystander round trips up to ${Math.max(...times).toFixed(0)} ms`);
      assert.ok(ws.bufferedAmount <= 4 * MiB, `${ws.bufferedAmount} bytes wait to be sent or compressed`);
    } finally {
      clearInterval(sampler);
      raw.socket.destroy();
    }
  });

  it('inflation in the thread pool stops reading the peer while it is behind (syncBelowBytes: 0)', async () => {
    const { wss, port } = await listen({ syncBelowBytes: 0 }, false);
    servers.push(wss);
    const { raw, ws } = await deflatePeer(wss, port);
    let messages = 0;
    ws.on('message', () => messages++);
    // 32 MB of frames of 4 KB, each inflating to 4 MiB (8 GiB in all): far more than can be
    // inflated in the time the test waits; the server must read only what it inflates.
    const input = repeat(compressedFrame(zeros(4 * MiB)), 8000);
    raw.socket.write(input);
    const times = await bystanderRoundTrips(port, 2000);
    const read = ws.rawSocket!.bytesRead;
    assert.ok(messages > 0, 'messages are inflated and delivered');
    assert.ok(read < input.length / 2, `the server read ${read} of ${input.length} bytes ahead of inflating`);
    assert.ok(Math.max(...times) < 1000, `bystander round trips up to ${Math.max(...times).toFixed(0)} ms`);
    raw.socket.destroy();
  });

  it('compressed messages inflating to 4 MiB each from a fast peer leave a bystander responsive (defaults)', async () => {
    const { wss, port } = await listen({}, true);
    servers.push(wss);
    const { raw, ws } = await deflatePeer(wss, port);
    raw.socket.pause(); // and it does not read the echoes either
    const input = repeat(compressedFrame(zeros(4 * MiB)), 8000);
    raw.socket.write(input);
    const times = await bystanderRoundTrips(port, 2000);
    const read = ws.rawSocket!.bytesRead;
    assert.ok(read < input.length / 2, `the server read ${read} of ${input.length} bytes ahead of inflating`);
    assert.ok(Math.max(...times) < 1000, `bystander round trips up to ${Math.max(...times).toFixed(0)} ms`);
    raw.socket.destroy();
  });
});
