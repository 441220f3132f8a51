// Messages that wait behind earlier ones (a subscription waiting for `subscribeRateLimit`, an
// async hook) used to wait decoded, and a decoded message can take ~60 times its size: 1 MiB of
// MessagePack empty maps is a million objects. `maxPendingInput` bounds the bytes waiting (1 MiB
// by default), not what they decode to: a connection held ~40 MB for 1 MiB waiting. Waiting
// messages now stay the bytes they came as.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from '@ieum/websocket';
import { encode } from '@msgpack/msgpack';
import type { RealtimeServer } from '../../src/server/index.js';
import { startServer, until } from '../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Heap and Buffer memory in use, after collecting garbage. */
const heapAfterGc = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** An `emit` whose payload is an array of `n` empty maps: 1 byte each on the wire. */
function emptyMaps(id: number, n: number): Buffer {
  const head = Buffer.from(encode({ t: 'emit', id, ev: 'x', d: null }));
  const array = Buffer.alloc(5 + n, 0x80);
  array[0] = 0xdd; // array 32
  array.writeUInt32BE(n, 1);
  return Buffer.concat([head.subarray(0, head.length - 1), array]); // d: nil replaced
}

describe('messages waiting behind earlier ones', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('wait as bytes, not decoded: 256 KiB messages of empty maps hold about maxPendingInput, not 60 times it', async () => {
    const { server, url } = await startServer({
      subscribeRateLimit: { messagesPerSecond: 1, burst: 1 },
      inputBytesPerSecond: false,
    });
    servers.push(server);
    const ws = new WebSocket(url, 'ieum.v1.msgpack');
    const replies: number[] = []; // sizes of the messages received
    ws.on('message', (d: Buffer) => replies.push(d.length));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(encode({ t: 'hello', v: 1, cid: 'c' }));
    // Two subscriptions: the second waits a second for the subscribe rate limit.
    ws.send(encode({ t: 'sub', id: 1, ch: 'a' }));
    ws.send(encode({ t: 'sub', id: 2, ch: 'b' }));
    await until(() => replies.length >= 2, 5000, 'welcome and the first subscription');
    const before = heapAfterGc();
    // (what was read is counted too: ~1.25 MiB held as Buffers, the rest waits in the kernel)
    for (let id = 10; id < 26; id++) ws.send(emptyMaps(id, 256 * 1024));
    await new Promise((r) => setTimeout(r, 300));
    const held = heapAfterGc() - before;
    assert.ok(held < 12 * 1024 * 1024, `${Math.round(held / 1024 / 1024)} MiB held by waiting messages`);
    // Each is processed in its turn (no handler: unknown-event replies).
    await until(() => replies.length >= 2 + 1 + 16, 10_000, 'the waiting messages to be processed');
    ws.close();
  });
});
