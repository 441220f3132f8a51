// ws 8 compatibility: `skipUTF8Validation: true` (server and client) delivers text messages and
// close reasons without checking their UTF-8, as ws does; without it invalid text closes 1007.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const INVALID = Buffer.from([0x68, 0x69, 0xc0, 0xaf]); // "hi" + an overlong encoding

async function ieumServer(options: Omit<ConstructorParameters<typeof WebSocketServer>[0], 'port'>) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(wss, 'listening');
  return {
    wss,
    port: (wss.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** What the server side reports for `frames` sent on a raw connection. */
async function serverSees(wss: WebSocketServer, port: number, frames: Buffer[]): Promise<string> {
  const raw = await rawConnect(port);
  const connection = waitFor<[WebSocket]>(wss, 'connection');
  raw.socket.write(upgradeRequest('/'));
  const [ws] = await connection;
  const seen = new Promise<string>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      resolve(`message ${isBinary ? 'binary' : 'text'} ${data.toString('hex')}`),
    );
    ws.on('close', (code: number, reason: Buffer) => resolve(`close ${code} ${reason.toString('hex')}`));
    ws.on('error', (error: Error & { code?: string }) => resolve(`error ${error.code}`));
  });
  raw.socket.write(Buffer.concat(frames));
  const result = await seen;
  raw.socket.destroy();
  return result;
}

describe('ws-compat: skipUTF8Validation', { timeout: 30_000 }, () => {
  it('server: invalid UTF-8 text is delivered as is with skipUTF8Validation', async () => {
    const { wss, port, close } = await ieumServer({ skipUTF8Validation: true });
    try {
      assert.equal(
        await serverSees(wss, port, [maskedFrame(0x1, INVALID)]),
        `message text ${INVALID.toString('hex')}`,
      );
    } finally {
      await close();
    }
  });

  it('server: a close reason that is not UTF-8 is accepted with skipUTF8Validation', async () => {
    const { wss, port, close } = await ieumServer({ skipUTF8Validation: true });
    try {
      const payload = Buffer.concat([Buffer.from([0x03, 0xe8]), INVALID]);
      // The connection stays clean (1000); the reason reaches the handler decoded as text, so the
      // invalid bytes read as replacement characters (ws hands over the raw bytes).
      const reason = Buffer.from(INVALID.toString()).toString('hex');
      assert.equal(await serverSees(wss, port, [maskedFrame(0x8, payload)]), `close 1000 ${reason}`);
    } finally {
      await close();
    }
  });

  it('server: without the option invalid UTF-8 still closes with 1007', async () => {
    const { wss, port, close } = await ieumServer({});
    try {
      assert.equal(await serverSees(wss, port, [maskedFrame(0x1, INVALID)]), 'error WS_ERR_INVALID_UTF8');
    } finally {
      await close();
    }
  });

  it('server: compressed invalid UTF-8 text is delivered with skipUTF8Validation', async () => {
    const { wss, port, close } = await ieumServer({ skipUTF8Validation: true, perMessageDeflate: true });
    try {
      const received = new Promise<string>((resolve) =>
        wss.once('connection', (ws) => ws.on('message', (d: Buffer) => resolve(d.toString('hex')))),
      );
      const client = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate: { threshold: 0 } });
      await waitFor(client, 'open');
      client.send(INVALID, { binary: false, compress: true });
      assert.equal(await received, INVALID.toString('hex'));
      client.terminate();
    } finally {
      await close();
    }
  });

  it('client: invalid UTF-8 text from the server is delivered with skipUTF8Validation', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1' });
    await waitFor(server, 'listening');
    server.on('connection', (peer) => peer.send(INVALID, { binary: false }));
    try {
      const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
        skipUTF8Validation: true,
      });
      const [data, isBinary] = await waitFor<[Buffer, boolean]>(client, 'message');
      assert.equal(isBinary, false);
      assert.equal(data.toString('hex'), INVALID.toString('hex'));
      client.terminate();
    } finally {
      for (const c of server.clients) c.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
