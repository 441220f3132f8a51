// Property: the core's events do not depend on how the input bytes are split into chunks.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { Connection } from '../../src/protocol/index.js';
import { clientFrame, describe } from './helpers.js';

/** Arbitrary well-formed client traffic: messages (maybe fragmented), pings, pongs, then maybe a close. */
const traffic = fc
  .array(
    fc.oneof(
      fc.record({
        kind: fc.constant('text' as const),
        text: fc.string({ unit: 'grapheme', maxLength: 200 }),
        parts: fc.integer({ min: 1, max: 4 }),
      }),
      fc.record({
        kind: fc.constant('binary' as const),
        bytes: fc.uint8Array({ maxLength: 70_000 }),
        parts: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({ kind: fc.constant('ping' as const), bytes: fc.uint8Array({ maxLength: 125 }) }),
      fc.record({ kind: fc.constant('pong' as const), bytes: fc.uint8Array({ maxLength: 125 }) }),
    ),
    { maxLength: 8 },
  )
  .chain((items) => fc.tuple(fc.constant(items), fc.boolean()));

function encode([items, close]: [Array<Record<string, unknown>>, boolean]): Buffer {
  const frames: Buffer[] = [];
  for (const item of items) {
    if (item.kind === 'ping' || item.kind === 'pong') {
      frames.push(clientFrame(item.kind === 'ping' ? 9 : 10, Buffer.from(item.bytes as Uint8Array)));
      continue;
    }
    const data =
      item.kind === 'text' ? Buffer.from(item.text as string) : Buffer.from(item.bytes as Uint8Array);
    const parts = item.parts as number;
    const size = Math.ceil(data.length / parts) || 1;
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size));
    if (pieces.length === 0) pieces.push(Buffer.alloc(0));
    // Splitting text at arbitrary byte offsets cuts code points across fragments: still valid.
    pieces.forEach((p, i) => {
      frames.push(
        clientFrame(i === 0 ? (item.kind === 'text' ? 1 : 2) : 0, p, { fin: i === pieces.length - 1 }),
      );
    });
  }
  if (close) frames.push(clientFrame(8, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])));
  return Buffer.concat(frames);
}

function run(stream: Buffer, cuts: number[]): { events: string[]; output: string } {
  const conn = new Connection({ role: 'server' });
  const events: string[] = [];
  let last = 0;
  for (const cut of [...cuts.sort((a, b) => a - b), stream.length]) {
    if (cut < last) continue;
    conn.receiveData(Buffer.from(stream.subarray(last, cut)));
    events.push(...describe(conn.eventsReceived()));
    last = cut;
  }
  return { events, output: Buffer.concat(conn.dataToSend()).toString('hex') };
}

it('any split of the byte stream yields the same events and the same replies', () => {
  fc.assert(
    fc.property(traffic, fc.array(fc.nat(), { maxLength: 40 }), (t, rawCuts) => {
      const stream = encode(t as never);
      const whole = run(stream, []);
      const cuts = rawCuts.map((n) => n % (stream.length + 1));
      assert.deepEqual(run(stream, cuts), whole);
    }),
    { numRuns: 300 },
  );
});

it('one byte at a time yields the same events as the whole stream', () => {
  fc.assert(
    fc.property(traffic, (t) => {
      const stream = encode(t as never);
      if (stream.length > 20_000) return;
      const everyByte = Array.from({ length: stream.length }, (_, i) => i);
      assert.deepEqual(run(stream, everyByte), run(stream, []));
    }),
    { numRuns: 100 },
  );
});
