// The authoritative simulation: players steered by numbered inputs, orbs to collect. One input is
// one step of its player, so the client's prediction (the same `step` over the same inputs) lands
// on the same numbers; a player whose inputs have not arrived waits.
import { type Arena, type Body, ORB_RADIUS, PLAYER_RADIUS, step } from './movement.js';
import { type EntityMap, type EntityState, Kind } from './snapshot-codec.js';
import { SpatialGrid } from './spatial-grid.js';

/** Player ids are 1..MAX_PLAYER_ID; orb ids start at ORB_ID_BASE. */
export const MAX_PLAYER_ID = 0x7fff;
export const ORB_ID_BASE = 0x8000;
/** Inputs waiting per player; older ones are dropped past it (the client reconciles). */
export const MAX_QUEUED_INPUTS = 30;
/** Queue length past which a player runs two inputs per tick to catch up. */
const CATCH_UP_QUEUE = 4;

export interface Player {
  readonly id: number;
  readonly name: string;
  readonly body: Body;
  score: number;
  /** Sequence number of the last input applied (or dropped): the ack sent back. */
  ackSeq: number;
  /** Sequence number of the last input received. */
  lastReceivedSeq: number;
  readonly queuedSeqs: number[];
  readonly queuedButtons: number[];
  /** What everyone else sees of this player, replaced (not mutated) when it changes. */
  shared: EntityState;
  x: number;
  y: number;
}

interface Orb {
  readonly id: number;
  x: number;
  y: number;
  shared: EntityState;
}

/** Seeded pseudo-random numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GameWorldOptions {
  arena: Arena;
  /** Orbs on the field at all times. */
  orbs: number;
  /** Seed of spawn positions. */
  seed: number;
}

export class GameWorld {
  readonly arena: Arena;
  readonly players = new Map<number, Player>();
  private readonly orbs: Orb[] = [];
  private readonly random: () => number;
  private readonly playerGrid: SpatialGrid<Player>;
  private readonly orbGrid: SpatialGrid<Orb>;
  private nextId = 1;
  /** Steps run so far. */
  tick = 0;

  constructor(options: GameWorldOptions) {
    const { width, height } = options.arena;
    if (!(width >= 100 && width <= 4095 && height >= 100 && height <= 4095)) {
      throw new RangeError('arena width and height must be within 100..4095 world units');
    }
    this.arena = options.arena;
    this.random = seededRandom(options.seed);
    this.playerGrid = new SpatialGrid(width, height, 256);
    this.orbGrid = new SpatialGrid(width, height, 256);
    for (let i = 0; i < options.orbs; i++) {
      const orb: Orb = { id: ORB_ID_BASE + i, x: 0, y: 0, shared: undefined as unknown as EntityState };
      this.placeOrb(orb);
      this.orbs.push(orb);
    }
  }

  private spot(margin: number): number[] {
    const { width, height } = this.arena;
    const q = (v: number) => Math.round(v * 16) / 16;
    return [
      q(margin + this.random() * (width - 2 * margin)),
      q(margin + this.random() * (height - 2 * margin)),
    ];
  }

  private placeOrb(orb: Orb): void {
    [orb.x, orb.y] = this.spot(ORB_RADIUS + 10) as [number, number];
    orb.shared = { kind: Kind.orb, x: orb.x, y: orb.y, vx: 0, vy: 0, score: 0, name: '' };
  }

  /** Adds a player at a random spot. Throws a RangeError when every player id is taken. */
  addPlayer(name: string): Player {
    if (this.players.size >= MAX_PLAYER_ID) throw new RangeError('the arena is full');
    while (this.players.has(this.nextId)) this.nextId = (this.nextId % MAX_PLAYER_ID) + 1;
    const id = this.nextId;
    this.nextId = (this.nextId % MAX_PLAYER_ID) + 1;
    const [x, y] = this.spot(PLAYER_RADIUS + 20) as [number, number];
    const player: Player = {
      id,
      name,
      body: { x, y, vx: 0, vy: 0 },
      score: 0,
      ackSeq: 0,
      lastReceivedSeq: 0,
      queuedSeqs: [],
      queuedButtons: [],
      shared: { kind: Kind.player, x, y, vx: 0, vy: 0, score: 0, name },
      x,
      y,
    };
    this.players.set(id, player);
    return player;
  }

  removePlayer(id: number): void {
    this.players.delete(id);
  }

  /** Queues inputs `firstSeq`, `firstSeq + 1`, ... Ones already received are ignored. */
  queueInputs(player: Player, firstSeq: number, buttons: readonly number[]): void {
    for (let i = 0; i < buttons.length; i++) {
      const seq = firstSeq + i;
      if (seq <= player.lastReceivedSeq) continue;
      player.queuedSeqs.push(seq);
      player.queuedButtons.push(buttons[i]!);
      player.lastReceivedSeq = seq;
    }
    while (player.queuedSeqs.length > MAX_QUEUED_INPUTS) {
      player.ackSeq = player.queuedSeqs.shift()!;
      player.queuedButtons.shift();
    }
  }

  /** Runs one step: each player applies its next input (two when behind), then orbs are collected. */
  step(): void {
    const r2 = (PLAYER_RADIUS + ORB_RADIUS) ** 2;
    this.playerGrid.clear();
    for (const p of this.players.values()) {
      const n = Math.min(p.queuedSeqs.length, p.queuedSeqs.length > CATCH_UP_QUEUE ? 2 : 1);
      for (let i = 0; i < n; i++) {
        p.ackSeq = p.queuedSeqs.shift()!;
        step(p.body, p.queuedButtons.shift()!, this.arena);
      }
      p.x = p.body.x;
      p.y = p.body.y;
      this.playerGrid.insert(p);
    }
    for (const orb of this.orbs) {
      let taker: Player | undefined;
      this.playerGrid.forEachIn(orb.x, orb.y, PLAYER_RADIUS + ORB_RADIUS, PLAYER_RADIUS + ORB_RADIUS, (p) => {
        if (!taker && (p.x - orb.x) ** 2 + (p.y - orb.y) ** 2 <= r2) taker = p;
      });
      if (taker) {
        taker.score = Math.min(0xffff, taker.score + 1);
        this.placeOrb(orb);
      }
    }
    this.orbGrid.clear();
    for (const orb of this.orbs) this.orbGrid.insert(orb);
    for (const p of this.players.values()) {
      const s = p.shared;
      if (s.x !== p.x || s.y !== p.y || s.score !== p.score) {
        p.shared = { kind: Kind.player, x: p.x, y: p.y, vx: 0, vy: 0, score: p.score, name: p.name };
      }
    }
    this.tick++;
  }

  /**
   * What `player` sees: players and orbs within the box of half-size (`hw`, `hh`) around it, its
   * own entry with its velocity (for reconciliation). Unchanged entities are the same objects from
   * one view to the next, which makes the delta cheap.
   */
  viewOf(player: Player, hw: number, hh: number): EntityMap {
    const view: EntityMap = new Map();
    this.playerGrid.forEachIn(player.x, player.y, hw, hh, (p) => {
      if (p !== player) view.set(p.id, p.shared);
    });
    this.orbGrid.forEachIn(player.x, player.y, hw, hh, (o) => {
      view.set(o.id, o.shared);
    });
    const b = player.body;
    view.set(player.id, { ...player.shared, x: b.x, y: b.y, vx: b.vx, vy: b.vy });
    return view;
  }
}
