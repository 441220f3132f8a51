// A peer must not hold part of a message forever (issue "hostile peers", item 14): a message
// that does not arrive whole within messageAssemblyTimeoutMs fails the connection with 1008.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LIMITS, type WebSocket, WebSocketServer } from '../../src/index.js';
import { resolveLimits } from '../../src/protocol/limits.js';
import { maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const TIMEOUT_MS = 200;
const CLOSE_1008 = '880203f0';

describe('messageAssemblyTimeoutMs', () => {
  let wss: WebSocketServer;
  let port: number;
  const errors: string[] = [];

  before(async () => {
    wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      limits: { messageAssemblyTimeoutMs: TIMEOUT_MS },
    });
    wss.on('connection', (ws) => {
      ws.on('error', (e: Error & { code?: string }) => errors.push(String(e.code)));
      ws.on('message', (d, b) => ws.send(d, { binary: b }));
    });
    await waitFor(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  });

  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  async function upgraded() {
    const raw = await rawConnect(port);
    const accepted = waitFor<[WebSocket]>(wss, 'connection');
    raw.socket.write(upgradeRequest('/'));
    const [ws] = await accepted;
    while (!raw.received().includes('\r\n\r\n')) await new Promise((r) => setTimeout(r, 5));
    const headLength = raw.received().indexOf('\r\n\r\n') + 4;
    return { ...raw, ws, frames: () => raw.received().subarray(headLength) };
  }

  it('defaults to 60 s; 0 turns it off; other limits still refuse 0', () => {
    assert.equal(DEFAULT_LIMITS.messageAssemblyTimeoutMs, 60_000);
    assert.equal(resolveLimits({ messageAssemblyTimeoutMs: 0 }).messageAssemblyTimeoutMs, 0);
    assert.throws(() => resolveLimits({ maxMessageBytes: 0 }), /positive integer/);
    assert.throws(() => resolveLimits({ messageAssemblyTimeoutMs: -1 }), /positive integer/);
  });

  it('an unfinished fragmented message fails the connection with 1008 (WS_ERR_MESSAGE_TIMEOUT)', async () => {
    errors.length = 0;
    const c = await upgraded();
    const start = Date.now();
    c.socket.write(maskedFrame(0x2, Buffer.alloc(1000), false)); // first fragment, never finished
    await c.ended;
    assert.ok(Date.now() - start >= TIMEOUT_MS - 20, 'not before the deadline');
    assert.equal(c.frames().subarray(0, 4).toString('hex'), CLOSE_1008);
    assert.deepEqual(errors, ['WS_ERR_MESSAGE_TIMEOUT']);
  });

  it('pings between the fragments do not extend the deadline', async () => {
    const c = await upgraded();
    c.socket.write(maskedFrame(0x1, Buffer.from('part'), false));
    const pinger = setInterval(() => c.socket.write(maskedFrame(0x9, Buffer.alloc(0))), 40);
    try {
      await c.ended;
    } finally {
      clearInterval(pinger);
    }
    assert.ok(c.frames().includes(Buffer.from(CLOSE_1008, 'hex')), 'closed with 1008 after its pongs');
  });

  it('an unfinished frame header counts too', async () => {
    const c = await upgraded();
    c.socket.write(Buffer.from([0x82])); // one byte of a header
    await c.ended;
    assert.equal(c.frames().subarray(0, 4).toString('hex'), CLOSE_1008);
  });

  it('each message gets its own deadline: slow but finished messages keep the connection open', async () => {
    const c = await upgraded();
    // Six messages, each in two halves 100 ms apart (600 ms in all, three times the limit).
    for (let i = 0; i < 6; i++) {
      const frame = maskedFrame(0x1, Buffer.from(`message ${i}`));
      c.socket.write(frame.subarray(0, 5));
      await new Promise((r) => setTimeout(r, TIMEOUT_MS / 2));
      c.socket.write(frame.subarray(5));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.ws.readyState, 1, 'still open');
    assert.ok(c.frames().toString('latin1').includes('message 5'), 'every message was echoed');
    c.socket.destroy();
  });

  it('does not run while the application has paused the connection', async () => {
    const c = await upgraded();
    c.ws.pause();
    c.socket.write(maskedFrame(0x2, Buffer.alloc(10), false));
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
    assert.equal(c.ws.readyState, 1, 'still open while paused');
    c.ws.resume();
    await c.ended; // the deadline runs again once resumed
    assert.equal(c.frames().subarray(0, 4).toString('hex'), CLOSE_1008);
  });
});
