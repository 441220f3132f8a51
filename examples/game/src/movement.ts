// The movement rules, shared by the server (authority) and the client (prediction). Both run the
// same function on the same quantized numbers, so a prediction the server agrees with matches it
// to the bit and reconciliation moves nothing.

/** Simulation steps per second on the server; one client input is one step. */
export const TICK_HZ = 60;
/** Seconds per step. */
export const TICK_SECONDS = 1 / TICK_HZ;
/** Radius of a player's disc, in world units. */
export const PLAYER_RADIUS = 14;
/** Radius of an orb, in world units. */
export const ORB_RADIUS = 7;
/** Top speed, in world units per second. */
export const MAX_SPEED = 280;
/** Fraction of the gap to the target velocity closed per step (acceleration and friction). */
const RESPONSE = 0.18;
/** Positions and velocities travel in 1/16 world units: the state is kept at that resolution. */
export const UNITS_PER_WORLD_UNIT = 16;

/** Bits of the button mask a client sends per step. */
export const Buttons = { up: 1, down: 2, left: 4, right: 8 } as const;
/** All bits a button mask may use. */
export const BUTTONS_MASK = 15;

/** A moving disc: position (world units) and velocity (world units per second). */
export interface Body {
  x: number;
  y: number;
  vx: number;
  vy: number;
}

/** The playing field, in world units, from (0, 0). At most 4095 × 4095 (u16 positions at 1/16). */
export interface Arena {
  width: number;
  height: number;
}

// Positions round to the nearest 1/16; velocities round toward zero, so friction reaches 0.
const position = (v: number) => Math.round(v * UNITS_PER_WORLD_UNIT) / UNITS_PER_WORLD_UNIT;
const velocity = (v: number) => Math.trunc(v * UNITS_PER_WORLD_UNIT) / UNITS_PER_WORLD_UNIT;

/** Advances `body` by one step under `buttons` (a `Buttons` mask), inside `arena`. Mutates `body`. */
export function step(body: Body, buttons: number, arena: Arena): void {
  let dx = (buttons & Buttons.right ? 1 : 0) - (buttons & Buttons.left ? 1 : 0);
  let dy = (buttons & Buttons.down ? 1 : 0) - (buttons & Buttons.up ? 1 : 0);
  if (dx !== 0 && dy !== 0) {
    dx *= Math.SQRT1_2;
    dy *= Math.SQRT1_2;
  }
  body.vx = velocity(body.vx + (dx * MAX_SPEED - body.vx) * RESPONSE);
  body.vy = velocity(body.vy + (dy * MAX_SPEED - body.vy) * RESPONSE);
  let x = body.x + body.vx * TICK_SECONDS;
  let y = body.y + body.vy * TICK_SECONDS;
  // The walls stop the disc: the velocity into the wall is lost.
  if (x < PLAYER_RADIUS || x > arena.width - PLAYER_RADIUS) {
    x = Math.min(Math.max(x, PLAYER_RADIUS), arena.width - PLAYER_RADIUS);
    body.vx = 0;
  }
  if (y < PLAYER_RADIUS || y > arena.height - PLAYER_RADIUS) {
    y = Math.min(Math.max(y, PLAYER_RADIUS), arena.height - PLAYER_RADIUS);
    body.vy = 0;
  }
  body.x = position(x);
  body.y = position(y);
}
