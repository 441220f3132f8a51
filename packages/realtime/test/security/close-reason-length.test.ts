// A close reason longer than 123 UTF-8 bytes cannot be sent (RFC 6455 §5.5). Reasons that quote
// what a client sent (an unknown message type, an authentication hook's message) used to be cut
// at 100 UTF-16 units, which is up to 300 bytes: WebSocket.close threw out of the message handler
// and one message took the process down.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { DisconnectCode, type RealtimeServer } from '../../src/server/index.js';
import { startServer } from '../helpers.js';

/** Opens a raw JSON connection, sends `messages`, and resolves with how the server closed it. */
async function closedWith(url: string, messages: unknown[]): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(url, 'ieum.v1.json');
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  for (const m of messages) ws.send(JSON.stringify(m));
  return closed;
}

describe('close reasons that quote the client', { timeout: 20_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('an unknown message type of multi-byte characters closes 4400 with a reason of at most 123 bytes', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    for (const t of ['€'.repeat(200), '😀'.repeat(100), `${'a'.repeat(99)}😀😀`, 'é'.repeat(1000)]) {
      const { code, reason } = await closedWith(url, [{ t }]);
      assert.equal(code, DisconnectCode.PROTOCOL_ERROR);
      assert.ok(Buffer.byteLength(reason) <= 123, `reason is ${Buffer.byteLength(reason)} bytes`);
      assert.ok(reason.startsWith('unknown message type'), reason);
      assert.ok(!reason.includes('\ufffd'), 'cut between code points, not inside one');
    }
    // The process is still serving.
    const { code } = await closedWith(url, [{ t: 'hello', v: 2, cid: 'c' }]);
    assert.equal(code, DisconnectCode.PROTOCOL_ERROR);
  });

  it('an authentication hook refusing with a long multi-byte message closes 4401', async () => {
    const { server, url } = await startServer({
      authenticate: ({ token }) => {
        throw new Error(`bad token ${token}`);
      },
    });
    servers.push(server);
    const { code, reason } = await closedWith(url, [{ t: 'hello', v: 1, cid: 'c', token: '한'.repeat(500) }]);
    assert.equal(code, DisconnectCode.UNAUTHORIZED);
    assert.ok(Buffer.byteLength(reason) <= 123, `reason is ${Buffer.byteLength(reason)} bytes`);
    assert.ok(reason.startsWith('bad token 한'), reason);
  });
});
