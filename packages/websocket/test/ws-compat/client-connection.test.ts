// ws 8 compatibility: where the client connects (createConnection, ws+unix: URLs).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { type WsPeer, wsPeer } from './helpers.js';

describe('ws compat: createConnection', { timeout: 10_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  it('makes the connection, given the host and port of the URL', async () => {
    const seen: Array<{ host?: unknown; port?: unknown }> = [];
    const ws = new WebSocket('ws://elsewhere.ieum.test:22/chat', {
      createConnection: (options) => {
        seen.push({ host: options.host, port: options.port });
        // Ignore where the URL points: connect to the test server.
        return net.connect(peer.port, '127.0.0.1');
      },
    });
    await waitFor(ws, 'open');
    assert.deepEqual(seen, [{ host: 'elsewhere.ieum.test', port: '22' }]);
    assert.equal(peer.requests.at(-1)?.url, '/chat');
    assert.equal(peer.requests.at(-1)?.headers.host, 'elsewhere.ieum.test:22');
    ws.send('through it');
    const [echo] = await waitFor<[Buffer]>(ws, 'message');
    assert.equal(echo.toString(), 'through it');
    ws.terminate();
  });
});

describe('ws compat: ws+unix: URLs', { timeout: 10_000 }, () => {
  let dir: string;
  let server: http.Server;
  const requests: IncomingMessage[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ieum-unix-'));
    server = http.createServer();
    const wss = new WsServer({ server });
    wss.on('connection', (ws, req) => {
      requests.push(req);
      ws.on('message', (data) => ws.send(data));
    });
    server.listen(join(dir, 'ws.sock'));
    await waitFor(server, 'listening');
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects to the socket before ":" and requests the path after it', async () => {
    const ws = new WebSocket(`ws+unix:${join(dir, 'ws.sock')}:/feed?room=1`);
    await waitFor(ws, 'open');
    assert.equal(requests.at(-1)?.url, '/feed?room=1');
    ws.send('over a unix socket');
    const [echo] = await waitFor<[Buffer]>(ws, 'message');
    assert.equal(echo.toString(), 'over a unix socket');
    ws.close();
    await waitFor(ws, 'close');
  });

  it('requests "/" when the URL names only the socket', async () => {
    const ws = new WebSocket(`ws+unix://${join(dir, 'ws.sock')}`);
    await waitFor(ws, 'open');
    assert.equal(requests.at(-1)?.url, '/');
    ws.terminate();
  });

  it('refuses a ws+unix: URL without a socket path at once', () => {
    assert.throws(() => new WebSocket('ws+unix:'), /socket path/);
  });
});
