// Large single-frame messages are unmasked straight into a buffer of their own (FrameSink.payloadTarget)
// instead of in place and concatenated: the bytes, the UTF-8 checks and the limits stay the same
// under any chunking, and the buffer is only allocated once enough of the frame has arrived.
import assert from 'node:assert/strict';
import { it, describe as suite } from 'node:test';
import fc from 'fast-check';
import { type FrameHeader, FrameParser, type FrameSink } from '../../src/protocol/frame-parser.js';
import { Connection } from '../../src/protocol/index.js';
import { clientFrame } from './helpers.js';

const SEED = 0x5eed_20;

function chunked(stream: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const cut of [...cuts.sort((a, b) => a - b), stream.length]) {
    if (cut <= last) continue;
    out.push(Buffer.from(stream.subarray(last, cut)));
    last = cut;
  }
  return out;
}

function receive(chunks: Buffer[]) {
  const conn = new Connection({ role: 'server' });
  const events = [];
  for (const c of chunks) {
    conn.receiveData(c);
    events.push(...conn.eventsReceived());
  }
  return events;
}

/** A deterministic payload (xorshift), so failures reproduce. */
function payload(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

suite('large single-frame messages', { timeout: 60_000 }, () => {
  it('a 1 MiB binary message in 64 KiB chunks arrives byte for byte', () => {
    const data = payload(1 << 20, 7);
    const stream = Buffer.concat([clientFrame(2, data), clientFrame(2, 'after')]);
    const cuts: number[] = [];
    for (let at = 65536; at < stream.length; at += 65536) cuts.push(at);
    const events = receive(chunked(stream, cuts));
    assert.equal(events.length, 2);
    assert.ok(events[0]?.type === 'message' && events[0].binary);
    assert.ok(events[0].data.equals(data), 'payload differs');
    assert.ok(events[1]?.type === 'message' && events[1].data.toString() === 'after');
  });

  it('any split of large binary and text frames yields the same messages', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16 * 1024, max: 300 * 1024 }),
        fc.integer(),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
        (length, seed, text, rawCuts) => {
          // Text: multi-byte code points cut anywhere by the chunk boundaries.
          const data = text ? Buffer.from('añ€😀'.repeat(Math.ceil(length / 10))) : payload(length, seed);
          const stream = clientFrame(text ? 1 : 2, data);
          const cuts = rawCuts.map((n) => n % (stream.length + 1));
          const events = receive(chunked(stream, cuts));
          assert.equal(events.length, 1);
          assert.ok(events[0]?.type === 'message');
          assert.ok(events[0].data.equals(data));
        },
      ),
      { numRuns: 60, seed: SEED },
    );
  });

  it('invalid UTF-8 in a large text frame fails the connection (1007) before the frame ends', () => {
    const data = Buffer.from('a'.repeat(512 * 1024));
    data[200 * 1024] = 0xff;
    const stream = clientFrame(1, data);
    const conn = new Connection({ role: 'server' });
    // Everything up to just past the bad byte, in 32 KiB chunks: the frame is not complete.
    const upTo = stream.length - 256 * 1024;
    let closeCode: number | undefined;
    for (const c of chunked(
      stream.subarray(0, upTo),
      [32768, 65536, 98304, 131072, 163840, 196608, 229376],
    )) {
      conn.receiveData(c);
      for (const e of conn.eventsReceived()) if (e.type === 'error') closeCode = e.error.closeCode;
    }
    assert.equal(closeCode, 1007);
  });
});

suite('FrameParser payloadTarget', { timeout: 10_000 }, () => {
  function recordingSink() {
    const calls: Array<{ length: number; filled: number }> = [];
    const pieces: Buffer[] = [];
    let target: Buffer | undefined;
    const sink: FrameSink = {
      frameHeader(_h: FrameHeader) {},
      framePayload(piece: Buffer) {
        pieces.push(Buffer.from(piece));
        if (target) assert.equal(piece.buffer, target.buffer, 'after payloadTarget, pieces are views of it');
      },
      frameEnd() {},
      payloadTarget(length: number, filled: number) {
        calls.push({ length, filled });
        target = Buffer.alloc(length);
        return target;
      },
    };
    return { sink, calls, pieces, target: () => target };
  }

  it('is asked only once a sixteenth of the frame has arrived, with the bytes already passed', () => {
    const data = payload(1 << 20, 3);
    const stream = clientFrame(2, data);
    const { sink, calls, pieces, target } = recordingSink();
    const parser = new FrameParser(sink, { expectMasked: true, maxFrameBytes: 1 << 24 });
    // Header plus 4 KiB: far less than a sixteenth of 1 MiB, so nothing is allocated yet.
    parser.push(Buffer.from(stream.subarray(0, 14 + 4096)));
    assert.deepEqual(calls, []);
    parser.push(Buffer.from(stream.subarray(14 + 4096, 14 + 65536)));
    assert.deepEqual(calls, [{ length: 1 << 20, filled: 4096 }]);
    parser.push(Buffer.from(stream.subarray(14 + 65536)));
    assert.equal(calls.length, 1);
    // The parser wrote bytes from `filled` on, unmasked; the sink fills in the first ones.
    assert.ok(target()!.subarray(4096).equals(data.subarray(4096)));
    assert.ok(Buffer.concat(pieces).equals(data));
  });

  it('is not asked for a frame that arrives in one chunk, or for small frames', () => {
    const { sink, calls } = recordingSink();
    const parser = new FrameParser(sink, { expectMasked: true, maxFrameBytes: 1 << 24 });
    parser.push(clientFrame(2, payload(200_000, 1)));
    const small = clientFrame(2, payload(8000, 2));
    parser.push(small.subarray(0, 4000));
    parser.push(small.subarray(4000));
    assert.deepEqual(calls, []);
  });
});
