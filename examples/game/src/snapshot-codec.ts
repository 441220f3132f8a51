// Binary snapshots, server to client, as deltas against a snapshot the client acknowledged.
//
//   u8  type (1)       u32 tick       u32 base tick (0: none, a full snapshot)
//   u32 ack input seq  u16 your id    u16 players on the server
//   u16 changed count, then per entity:
//       u16 id, u8 fields, then the fields present, in bit order:
//       x u16, y u16 (1/16 units), vx i16, vy i16 (1/16 units/s), score u16, kind u8,
//       name (u8 byte length, UTF-8)
//   u16 removed count, then u16 ids
//
// Little-endian. An entity is listed when it is new to the client or one of its fields differs
// from the base; only the differing fields are written. Decoding a delta needs the base state, so
// the client keeps the states of recent snapshots and acknowledges the newest one it decoded.
import { UNITS_PER_WORLD_UNIT } from './movement.js';

/** First byte of a snapshot message. */
export const SNAPSHOT_TYPE = 1;
/** Longest player name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;

/** What an entity is. */
export const Kind = { player: 0, orb: 1 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** The field bits of an entity record. */
export const Field = { x: 1, y: 2, vx: 4, vy: 8, score: 16, kind: 32, name: 64 } as const;
const ALL_FIELDS = 127;

/**
 * An entity as one client sees it. Positions and velocities are multiples of 1/16; velocities are
 * sent only for the client's own player (others get 0), scores only for players.
 */
export interface EntityState {
  kind: Kind;
  x: number;
  y: number;
  vx: number;
  vy: number;
  score: number;
  name: string;
}

/** Entities by id: the whole state of one snapshot as one client sees it. */
export type EntityMap = Map<number, EntityState>;

export interface SnapshotHeader {
  /** Server tick the state is from. */
  tick: number;
  /** Last input sequence number of this client the server applied (0: none yet). */
  ackSeq: number;
  /** Entity id of the client's own player. */
  you: number;
  /** Players on the server (the snapshot holds only those in view). */
  players: number;
}

export interface Snapshot extends SnapshotHeader {
  /** Tick of the snapshot this one is a delta against (0: a full snapshot). */
  baseTick: number;
  /** The whole state (base plus delta). */
  entities: EntityMap;
}

/** A snapshot that cannot be decoded: malformed bytes or a base the client no longer has. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reusable output buffer for encoding many snapshots (one per server). */
export class SnapshotWriter {
  private bytes = new Uint8Array(16 * 1024);
  private view = new DataView(this.bytes.buffer);
  private at = 0;

  private ensure(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n));
    bigger.set(this.bytes.subarray(0, this.at));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /**
   * Encodes `entities` as a delta against `base` (the state of snapshot `baseTick`, which the
   * client has), or in full when `base` is undefined. Returns a fresh copy of the bytes.
   */
  encode(
    header: SnapshotHeader,
    entities: EntityMap,
    base?: { tick: number; entities: EntityMap },
  ): Uint8Array {
    this.at = 0;
    this.ensure(19);
    const v = this.view;
    v.setUint8(0, SNAPSHOT_TYPE);
    v.setUint32(1, header.tick, true);
    v.setUint32(5, base ? base.tick : 0, true);
    v.setUint32(9, header.ackSeq, true);
    v.setUint16(13, header.you, true);
    v.setUint16(15, Math.min(header.players, 0xffff), true);
    this.at = 19; // the changed count is written at 17 once known
    let changed = 0;
    for (const [id, e] of entities) {
      const old = base?.entities.get(id);
      const fields = old === undefined ? fieldsOf(e) : diff(old, e);
      if (fields === 0) continue;
      changed++;
      this.record(id, fields, e);
    }
    this.view.setUint16(17, changed, true);
    const countAt = this.at;
    this.ensure(2);
    this.at += 2;
    let removed = 0;
    if (base) {
      for (const id of base.entities.keys()) {
        if (entities.has(id)) continue;
        this.ensure(2);
        this.view.setUint16(this.at, id, true);
        this.at += 2;
        removed++;
      }
    }
    this.view.setUint16(countAt, removed, true);
    return this.bytes.slice(0, this.at);
  }

  private record(id: number, fields: number, e: EntityState): void {
    this.ensure(14 + 1 + MAX_NAME_BYTES);
    const v = this.view;
    v.setUint16(this.at, id, true);
    v.setUint8(this.at + 2, fields);
    this.at += 3;
    if (fields & Field.x) this.u16(e.x * UNITS_PER_WORLD_UNIT);
    if (fields & Field.y) this.u16(e.y * UNITS_PER_WORLD_UNIT);
    if (fields & Field.vx) this.i16(e.vx * UNITS_PER_WORLD_UNIT);
    if (fields & Field.vy) this.i16(e.vy * UNITS_PER_WORLD_UNIT);
    if (fields & Field.score) this.u16(e.score);
    if (fields & Field.kind) v.setUint8(this.at++, e.kind);
    if (fields & Field.name) {
      const { written } = utf8.encodeInto(
        e.name,
        this.bytes.subarray(this.at + 1, this.at + 1 + MAX_NAME_BYTES),
      );
      v.setUint8(this.at, written);
      this.at += 1 + written;
    }
  }

  private u16(n: number): void {
    this.view.setUint16(this.at, n, true);
    this.at += 2;
  }

  private i16(n: number): void {
    this.view.setInt16(this.at, n, true);
    this.at += 2;
  }
}

// A new entity sends what it has: zero velocities, scores and names are the defaults.
function fieldsOf(e: EntityState): number {
  let f = Field.x | Field.y | Field.kind;
  if (e.vx !== 0) f |= Field.vx;
  if (e.vy !== 0) f |= Field.vy;
  if (e.score !== 0) f |= Field.score;
  if (e.name !== '') f |= Field.name;
  return f;
}

function diff(a: EntityState, b: EntityState): number {
  // The server shares one object per unchanged entity between snapshots: nothing to compare.
  if (a === b) return 0;
  let f = 0;
  if (a.x !== b.x) f |= Field.x;
  if (a.y !== b.y) f |= Field.y;
  if (a.vx !== b.vx) f |= Field.vx;
  if (a.vy !== b.vy) f |= Field.vy;
  if (a.score !== b.score) f |= Field.score;
  if (a.kind !== b.kind) f |= Field.kind;
  if (a.name !== b.name) f |= Field.name;
  return f;
}

/** Reads the base tick of a snapshot without decoding it (to look the base up). */
export function snapshotBaseTick(bytes: Uint8Array): number {
  if (bytes.length < 19 || bytes[0] !== SNAPSHOT_TYPE) throw new SnapshotError('not a snapshot');
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, true);
}

/**
 * Decodes a snapshot. `base` is the state of snapshot `baseTick` (see `snapshotBaseTick`); it is
 * not modified. Throws a `SnapshotError` for malformed bytes or a missing base.
 */
export function decodeSnapshot(bytes: Uint8Array, base?: EntityMap): Snapshot {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new SnapshotError(`snapshot truncated at byte ${at}`);
  };
  need(19);
  if (v.getUint8(0) !== SNAPSHOT_TYPE) throw new SnapshotError('not a snapshot');
  const tick = v.getUint32(1, true);
  const baseTick = v.getUint32(5, true);
  if (baseTick !== 0 && base === undefined) throw new SnapshotError(`base snapshot ${baseTick} is not known`);
  const entities: EntityMap = new Map(baseTick === 0 ? [] : base);
  const header = {
    tick,
    baseTick,
    ackSeq: v.getUint32(9, true),
    you: v.getUint16(13, true),
    players: v.getUint16(15, true),
  };
  const changed = v.getUint16(17, true);
  at = 19;
  for (let i = 0; i < changed; i++) {
    need(3);
    const id = v.getUint16(at, true);
    const fields = v.getUint8(at + 2);
    at += 3;
    if (fields & ~ALL_FIELDS) throw new SnapshotError(`unknown field bits ${fields}`);
    const old = entities.get(id);
    if (
      old === undefined &&
      (fields & (Field.x | Field.y | Field.kind)) !== (Field.x | Field.y | Field.kind)
    ) {
      throw new SnapshotError(`entity ${id} is new but lacks a position or kind`);
    }
    const e: EntityState = old
      ? { ...old }
      : { kind: Kind.player, x: 0, y: 0, vx: 0, vy: 0, score: 0, name: '' };
    if (fields & Field.x) {
      need(2);
      e.x = v.getUint16(at, true) / UNITS_PER_WORLD_UNIT;
      at += 2;
    }
    if (fields & Field.y) {
      need(2);
      e.y = v.getUint16(at, true) / UNITS_PER_WORLD_UNIT;
      at += 2;
    }
    if (fields & Field.vx) {
      need(2);
      e.vx = v.getInt16(at, true) / UNITS_PER_WORLD_UNIT;
      at += 2;
    }
    if (fields & Field.vy) {
      need(2);
      e.vy = v.getInt16(at, true) / UNITS_PER_WORLD_UNIT;
      at += 2;
    }
    if (fields & Field.score) {
      need(2);
      e.score = v.getUint16(at, true);
      at += 2;
    }
    if (fields & Field.kind) {
      need(1);
      const kind = v.getUint8(at++);
      if (kind !== Kind.player && kind !== Kind.orb) throw new SnapshotError(`unknown kind ${kind}`);
      e.kind = kind;
    }
    if (fields & Field.name) {
      need(1);
      const n = v.getUint8(at++);
      need(n);
      try {
        e.name = fromUtf8.decode(bytes.subarray(at, at + n));
      } catch {
        throw new SnapshotError(`entity ${id} has a name that is not UTF-8`);
      }
      at += n;
    }
    entities.set(id, e);
  }
  need(2);
  const removed = v.getUint16(at, true);
  at += 2;
  need(removed * 2);
  for (let i = 0; i < removed; i++, at += 2) entities.delete(v.getUint16(at, true));
  if (at !== bytes.length) throw new SnapshotError(`${bytes.length - at} bytes after the snapshot`);
  return { ...header, entities };
}
