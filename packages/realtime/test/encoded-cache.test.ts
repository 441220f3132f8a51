// The server's shared cache of encoded channel messages and the outbound queue's writable signal,
// the two pieces history replays are paced with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelEntry } from '../src/adapter/adapter.js';
import { type Codec, jsonCodec } from '../src/codec/index.js';
import { EncodedCache } from '../src/server/encoded-cache.js';
import { OutboundQueue } from '../src/transports/outbound-queue.js';

function countingCodec() {
  const codec: Codec & { encodes: number } = {
    name: 'json',
    binary: false,
    encodes: 0,
    encode(message) {
      codec.encodes++;
      return jsonCodec.encode(message);
    },
    decode: (data) => jsonCodec.decode(data),
  };
  return codec;
}

const entry = (off: number, d: unknown = off): ChannelEntry => ({ off, ev: 'e', d, time: 0 });

describe('EncodedCache', () => {
  it('encodes a stored message once per codec and returns the msg packet', { timeout: 5000 }, () => {
    const cache = new EncodedCache(1024 * 1024);
    const codec = countingCodec();
    const a = cache.encode(codec, 'ch', 'ep', entry(1, 'hi'));
    const b = cache.encode(codec, 'ch', 'ep', entry(1, 'hi'));
    assert.equal(a, b);
    assert.equal(codec.encodes, 1);
    assert.deepEqual(JSON.parse(a as string), { t: 'msg', ch: 'ch', ev: 'e', d: 'hi', ep: 'ep', off: 1 });
    // Another channel, epoch or offset is another message.
    cache.encode(codec, 'other', 'ep', entry(1, 'hi'));
    cache.encode(codec, 'ch', 'ep2', entry(1, 'hi'));
    cache.encode(codec, 'ch', 'ep', entry(2, 'hi'));
    assert.equal(codec.encodes, 4);
  });

  it('stays within its byte bound, dropping the least recently used first', { timeout: 5000 }, () => {
    const codec = countingCodec();
    const payload = 'x'.repeat(400); // ~460 characters encoded, counted as ~920 bytes
    const cache = new EncodedCache(3000);
    for (let off = 1; off <= 3; off++) cache.encode(codec, 'ch', 'ep', entry(off, payload));
    assert.ok(cache.size <= 3000, `${cache.size} bytes held`);
    cache.encode(codec, 'ch', 'ep', entry(1, payload)); // used again: now the most recent
    cache.encode(codec, 'ch', 'ep', entry(4, payload)); // evicts 2, the least recently used
    assert.ok(cache.size <= 3000, `${cache.size} bytes held`);
    const before = codec.encodes;
    cache.encode(codec, 'ch', 'ep', entry(1, payload));
    cache.encode(codec, 'ch', 'ep', entry(4, payload));
    assert.equal(codec.encodes, before, '1 and 4 are still cached');
    cache.encode(codec, 'ch', 'ep', entry(2, payload));
    assert.equal(codec.encodes, before + 1, '2 was evicted');
  });

  it('does not keep a message larger than the whole bound', { timeout: 5000 }, () => {
    const codec = countingCodec();
    const cache = new EncodedCache(100);
    cache.encode(codec, 'ch', 'ep', entry(1, 'x'.repeat(200)));
    assert.equal(cache.size, 0);
  });
});

describe('OutboundQueue writable signal', () => {
  it('is writable while nothing waits and the socket is below highWaterBytes; wakes waiters when it drains', {
    timeout: 5000,
  }, () => {
    let buffered = 0;
    const pending: Array<() => void> = [];
    const queue = new OutboundQueue(
      {
        get bufferedAmount() {
          return buffered;
        },
        write: (data, done) => {
          buffered += typeof data === 'string' ? data.length : 0;
          pending.push(() => {
            buffered -= typeof data === 'string' ? data.length : 0;
            done();
          });
        },
      },
      { maxQueuedMessages: 10, maxQueuedBytes: 1 << 20, highWaterBytes: 100, policy: 'disconnect' },
    );
    assert.equal(queue.writable, true);
    assert.equal(queue.push('x'.repeat(150)), 'sent');
    assert.equal(queue.writable, false);
    assert.equal(queue.push('y'), 'queued');
    let woken = 0;
    queue.onWritable(() => woken++);
    const cancelled = queue.onWritable(() => assert.fail('a cancelled waiter ran'));
    cancelled();
    pending.shift()!(); // the big write completes: 'y' goes out, the queue is writable again
    assert.equal(queue.writable, true);
    assert.equal(woken, 1);
    pending.shift()!();
    assert.equal(woken, 1, 'a waiter runs once');
  });
});
