// `rateLimit` counts messages whatever their size, and parsing input costs CPU by the byte: four
// connections sending 1 MiB messages under the message rate limit made a default server parse
// ~240 MB/s, and a bystander's ping took 139 ms (median) to 274 ms. Input is now limited in bytes
// per connection too (`inputBytesPerSecond`, default 1 MiB/s): beyond it the server stops reading
// the connection until the budget has refilled. Nothing fails; the sender is slowed down.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import type { RealtimeServer } from '../../src/server/index.js';
import { startServer, until } from '../helpers.js';

/** A raw JSON connection past its hello that counts the replies to its requests. */
async function sender(url: string) {
  const ws = new WebSocket(url, 'ieum.v1.json');
  const replies: number[] = [];
  let closed = 0;
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { t: string; id?: number };
    if (m.t === 'res') replies.push(m.id!);
  });
  ws.on('close', (code) => {
    closed = code;
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'big' }));
  return { ws, replies, closed: () => closed };
}

/** An `emit` request of about `bytes` bytes (no handler: answered `unknown-event`). */
const emit = (id: number, bytes: number) =>
  JSON.stringify({ t: 'emit', id, ev: 'x', d: 'x'.repeat(bytes - 40) });

describe('input bytes per connection are rate limited', { timeout: 20_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('by default 1 MiB/s after a burst of 2 MiB: large messages are slowed down, not refused', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    const c = await sender(url);
    const start = Date.now();
    for (let id = 1; id <= 6; id++) c.ws.send(emit(id, 900 * 1024));
    await new Promise((r) => setTimeout(r, 800));
    // 2 MiB of burst + 0.8 s at 1 MiB/s: 3 messages, and the one that went over is processed.
    assert.ok(c.replies.length <= 4, `${c.replies.length} of 6 processed after 0.8 s`);
    await until(() => c.replies.length === 6, 10_000, 'every message to be processed');
    const seconds = (Date.now() - start) / 1000;
    assert.ok(seconds >= 2, `6 × 900 KiB took ${seconds} s`);
    assert.deepEqual(c.replies, [1, 2, 3, 4, 5, 6]);
    assert.equal(c.closed(), 0, 'not closed');
    c.ws.close();
  });

  it('inputBytesPerSecond and inputBurstBytes set the budget; false turns it off', async () => {
    const limited = await startServer({ inputBytesPerSecond: 256 * 1024, inputBurstBytes: 256 * 1024 });
    const free = await startServer({ inputBytesPerSecond: false });
    servers.push(limited.server, free.server);
    const a = await sender(limited.url);
    const b = await sender(free.url);
    for (let id = 1; id <= 8; id++) {
      a.ws.send(emit(id, 128 * 1024));
      b.ws.send(emit(id, 128 * 1024));
    }
    await until(() => b.replies.length === 8, 5000, 'the unlimited server to answer all');
    await new Promise((r) => setTimeout(r, 500));
    // 256 KiB of burst + 0.5 s at 256 KiB/s: 3 messages (+1 over budget), not 8.
    assert.ok(a.replies.length <= 5, `${a.replies.length} of 8 processed`);
    await until(() => a.replies.length === 8, 10_000, 'the limited server to answer all');
    a.ws.close();
    b.ws.close();
  });

  it('refuses a budget that is not a positive integer', async () => {
    const { RealtimeServer: Server } = await import('../../src/server/index.js');
    assert.throws(() => new Server({ noServer: true, inputBytesPerSecond: 0 }), RangeError);
    assert.throws(() => new Server({ noServer: true, inputBurstBytes: -1 }), RangeError);
  });
});
