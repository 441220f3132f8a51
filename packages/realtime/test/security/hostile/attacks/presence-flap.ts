// Item 9: many members watch a channel's presence; one user flaps subscribe/unsubscribe under the
// rate limit. Presence changes must be coalesced and throttled, and encoded once, not once per
// member.
import type net from 'node:net';
import {
  type Attack,
  type AttackContext,
  type AttackReport,
  count,
  every,
  running,
  sleep,
} from '../attack.js';
import { FrameCounter, jsonFrame, upgrade, waitForText } from '../raw-peer.js';

const CHANNEL = 'lobby';
/** Members subscribed with presence (they read, and discard, what they get). */
const MEMBERS = 200;
/** Members connecting at once during setup. */
const SETUP_BATCH = 25;
/** Milliseconds the members have to connect before the flapping starts anyway. */
const SETUP_MS = 5000;
/** Milliseconds between the flapper's sub/unsub pairs (~40 pairs, 80 messages, per second). */
const PAIR_EVERY_MS = 25;

async function member(ctx: AttackContext, n: number): Promise<{ socket: net.Socket; counter: FrameCounter }> {
  const { socket } = await upgrade({ port: ctx.port, path: ctx.path }, ctx.rng);
  const counter = new FrameCounter();
  socket.on('data', (c: Buffer) => counter.push(c));
  socket.on('error', () => {});
  const subscribed = waitForText(counter, (t) => t.startsWith('{"t":"res","id":1,'), 10_000);
  socket.resume();
  socket.write(jsonFrame({ t: 'hello', v: 1, cid: `member-${n}`, token: `member-${n}` }, ctx.rng));
  socket.write(jsonFrame({ t: 'sub', id: 1, ch: CHANNEL, presence: true }, ctx.rng));
  await subscribed;
  return { socket, counter };
}

export const presenceFlap: Attack = {
  name: 'presence',
  item: 9,
  what: `${MEMBERS} presence members; one user flaps sub/unsub at ~40 pairs/s`,
  async run(ctx) {
    const report: AttackReport = {};
    const members: Array<{ socket: net.Socket; counter: FrameCounter }> = [];
    const setup = (async () => {
      for (let i = 0; i < MEMBERS && running(ctx); i += SETUP_BATCH) {
        const batch = await Promise.allSettled(
          Array.from({ length: Math.min(SETUP_BATCH, MEMBERS - i) }, (_, k) => member(ctx, i + k)),
        );
        for (const r of batch) {
          if (r.status === 'fulfilled') members.push(r.value);
          else count(report, `member failed: ${r.reason.message}`);
        }
      }
    })();
    // A slow server must not keep the flapper from starting: it goes after SETUP_MS at most,
    // with the members that made it (the others keep coming).
    await Promise.race([setup, sleep(SETUP_MS)]);
    report['members at first flap'] = members.length;

    let cycle = 0;
    while (running(ctx)) {
      let socket: net.Socket;
      try {
        ({ socket } = await upgrade({ port: ctx.port, path: ctx.path }, ctx.rng));
      } catch {
        count(report, 'flapper connect failed');
        await sleep(200);
        continue;
      }
      count(report, 'flapper connections');
      let open = true;
      socket.on('close', () => {
        open = false;
      });
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.resume();
      socket.write(jsonFrame({ t: 'hello', v: 1, cid: `flapper-${cycle++}`, token: 'flapper' }, ctx.rng));
      let id = 1;
      await every(
        ctx,
        PAIR_EVERY_MS,
        () => {
          socket.write(jsonFrame({ t: 'sub', id: id++, ch: CHANNEL }, ctx.rng));
          socket.write(jsonFrame({ t: 'unsub', id: id++, ch: CHANNEL }, ctx.rng));
          count(report, 'flaps sent');
        },
        () => open,
      );
      if (!open) count(report, 'flapper closed by server');
      socket.destroy();
    }
    await setup;
    report.members = members.length;
    report['frames to members'] = members.reduce((n, m) => n + m.counter.frames, 0);
    for (const m of members) m.socket.destroy();
    return report;
  },
};
