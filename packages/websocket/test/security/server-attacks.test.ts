// Known attacks on WebSocket servers, over real sockets: each is refused with the right status or
// close code, and never disturbs another connection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type WsClient from 'ws';
import { echoServerWithBystander, maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

describe('server under attack', () => {
  let port: number;
  let bystander: WsClient;

  let close: () => Promise<void>;

  before(async () => {
    // The bystander is a well-behaved client that must keep working through every attack.
    ({ port, bystander, close } = await echoServerWithBystander({
      handshakeTimeoutMs: 500,
      limits: { maxMessageBytes: 64 * 1024, maxFrameBytes: 64 * 1024, maxFragments: 100 },
    }));
  });

  after(() => close());

  async function bystanderStillWorks(): Promise<void> {
    bystander.send('still here?');
    const [d] = await waitFor<[Buffer]>(bystander, 'message');
    assert.equal(d.toString(), 'still here?');
  }

  /** Opens a raw upgraded connection and returns it. */
  async function upgraded() {
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/'));
    while (!raw.received().includes('\r\n\r\n')) await new Promise((r) => setTimeout(r, 5));
    const headLength = raw.received().indexOf('\r\n\r\n') + 4;
    return { ...raw, frames: () => raw.received().subarray(headLength) };
  }

  it('header flood: too many header lines get 431', async () => {
    const raw = await rawConnect(port);
    const extra = Array.from({ length: 500 }, (_, i) => `X-Flood-${i}: a`);
    raw.socket.write(upgradeRequest('/', extra));
    await raw.ended;
    assert.match(raw.received().toString(), /^HTTP\/1\.1 431 /);
    await bystanderStillWorks();
  });

  it('header flood: a request head over maxHandshakeBytes gets 431', async () => {
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/', [`X-Big: ${'a'.repeat(64 * 1024)}`]));
    await raw.ended;
    assert.match(raw.received().toString(), /^HTTP\/1\.1 431 /);
    await bystanderStillWorks();
  });

  it('slow handshake (slowloris): a head that never completes is cut off after handshakeTimeoutMs', async () => {
    const raw = await rawConnect(port);
    raw.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => raw.socket.write('X-Slow: 1\r\n'), 100);
    await raw.ended; // the server closes the socket; the test would time out otherwise
    clearInterval(drip);
    await bystanderStillWorks();
  });

  it('an oversized frame is refused from its header with 1009, before the payload is sent', async () => {
    const c = await upgraded();
    // Header only: FIN+binary, masked, 64-bit length of 1 GiB.
    const head = Buffer.alloc(14);
    head[0] = 0x82;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(1n << 30n, 2);
    c.socket.write(head);
    await c.ended;
    assert.equal(c.frames().subarray(0, 4).toString('hex'), '880203f1'); // close 1009
    await bystanderStillWorks();
  });

  it('a flood of empty fragments is cut off at maxFragments with 1008 (as ws)', async () => {
    const c = await upgraded();
    const frames = [maskedFrame(0x1, Buffer.alloc(0), false)];
    for (let i = 0; i < 1000; i++) frames.push(maskedFrame(0x0, Buffer.alloc(0), false));
    c.socket.write(Buffer.concat(frames));
    await c.ended;
    assert.equal(c.frames().subarray(0, 4).toString('hex'), '880203f0'); // close 1008
    await bystanderStillWorks();
  });

  it('invalid UTF-8 in the first fragment fails at once with 1007, before the message ends', async () => {
    const c = await upgraded();
    c.socket.write(maskedFrame(0x1, Buffer.from([0x68, 0xc0, 0xaf]), false));
    await c.ended;
    assert.equal(c.frames().subarray(0, 4).toString('hex'), '880203ef'); // close 1007
    await bystanderStillWorks();
  });

  it('an unmasked client frame is a protocol error (1002)', async () => {
    const c = await upgraded();
    c.socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    await c.ended;
    assert.equal(c.frames().subarray(0, 4).toString('hex'), '880203ea');
    await bystanderStillWorks();
  });

  it('garbage after the handshake never crashes the server', async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => upgraded()));
    let seed = 7;
    for (const s of sockets) {
      const junk = Buffer.alloc(4096);
      for (let i = 0; i < junk.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        junk[i] = seed & 255;
      }
      s.socket.write(junk);
    }
    await Promise.all(sockets.map((s) => Promise.race([s.ended, new Promise((r) => setTimeout(r, 2000))])));
    for (const s of sockets) s.socket.destroy();
    await bystanderStillWorks();
  });
});
