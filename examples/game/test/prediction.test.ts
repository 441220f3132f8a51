// Client prediction against the authoritative world: the same inputs land on the same numbers, so
// reconciliation moves nothing; when the server disagrees the client takes its state and replays.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GameWorld, MAX_QUEUED_INPUTS, seededRandom } from '../src/game-world.js';
import { type Arena, Buttons, MAX_SPEED, PLAYER_RADIUS, step } from '../src/movement.js';
import { Predictor } from '../src/prediction.js';

const arena: Arena = { width: 600, height: 400 };
const seed = Number(process.env.SEED ?? Date.now() % 100_000);

describe('prediction and reconciliation', { timeout: 60_000 }, () => {
  it(`agrees with the server to the bit under random inputs and latency (seed ${seed})`, () => {
    const random = seededRandom(seed);
    const world = new GameWorld({ arena, orbs: 5, seed });
    const player = world.addPlayer('p');
    const predictor = new Predictor(arena);
    predictor.reconcile(0, player.body);
    // Inputs reach the server `lag` steps after the client applied them; snapshots come back
    // every third step, `lag` steps later still.
    const lag = 1 + Math.floor(random() * 6);
    const inFlight: Array<{ seq: number; buttons: number }> = [];
    const snapshots: Array<{ ackSeq: number; body: typeof player.body }> = [];
    for (let t = 0; t < 600; t++) {
      const buttons = Math.floor(random() * 16);
      inFlight.push({ seq: predictor.apply(buttons), buttons });
      if (inFlight.length > lag) {
        const input = inFlight.shift()!;
        world.queueInputs(player, input.seq, [input.buttons]);
      }
      world.step();
      if (t % 3 === 0) snapshots.push({ ackSeq: player.ackSeq, body: { ...player.body } });
      if (snapshots.length > lag) {
        const s = snapshots.shift()!;
        assert.equal(predictor.reconcile(s.ackSeq, s.body), 0, `step ${t}: no correction`);
      }
    }
    assert.ok(predictor.pending <= 4 * lag + 3, 'acknowledged inputs are forgotten');
  });

  it('takes the server state and replays unacknowledged inputs when the server dropped some', () => {
    const world = new GameWorld({ arena, orbs: 0, seed: 1 });
    const player = world.addPlayer('p');
    const predictor = new Predictor(arena);
    predictor.reconcile(0, player.body);
    const seqs: number[] = [];
    for (let i = 0; i < MAX_QUEUED_INPUTS + 10; i++) seqs.push(predictor.apply(Buttons.right));
    // All of them arrive at once: the server keeps the newest MAX_QUEUED_INPUTS, drops the rest.
    world.queueInputs(
      player,
      seqs[0]!,
      seqs.map(() => Buttons.right),
    );
    assert.equal(player.ackSeq, 10, 'dropped inputs count as handled');
    world.step();
    const correction = predictor.reconcile(player.ackSeq, player.body);
    assert.ok(correction > 0, 'the prediction was ahead of the server');
    const expected = { ...player.body };
    // Behind by more than a few inputs, the server runs two per step to catch up.
    assert.equal(player.queuedSeqs.length, MAX_QUEUED_INPUTS - 2);
    for (let i = 0; i < MAX_QUEUED_INPUTS - 2; i++) step(expected, Buttons.right, arena);
    assert.deepEqual(predictor.body, expected);
  });

  it('moves at up to MAX_SPEED, stops at the walls and comes to rest without input', () => {
    const body = { x: 300, y: 200, vx: 0, vy: 0 };
    for (let i = 0; i < 120; i++) step(body, Buttons.right | Buttons.down, arena);
    assert.equal(body.x, arena.width - PLAYER_RADIUS);
    assert.equal(body.y, arena.height - PLAYER_RADIUS);
    assert.equal(body.vx, 0);
    for (let i = 0; i < 30; i++) step(body, Buttons.left, arena);
    assert.ok(body.vx < 0 && body.vx >= -MAX_SPEED);
    for (let i = 0; i < 200; i++) step(body, 0, arena);
    assert.equal(body.vx, 0, 'friction reaches exactly 0');
  });
});
