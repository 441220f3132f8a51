// ws 8 compatibility: `maxPayload` is the largest message accepted, whatever its size and
// however it is framed or compressed (regression: the frame limit stayed at 16 MiB, and a
// compressed message of exactly the limit was refused because its compressed frame is larger).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';

const MiB = 1024 * 1024;

/** Seeded bytes that do not compress (xorshift32); the seed is in the failure message. */
function randomBytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function ieumServer(options: ConstructorParameters<typeof WebSocketServer>[0]) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  const close = async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
  return { wss, port, close };
}

/** The size of the first message the server receives, or the error it reports. */
function firstMessageOrError(wss: WebSocketServer): Promise<number | string> {
  return new Promise((resolve) => {
    wss.once('connection', (ws) => {
      ws.once('message', (data: Buffer) => resolve(data.length));
      ws.once('error', (error: Error & { code?: string }) => resolve(`error ${error.code}`));
      ws.once('close', (code: number) => resolve(`close ${code}`));
    });
  });
}

describe('ws-compat: maxPayload', { timeout: 60_000 }, () => {
  it('maxPayload above 16 MiB accepts a single-frame message up to maxPayload (server)', async () => {
    const { wss, port, close } = await ieumServer({ maxPayload: 32 * MiB });
    try {
      const received = firstMessageOrError(wss);
      const client = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      await waitFor(client, 'open');
      client.send(Buffer.alloc(20 * MiB, 7));
      assert.equal(await received, 20 * MiB);
      client.terminate();
    } finally {
      await close();
    }
  });

  it('maxPayload above 16 MiB accepts a single-frame message up to maxPayload (client)', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await waitFor(server, 'listening');
    server.on('connection', (peer) => peer.send(Buffer.alloc(20 * MiB, 7)));
    try {
      const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
        maxPayload: 32 * MiB,
      });
      const [data] = await waitFor<[Buffer]>(client, 'message', 10_000);
      assert.equal(data.length, 20 * MiB);
      client.terminate();
    } finally {
      for (const c of server.clients) c.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('an explicit limits.maxFrameBytes still caps frames below maxPayload (1009)', async () => {
    const { wss, port, close } = await ieumServer({ maxPayload: 32 * MiB, limits: { maxFrameBytes: 1024 } });
    try {
      const received = firstMessageOrError(wss);
      const client = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      client.on('error', () => {});
      await waitFor(client, 'open');
      client.send(Buffer.alloc(2048));
      assert.equal(await received, 'error WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      client.terminate();
    } finally {
      await close();
    }
  });

  for (const size of [64 * 1024, 2 * MiB]) {
    it(`a compressed message of exactly maxPayload (${size} bytes) that does not compress is accepted`, async () => {
      const seed = (Date.now() ^ size) >>> 0;
      const { wss, port, close } = await ieumServer({ maxPayload: size, perMessageDeflate: true });
      try {
        const received = firstMessageOrError(wss);
        const client = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate: { threshold: 0 } });
        await waitFor(client, 'open');
        assert.match(client.extensions, /permessage-deflate/);
        client.send(randomBytes(size, seed), { compress: true });
        assert.equal(await received, size, `seed ${seed}`);
        client.terminate();
      } finally {
        await close();
      }
    });
  }

  it('a compressed message one byte over maxPayload is still refused with 1009', async () => {
    const seed = Date.now() >>> 0;
    const { wss, port, close } = await ieumServer({ maxPayload: 64 * 1024, perMessageDeflate: true });
    try {
      const received = firstMessageOrError(wss);
      const client = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate: { threshold: 0 } });
      client.on('error', () => {});
      await waitFor(client, 'open');
      client.send(randomBytes(64 * 1024 + 1, seed), { compress: true });
      assert.equal(await received, 'error WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', `seed ${seed}`);
      client.terminate();
    } finally {
      await close();
    }
  });
});
