// The game's binary messages, byte for byte: snapshots in full and as deltas, inputs, and what
// malformed bytes get.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeInput, encodeInput } from '../src/input-codec.js';
import {
  decodeSnapshot,
  type EntityMap,
  type EntityState,
  Kind,
  SnapshotError,
  SnapshotWriter,
  snapshotBaseTick,
} from '../src/snapshot-codec.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const player = (x: number, y: number, more: Partial<EntityState> = {}): EntityState => ({
  kind: Kind.player,
  x,
  y,
  vx: 0,
  vy: 0,
  score: 0,
  name: '',
  ...more,
});
const orb = (x: number, y: number): EntityState => ({
  kind: Kind.orb,
  x,
  y,
  vx: 0,
  vy: 0,
  score: 0,
  name: '',
});

describe('snapshot codec', { timeout: 60_000 }, () => {
  const full: EntityMap = new Map([
    [1, player(10, 20, { vx: 1.5, name: 'a' })],
    [0x8000, orb(100, 50.5)],
  ]);

  it('writes a full snapshot with every field a new entity has, in 1/16 units', () => {
    const bytes = new SnapshotWriter().encode({ tick: 5, ackSeq: 3, you: 1, players: 1 }, full);
    assert.equal(
      hex(bytes),
      ['01', '05000000', '00000000', '03000000', '0100', '0100', '0200']
        .concat(['0100', '67', 'a000', '4001', '1800', '00', '0161'])
        .concat(['0080', '23', '4006', '2803', '01'])
        .concat(['0000'])
        .join(''),
    );
    const s = decodeSnapshot(bytes);
    assert.deepEqual(
      { ...s, entities: [...s.entities] },
      {
        tick: 5,
        baseTick: 0,
        ackSeq: 3,
        you: 1,
        players: 1,
        entities: [...full],
      },
    );
  });

  it('writes a delta with only changed fields, new entities in full, and removed ids', () => {
    const next: EntityMap = new Map([
      [1, player(10.0625, 20, { name: 'a' })],
      [0x8001, orb(1, 2)],
    ]);
    const bytes = new SnapshotWriter().encode({ tick: 8, ackSeq: 4, you: 1, players: 1 }, next, {
      tick: 5,
      entities: full,
    });
    assert.equal(
      hex(bytes),
      ['01', '08000000', '05000000', '04000000', '0100', '0100', '0200']
        .concat(['0100', '05', 'a100', '0000'])
        .concat(['0180', '23', '1000', '2000', '01'])
        .concat(['0100', '0080'])
        .join(''),
    );
    assert.equal(snapshotBaseTick(bytes), 5);
    assert.deepEqual([...decodeSnapshot(bytes, full).entities], [...next]);
    assert.equal(full.get(1)!.x, 10, 'the base is not modified');
  });

  it('writes an unchanged state as an empty delta of 21 bytes', () => {
    const bytes = new SnapshotWriter().encode({ tick: 6, ackSeq: 3, you: 1, players: 1 }, full, {
      tick: 5,
      entities: full,
    });
    assert.equal(bytes.length, 21);
  });

  it('refuses a delta whose base it does not have, and malformed bytes, with SnapshotError', () => {
    const delta = new SnapshotWriter().encode({ tick: 6, ackSeq: 0, you: 1, players: 1 }, full, {
      tick: 5,
      entities: new Map(),
    });
    assert.throws(() => decodeSnapshot(delta), /base snapshot 5 is not known/);
    const bytes = new SnapshotWriter().encode({ tick: 5, ackSeq: 3, you: 1, players: 1 }, full);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeSnapshot(bytes.subarray(0, n)), SnapshotError, `a prefix of ${n} bytes`);
    }
    assert.throws(() => decodeSnapshot(Uint8Array.of(...bytes, 0)), /1 bytes after the snapshot/);
    const newWithoutPosition = Uint8Array.from(
      Buffer.from('01050000000000000000000000010001000100010001000000', 'hex'),
    );
    assert.throws(() => decodeSnapshot(newWithoutPosition), /lacks a position/);
  });

  it('decodes any delta to exactly the state encoded (property, seeded)', () => {
    const entity = fc
      .record({
        kind: fc.constantFrom(Kind.player, Kind.orb),
        x: fc.integer({ min: 0, max: 65535 }).map((n) => n / 16),
        y: fc.integer({ min: 0, max: 65535 }).map((n) => n / 16),
        vx: fc.integer({ min: -32768, max: 32767 }).map((n) => n / 16),
        vy: fc.integer({ min: -32768, max: 32767 }).map((n) => n / 16),
        score: fc.integer({ min: 0, max: 65535 }),
        name: fc.string({ maxLength: 24, unit: 'grapheme' }),
      })
      .map((e) => ({ ...e }) as EntityState);
    const state = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 0xffff }), entity), {
      maxLength: 40,
      selector: ([id]) => id,
    });
    const writer = new SnapshotWriter();
    fc.assert(
      fc.property(state, state, fc.boolean(), (a, b, delta) => {
        const base: EntityMap = new Map(a);
        // Half of the next state's entities keep their base values: unchanged ones are left out.
        const next: EntityMap = new Map(b);
        for (const [id, e] of a.slice(0, a.length / 2)) next.set(id, e);
        const bytes = writer.encode(
          { tick: 9, ackSeq: 1, you: 1, players: next.size },
          next,
          delta ? { tick: 4, entities: base } : undefined,
        );
        const decoded = decodeSnapshot(bytes, delta ? base : undefined);
        assert.deepEqual(
          [...decoded.entities].sort((x, y) => x[0] - y[0]),
          [...next].sort((x, y) => x[0] - y[0]),
        );
      }),
      { seed: 16, numRuns: 300 },
    );
  });
});

describe('input codec', { timeout: 60_000 }, () => {
  it('writes numbered button masks byte for byte', () => {
    const bytes = encodeInput({ ackTick: 7, firstSeq: 9, buttons: [1, 9] });
    assert.equal(hex(bytes), '02' + '07000000' + '09000000' + '02' + '0109');
    assert.deepEqual(decodeInput(bytes), { ackTick: 7, firstSeq: 9, buttons: [1, 9] });
  });

  it('says what is wrong with a malformed input', () => {
    assert.throws(() => decodeInput('hi'), /binary/);
    assert.throws(() => decodeInput(Uint8Array.of(3, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0)), /not an input message/);
    assert.throws(() => decodeInput(Uint8Array.of(2, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0)), /cannot carry 2 inputs/);
    assert.throws(() => decodeInput(Uint8Array.of(2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 16)), /unknown button bits/);
    assert.throws(() => decodeInput(Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)), /start at 1/);
    assert.throws(() => encodeInput({ ackTick: 0, firstSeq: 1, buttons: [] }), /1 to 32 inputs/);
  });
});
