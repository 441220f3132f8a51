// ws 8: a reply sent from a 'message' handler is written before the close frame that answers
// the peer's close, even when the message and the close frame arrived in one read (issue "ws 8
// drop-in", item 5). Checked on both sides: a server answering a client, a client answering a
// server.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { computeAcceptKey } from '../../src/protocol/accept-key.js';
import { maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

describe('a reply to a message that arrived with the close frame', () => {
  it('server: is sent (callback without error) before the close reply', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await waitFor(wss, 'listening');
    const { port } = wss.address() as AddressInfo;
    try {
      const raw = await rawConnect(port);
      const accepted = waitFor<[WebSocket]>(wss, 'connection');
      raw.socket.write(upgradeRequest('/'));
      const [ws] = await accepted;
      const sent = new Promise<Error | null | undefined>((resolve) => {
        ws.on('message', (data) => {
          assert.equal(ws.readyState, WebSocket.OPEN);
          ws.send(`reply to ${data}`, resolve);
        });
      });
      const closePayload = Buffer.from([0x03, 0xe8]); // 1000
      raw.socket.write(
        Buffer.concat([maskedFrame(0x1, Buffer.from('hello')), maskedFrame(0x8, closePayload)]),
      );
      assert.equal((await sent) ?? null, null, 'the send callback reports no error');
      await raw.ended;
      const received = raw.received();
      const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
      const reply = Buffer.from('reply to hello');
      assert.equal(
        body.subarray(0, 2 + reply.length).toString('hex'),
        Buffer.concat([Buffer.from([0x81, reply.length]), reply]).toString('hex'),
      );
      assert.equal(body.subarray(2 + reply.length).toString('hex'), '880203e8', 'then the close reply');
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('client: is sent before the close reply', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((socket) => {
      socket.once('data', (head) => {
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`,
        );
        // A text message and a close frame in one write (server frames are unmasked).
        socket.write(Buffer.from('8102686988020 3e8'.replace(' ', ''), 'hex'));
        socket.on('data', (d) => {
          received.push(d);
          // The close reply came (after the text frame): complete the close as a server does.
          const all = Buffer.concat(received);
          const closeAt = 2 + 4 + ((all[1] ?? 0) & 0x7f);
          if (all.length > closeAt && all[closeAt] === 0x88) socket.end();
        });
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const client = new WebSocket(`ws://127.0.0.1:${port}`);
      const sent = new Promise<Error | null | undefined>((resolve) => {
        client.on('message', (data) => client.send(`reply to ${data}`, resolve));
      });
      assert.equal((await sent) ?? null, null, 'the send callback reports no error');
      const [code] = await waitFor<[number]>(client, 'close', 5000);
      assert.equal(code, 1000);
      // Client frames are masked: check the opcodes in order (text, then close).
      const frames = Buffer.concat(received);
      assert.equal(frames[0], 0x81, 'the reply first');
      const replyLength = frames[1]! & 0x7f;
      assert.equal(frames[2 + 4 + replyLength], 0x88, 'then the close reply');
    } finally {
      server.close();
    }
  });
});
