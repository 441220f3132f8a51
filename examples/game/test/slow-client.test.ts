// A client that stops reading gets the newest snapshot when it reads again, not a backlog: the
// game sends snapshots as keyed emits under the realtime server's `latest` outbound policy.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { decode, encode } from '@msgpack/msgpack';
import { startGame } from '../server.js';
import { decodeSnapshot } from '../src/snapshot-codec.js';

async function until(check: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('game server and a slow client', { timeout: 60_000 }, () => {
  let game: Awaited<ReturnType<typeof startGame>>;

  before(async () => {
    // Many orbs and no acknowledgements (so every snapshot is a full one, ~16 KB) at 60 Hz fill
    // the socket buffers within seconds.
    game = await startGame({
      port: 0,
      host: '127.0.0.1',
      arena: { width: 1000, height: 700 },
      orbs: 2000,
      snapshotHz: 60,
      view: { halfWidth: 1000, halfHeight: 700 },
    });
  });
  after(async () => {
    await game.app.close();
    await new Promise<void>((r) => game.server.close(() => r()));
  });

  it('keeps one snapshot queued for a client that stops reading, and sends it the newest', {
    timeout: 60_000,
  }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${game.port}/realtime`, 'ieum.v1.msgpack');
    let closed = 0;
    ws.on('close', (code) => {
      closed = code;
    });
    const ticks: number[] = [];
    ws.on('message', (data) => {
      const m = decode(data as Buffer) as { t: string; ev?: string; d?: Uint8Array };
      if (m.t === 'emit' && m.ev === 's') ticks.push(decodeSnapshot(m.d!).tick);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(encode({ t: 'hello', v: 1, cid: 'stalled-client', token: 'slow' }));
    await until(() => ticks.length > 0, 'a first snapshot', 10_000);
    const conn = [...game.app.rt.connections.values()].find((c) => c.user === 'slow')!;
    ws.pause();
    await until(() => conn.queuedMessages > 0, 'the socket to back up', 40_000);
    const sent = game.app.game.snapshotsSent;
    await until(() => game.app.game.snapshotsSent > sent + 60, 'a second of snapshots', 10_000);
    assert.equal(conn.queuedMessages, 1, 'superseded snapshots were replaced, not queued');
    assert.equal(closed, 0, 'the slow client was not disconnected');
    const newest = game.app.game.world.tick;
    ws.resume();
    await until(() => ticks[ticks.length - 1]! >= newest, 'the newest snapshot', 20_000);
    ws.terminate();
  });
});
