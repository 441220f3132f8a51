// ws 8 compatibility: WebSocketServer.handleUpgrade() in noServer mode.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import WsClient from 'ws';
import { WebSocketServer } from '../../src/index.js';
import { rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';
import { closeAfterTest } from './server-helpers.js';

/** An http server whose upgrades go to `onUpgrade`; closed after the test. */
async function upgradeServer(
  onUpgrade: (req: http.IncomingMessage, socket: Socket, head: Buffer) => void,
): Promise<number> {
  const server = http.createServer();
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeAfterTest(server);
  return (server.address() as AddressInfo).port;
}

/** A plain Duplex (not a net.Socket) that relays to and from `socket`, as a TLS or proxy layer would. */
function relay(socket: Socket): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

describe('ws 8: handleUpgrade()', () => {
  it('throws when called a second time with the same socket, and answers the first upgrade only', {
    timeout: 10_000,
  }, async () => {
    const first = new WebSocketServer({ noServer: true });
    const second = new WebSocketServer({ noServer: true });
    let thrown: unknown;
    const port = await upgradeServer((req, socket, head) => {
      first.handleUpgrade(req, socket, head, (ws) => setImmediate(() => ws.terminate()));
      try {
        second.handleUpgrade(req, socket, head, () => {});
      } catch (error) {
        thrown = error;
      }
    });
    const raw = await rawConnect(port);
    raw.socket.write(upgradeRequest('/'));
    await raw.ended;
    const received = raw.received().toString('latin1');
    assert.match(received, /^HTTP\/1\.1 101 /);
    assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, received);
    assert.ok(thrown instanceof Error);
    assert.match(thrown.message, /more than once with the same socket/);
  });

  it('accepts any Duplex stream as the socket, not only a net.Socket', { timeout: 10_000 }, async () => {
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    let wasSocket: boolean | undefined;
    const port = await upgradeServer((req, socket, head) => {
      const stream = relay(socket);
      wasSocket = stream instanceof net.Socket;
      wss.handleUpgrade(req, stream, head, (ws) => wss.emit('connection', ws, req));
    });
    const client = new WsClient(`ws://127.0.0.1:${port}`);
    await waitFor(client, 'open');
    assert.equal(wasSocket, false);
    const echoed = waitFor<[Buffer]>(client, 'message');
    client.send('through a relay');
    assert.equal(String((await echoed)[0]), 'through a relay');
    const closed = waitFor<[number]>(client, 'close');
    client.close(1000);
    assert.equal((await closed)[0], 1000);
  });
});
