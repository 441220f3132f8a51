// ws 8 compatibility: a custom createConnection may return any Duplex stream, not only a
// net.Socket (ws calls setTimeout/setNoDelay only when the stream has them).
import assert from 'node:assert/strict';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';
import { type WsPeer, wsPeer } from './helpers.js';

/** A plain Duplex (no setTimeout, setNoDelay, remoteAddress...) relaying a TCP connection. */
function relay(port: number): Duplex {
  const tcp = net.connect(port, '127.0.0.1');
  const duplex = new Duplex({
    read() {
      tcp.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      tcp.write(chunk, callback);
    },
    final(callback) {
      tcp.end();
      callback();
    },
    destroy(error, callback) {
      tcp.destroy();
      callback(error);
    },
  });
  tcp.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) tcp.pause();
  });
  tcp.on('end', () => duplex.push(null));
  tcp.on('close', () => duplex.destroy());
  tcp.on('error', (error) => duplex.destroy(error));
  return duplex;
}

describe('ws compat: createConnection returning a plain Duplex', { timeout: 10_000 }, () => {
  let peer: WsPeer;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  it('opens, exchanges messages and closes cleanly over a Duplex that is not a net.Socket', async () => {
    let made: Duplex | undefined;
    const ws = new WebSocket(peer.url, {
      createConnection: () => {
        made = relay(peer.port);
        return made as unknown as net.Socket;
      },
    });
    const errors: Error[] = [];
    ws.on('error', (error) => errors.push(error));
    await waitFor(ws, 'open');
    assert.ok(made && !(made instanceof net.Socket));
    ws.send('over a duplex');
    const [echo] = await waitFor<[Buffer]>(ws, 'message');
    assert.equal(echo.toString(), 'over a duplex');
    ws.close(1000, 'done');
    const [code] = await waitFor<[number]>(ws, 'close');
    assert.equal(code, 1000);
    assert.deepEqual(errors, []);
  });
});
