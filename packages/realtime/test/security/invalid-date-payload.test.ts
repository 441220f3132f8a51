// A MessagePack timestamp outside the range of a JavaScript Date (seconds = 2^62) decodes to an
// Invalid Date. It used to be stored, then reach JSON subscribers as `null` and MessagePack ones
// as the timestamp 1970-01-01T00:00:00Z: one message, two values. It is now refused at publish
// (`unsupported-payload`), like the other values the codecs do not carry alike.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { encode } from '@msgpack/msgpack';
import { msgpackCodec } from '../../src/codec/index.js';
import { MemoryAdapter, type RealtimeServer } from '../../src/server/index.js';
import { startServer, until } from '../helpers.js';

/** A `pub` whose payload `d` is a timestamp 96 extension with `seconds`. */
function pubTimestamp(id: number, seconds: bigint): Buffer {
  const head = Buffer.from(encode({ t: 'pub', id, ch: 'dates', ev: 'e', mid: `m${id}`, d: null }));
  const ext = Buffer.alloc(15);
  ext.set([0xc7, 12, 0xff]); // ext 8, 12 bytes, type -1 (timestamp)
  ext.writeUInt32BE(0, 3); // nanoseconds
  ext.writeBigInt64BE(seconds, 7);
  return Buffer.concat([head.subarray(0, head.length - 1), ext]); // d: nil replaced
}

describe('timestamps a Date cannot hold', { timeout: 10_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('are refused at publish with unsupported-payload, and nothing is stored', async () => {
    const adapter = new MemoryAdapter();
    const { server, url } = await startServer({ adapter });
    servers.push(server);
    const ws = new WebSocket(url, 'ieum.v1.msgpack');
    const replies = new Map<number, { ok: boolean; err?: { code: string } }>();
    ws.on('message', (d: Buffer) => {
      const m = msgpackCodec.decode(d) as { t: string; id: number; ok: boolean; err?: { code: string } };
      if (m.t === 'res') replies.set(m.id, m);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(encode({ t: 'hello', v: 1, cid: 'c' }));
    ws.send(pubTimestamp(1, 2n ** 62n));
    ws.send(pubTimestamp(2, -(2n ** 62n)));
    ws.send(pubTimestamp(3, 1_700_000_000n)); // a valid one is stored
    await until(() => replies.size === 3, 5000, 'three replies');
    assert.equal(replies.get(1)?.err?.code, 'unsupported-payload');
    assert.equal(replies.get(2)?.err?.code, 'unsupported-payload');
    assert.equal(replies.get(3)?.ok, true);
    assert.equal((await adapter.position('dates')).offset, 1);
    ws.close();
  });
});
