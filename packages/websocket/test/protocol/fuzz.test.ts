// Fuzz: random and mutated input never throws out of the core, never hangs, always ends in
// ordinary events or a single error, and input after a failure is discarded.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Connection } from '../../src/protocol/index.js';
import { clientFrame } from './helpers.js';

/** Small deterministic PRNG (mulberry32) so failures reproduce from the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(stream: Buffer, random: () => number, role: 'server' | 'client'): void {
  const conn =
    role === 'server'
      ? new Connection({ role, limits: { maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 } })
      : new Connection({
          role,
          randomFill: (b) => b.fill(1),
          limits: { maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 },
        });
  let errors = 0;
  let afterError = 0;
  let pos = 0;
  while (pos < stream.length) {
    const n = 1 + Math.floor(random() * 64);
    conn.receiveData(Buffer.from(stream.subarray(pos, pos + n)));
    pos += n;
    for (const e of conn.eventsReceived()) {
      if (errors > 0) afterError++;
      if (e.type === 'error') errors++;
    }
  }
  conn.receiveEof();
  conn.eventsReceived();
  conn.dataToSend();
  assert.ok(errors <= 1, 'at most one error event');
  assert.equal(afterError, 0, 'no events after an error');
}

it('random bytes never crash or hang the core (both roles)', () => {
  const random = rng(42);
  for (let i = 0; i < 2000; i++) {
    const stream = Buffer.from(
      Array.from({ length: Math.floor(random() * 512) }, () => Math.floor(random() * 256)),
    );
    check(stream, random, i % 2 === 0 ? 'server' : 'client');
  }
});

it('mutations of valid traffic never crash or hang the core', () => {
  const random = rng(7);
  const valid = Buffer.concat([
    clientFrame(1, 'héllo', { fin: false }),
    clientFrame(9, 'ping'),
    clientFrame(0, ' wörld'),
    clientFrame(2, Buffer.alloc(300, 5)),
    clientFrame(8, Buffer.from([3, 232])),
  ]);
  for (let i = 0; i < 3000; i++) {
    const stream = Buffer.from(valid);
    const flips = 1 + Math.floor(random() * 4);
    for (let k = 0; k < flips; k++) stream[Math.floor(random() * stream.length)] = Math.floor(random() * 256);
    check(stream, random, 'server');
  }
});

it('a failed connection discards megabytes of further input without buffering it', () => {
  const conn = new Connection({ role: 'server' });
  conn.receiveData(Buffer.from([0x81, 0x02, 0x68, 0x69])); // unmasked: 1002
  assert.equal(conn.eventsReceived()[0]?.type, 'error');
  const junk = Buffer.alloc(1 << 20, 0x82);
  for (let i = 0; i < 10; i++) conn.receiveData(junk);
  assert.deepEqual(conn.eventsReceived(), []);
  assert.equal(Buffer.concat(conn.dataToSend()).toString('hex'), '880203ea');
});

it('a frame that declares 16 MiB but trickles in is bounded by maxFrameBytes, not buffered blindly', () => {
  const conn = new Connection({ role: 'server', limits: { maxFrameBytes: 4096, maxMessageBytes: 4096 } });
  const head = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4]);
  conn.receiveData(head);
  const events = conn.eventsReceived();
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type === 'error' && events[0].error.closeCode, 1009);
});
