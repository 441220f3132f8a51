// An HTTP fallback session's connection pauses its input like a WebSocket's (64 messages waiting,
// e.g. subscriptions waiting for `subscribeRateLimit`), but pausing an HTTP session did nothing:
// POSTs were answered 204 at once and their messages piled up in memory, without bound (100
// sessions posting sub/unsub at the message rate limit grew the heap by ~7 MB/s). Now a POST waits
// while the connection is behind, a second concurrent one is refused with 429, and messages
// relayed by another process are held up to a bound, beyond which the session closes with 4429.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryAdapter, type RealtimeServer } from '../../src/server/index.js';
import { startServer, until } from '../helpers.js';

const hello = JSON.stringify({ t: 'hello', v: 1, cid: 'c' });
/** One POST body: `n` alternating sub/unsub messages. */
const subFlood = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ t: i % 2 ? 'unsub' : 'sub', id: from + i, ch: `ch${i}` }),
  ).join('\n');

async function openSession(base: string): Promise<string> {
  const r = await fetch(`${base}/open`, { method: 'POST', body: hello });
  const { s } = (await r.json()) as { s: string };
  assert.equal(typeof s, 'string');
  return s;
}

/** Status of a POST, or 'pending' if it is not answered within `ms`. */
function statusWithin(p: Promise<Response>, ms: number): Promise<number | 'pending'> {
  return Promise.race([
    p.then((r) => r.status),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms)),
  ]);
}

describe('HTTP fallback input backpressure', { timeout: 20_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('a POST to a session whose connection is behind waits; a concurrent one gets 429', async () => {
    const { server, port } = await startServer({ subscribeRateLimit: { messagesPerSecond: 2, burst: 1 } });
    servers.push(server);
    const base = `http://127.0.0.1:${port}/realtime/http`;
    const s = await openSession(base);
    const send = (body: string) => fetch(`${base}/send?s=${s}`, { method: 'POST', body });
    // 100 subscriptions at 2 per second: the connection pauses its input after 64.
    assert.equal((await send(subFlood(100))).status, 204);
    const waiting = send(subFlood(10, 100));
    assert.equal(await statusWithin(waiting, 300), 'pending', 'the next POST waits');
    assert.equal((await send(subFlood(10, 200))).status, 429, 'a second one at once is refused');
    // Closing the session answers the waiting POST.
    assert.equal((await fetch(`${base}/close?s=${s}`, { method: 'POST' })).status, 204);
    assert.equal((await waiting).status, 410);
  });

  it('messages relayed by another process beyond the bound close the session with 4429', async () => {
    const adapter = new MemoryAdapter();
    const options = {
      adapter,
      subscribeRateLimit: { messagesPerSecond: 1, burst: 1 },
      rateLimit: { messagesPerSecond: 100_000, burst: 100_000 },
    };
    const owner = await startServer(options);
    const relay = await startServer(options);
    servers.push(owner.server, relay.server);
    const s = await openSession(`http://127.0.0.1:${owner.port}/realtime/http`);
    let closed: number | undefined;
    owner.server.on('disconnect', (_c, code) => {
      closed = code;
    });
    const relayBase = `http://127.0.0.1:${relay.port}/realtime/http`;
    const statuses: number[] = [];
    for (let i = 0; i < 30 && closed === undefined; i++) {
      const r = await fetch(`${relayBase}/send?s=${s}`, { method: 'POST', body: subFlood(100, i * 100) });
      statuses.push(r.status);
    }
    await until(() => closed !== undefined, 5000, 'the session to close');
    assert.equal(closed, 4429);
    assert.ok(statuses.length <= 15, `closed after ${statuses.length} POSTs of 100 messages`);
  });
});
