// Peers that make us send while they never read (issue "hostile peers", item 11): what waits
// for them stays bounded in bytes and in socket writes, we stop reading them, and dropping them
// costs nothing however much they made us queue. Both sides share the driver: the Node client
// is checked against a malicious server too.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type WsClient from 'ws';
import { WebSocket, type WebSocketServer } from '../../src/index.js';
import { computeAcceptKey } from '../../src/protocol/accept-key.js';
import { echoServerWithBystander, maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const MiB = 1024 * 1024;
/** Default readPauseBytes (1 MiB) plus one input chunk's worth of replies, with room to spare. */
const MAX_WAITING_BYTES = 2 * MiB;
/** Socket writes Node may hold for one connection: a write in progress and one with our callback. */
const MAX_SOCKET_WRITES = 8;

/** Writes Node holds for a socket, not yet handed to the kernel (internal, read for the test). */
function socketWrites(socket: net.Socket | undefined): number {
  const state = (socket as unknown as { _writableState?: { bufferedRequestCount?: number } })?._writableState;
  return state?.bufferedRequestCount ?? 0;
}

/** Waits until `value()` has not changed for `quietMs`, or `maxMs` passed. */
async function settle(value: () => number, quietMs = 300, maxMs = 6000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

/** `count` copies of `frame` in one buffer. */
function repeat(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

describe('a peer that makes the server send and never reads', () => {
  let wss: WebSocketServer;
  let port: number;
  let bystander: WsClient;

  let close: () => Promise<void>;

  before(async () => {
    ({ wss, port, bystander, close } = await echoServerWithBystander());
  });

  after(() => close());

  async function bystanderRoundTrip(): Promise<number> {
    const start = performance.now();
    bystander.send('still here?');
    const [d] = await waitFor<[Buffer]>(bystander, 'message', 5000);
    assert.equal(d.toString(), 'still here?');
    return performance.now() - start;
  }

  const floods = [
    // Empty pings: each answered by a 2-byte pong, once a separate socket write each.
    { name: 'pings', frame: maskedFrame(0x9, Buffer.alloc(0)) },
    // The same through an echo handler: empty binary messages, echoed as 2-byte frames.
    { name: 'empty messages to an echo handler', frame: maskedFrame(0x2, Buffer.alloc(0)) },
  ];
  for (const { name, frame } of floods) {
    it(`flooding ${name}: bounded bytes and socket writes wait, reading stops, terminate is immediate`, async () => {
      const raw = await rawConnect(port);
      const accepted = waitFor<[WebSocket]>(wss, 'connection');
      raw.socket.write(upgradeRequest('/'));
      const [ws] = await accepted;
      raw.socket.pause(); // never reads again
      const socket = ws.rawSocket!;
      // 4 MB at a time (700,000 frames, each answered by a 2-byte frame), until the server
      // stops reading or 32 MB were sent: the kernel's buffers take several MB first.
      const burst = repeat(frame, 700_000);
      for (let sent = 0; sent < 32 * MiB && !socket.isPaused(); sent += burst.length) {
        raw.socket.write(burst);
        await settle(() => socket.bytesRead, 100, 2000);
      }
      const waiting = ws.bufferedAmount;
      const writes = socketWrites(socket);
      assert.ok(socket.isPaused(), `the server stopped reading it (read ${socket.bytesRead} bytes)`);
      assert.ok(waiting <= MAX_WAITING_BYTES, `${waiting} bytes wait for a peer that does not read`);
      assert.ok(writes <= MAX_SOCKET_WRITES, `${writes} socket writes are held for it`);
      const rtt = await bystanderRoundTrip();
      assert.ok(rtt < 1000, `bystander round trip ${rtt} ms`);
      // Teardown does not depend on how many frames were queued: no stall of the event loop.
      const start = performance.now();
      const closed = waitFor(ws, 'close', 5000);
      ws.terminate();
      await new Promise((r) => setImmediate(r));
      await closed;
      const stall = performance.now() - start;
      assert.ok(stall < 500, `terminate took ${stall} ms`);
      raw.socket.destroy();
    });
  }
});

describe('a malicious server that floods a Node client with pings and never reads', () => {
  it('the client keeps bounded bytes and socket writes waiting and stops reading', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.once('data', (head) => {
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`,
        );
        socket.pause(); // never reads the pongs
        // 24 MB of unmasked empty pings (server frames are not masked), 12 MB of pongs to send.
        socket.write(repeat(Buffer.from([0x89, 0x00]), 12_000_000));
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    client.on('error', () => {});
    await waitFor(client, 'open');
    try {
      const socket = client.rawSocket!;
      await settle(() => socket.bytesRead);
      const waiting = client.bufferedAmount;
      const writes = socketWrites(socket);
      assert.ok(waiting <= MAX_WAITING_BYTES, `${waiting} bytes wait for a server that does not read`);
      assert.ok(writes <= MAX_SOCKET_WRITES, `${writes} socket writes are held for it`);
      assert.ok(socket.isPaused(), `the client stopped reading (read ${socket.bytesRead} of 24 MB)`);
      const start = performance.now();
      const closed = waitFor(client, 'close', 5000);
      client.terminate();
      await closed;
      assert.ok(performance.now() - start < 500, 'terminate is immediate');
    } finally {
      client.terminate();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
