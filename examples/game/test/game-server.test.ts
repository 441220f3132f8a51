// The game over real connections: pages served, two Node clients see each other move through
// delta snapshots, inputs are acknowledged, bad input is refused. (That a stalled client gets
// the latest snapshot, not a backlog, is the realtime server's `latest` policy for keyed emits:
// packages/realtime/test/limits-auth.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebSocketConstructor } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { encode } from '@msgpack/msgpack';
import { startGame } from '../server.js';
import { GameClient } from '../src/game-client.js';
import { Buttons } from '../src/movement.js';

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('game server', { timeout: 60_000 }, () => {
  let game: Awaited<ReturnType<typeof startGame>>;
  let url: string;
  const clients: GameClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  /** A client driven every 5 ms with the buttons `held()` returns. */
  const player = (name: string, held: () => number = () => 0) => {
    const c = new GameClient(url, {
      name,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      reconnect: false,
    });
    clients.push(c);
    timers.push(setInterval(() => c.update(performance.now(), held()), 5));
    return c;
  };

  before(async () => {
    game = await startGame({
      port: 0,
      host: '127.0.0.1',
      arena: { width: 600, height: 400 },
      view: { halfWidth: 700, halfHeight: 500 },
    });
    url = `ws://127.0.0.1:${game.port}/realtime`;
  });
  after(async () => {
    for (const t of timers) clearInterval(t);
    for (const c of clients) c.close();
    await game.app.close();
    await new Promise<void>((r) => game.server.close(() => r()));
  });

  it('serves the page, the bundled client and the icon', async () => {
    const base = `http://127.0.0.1:${game.port}`;
    assert.match(await (await fetch(`${base}/`)).text(), /<title>ieum arena<\/title>/);
    const js = await fetch(`${base}/game.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(await js.text(), /requestAnimationFrame/);
    assert.equal((await fetch(`${base}/favicon.svg`)).headers.get('content-type'), 'image/svg+xml');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  it('moves a player by its inputs, acknowledges them and shows it to the other player', async () => {
    let right = false;
    const ann = player('ann', () => (right ? Buttons.right : 0));
    const bob = player('bob');
    const acks: number[] = [];
    ann.onAck = (_seq, ms) => acks.push(ms);
    await until(
      () => ann.latest !== undefined && bob.latest !== undefined && ann.predictor?.body !== undefined,
      'snapshots',
    );
    const annId = ann.latest!.you;
    await until(() => bob.latest!.entities.has(annId), 'bob to see ann');
    const seenAt = bob.latest!.entities.get(annId)!.x;
    const startX = ann.predictor!.body!.x;
    right = true;
    await until(() => ann.predictor!.body!.x > startX + 50, 'ann to move right (predicted)');
    await until(() => (bob.latest!.entities.get(annId)?.x ?? 0) > seenAt + 50, 'bob to see ann move');
    assert.equal(bob.latest!.entities.get(annId)!.name, 'ann');
    assert.ok(acks.length > 10, 'inputs are acknowledged');
    assert.equal(ann.stats.corrections, 0, 'the server agreed with every prediction');
    // Once bob's acks reach the server, every snapshot is a delta against one of them.
    const fullSoFar = () => bob.stats.fullSnapshots;
    const full = fullSoFar();
    const count = bob.stats.snapshots;
    await until(() => bob.stats.snapshots > count + 10, 'ten more snapshots');
    assert.ok(fullSoFar() <= full + 1, `snapshots after the first are deltas ${JSON.stringify(bob.stats)}`);
    assert.equal(ann.latest!.players, 2);
  });

  it('closes a connection that sends a malformed input with 4400', async () => {
    const ws = new WebSocket(url, 'ieum.v1.msgpack');
    await new Promise((r) => ws.once('open', r));
    ws.send(encode({ t: 'hello', v: 1, cid: 'bad-input', token: 'eve' }));
    ws.send(encode({ t: 'emit', ev: 'i', d: Uint8Array.of(2, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0) }));
    const [code, reason] = await new Promise<[number, string]>((r) =>
      ws.once('close', (c, why) => r([c, why.toString()])),
    );
    assert.equal(code, 4400);
    assert.match(reason, /bad input: .*cannot carry 5 inputs/);
  });
});
