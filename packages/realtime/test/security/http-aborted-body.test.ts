// A client that aborts a POST in the middle of its body is no server error: it used to be
// reported as one (a process warning with a stack per request, or an 'error' event), so any client
// could fill the server's logs. The aborted request must still release what it held (the open
// counts against `maxSessionsPerIp` and `maxPendingSessions`).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { RealtimeServer } from '../../src/server/index.js';
import { startServer } from '../helpers.js';

/** Sends the head and part of a body of `Content-Length: 100`, then resets the connection. */
function abortedPost(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"t":"hello"`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 30);
    });
    socket.on('error', reject);
  });
}

describe('HTTP fallback POSTs aborted mid-body', { timeout: 20_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('are not reported as errors and release their session slots', async () => {
    const { server, port } = await startServer({ httpFallback: { maxSessionsPerIp: 5 } });
    servers.push(server);
    const errors: Error[] = [];
    server.on('error', (e) => errors.push(e));
    const base = `http://127.0.0.1:${port}/realtime/http`;
    const open = await fetch(`${base}/open`, {
      method: 'POST',
      body: JSON.stringify({ t: 'hello', v: 1, cid: 'c' }),
    });
    const { s } = (await open.json()) as { s: string };
    for (let i = 0; i < 10; i++) {
      await abortedPost(port, '/realtime/http/open');
      await abortedPost(port, `/realtime/http/send?s=${s}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
    // Ten aborted opens did not use up the five sessions this address may open.
    const again = await fetch(`${base}/open`, {
      method: 'POST',
      body: JSON.stringify({ t: 'hello', v: 1, cid: 'd' }),
    });
    assert.equal(again.status, 200);
    assert.equal(typeof ((await again.json()) as { s: string }).s, 'string');
  });
});
