// Item 12: subscribers that negotiate permessage-deflate (with and without context takeover) and
// never read, on a busy channel. Data waiting to be compressed must count in `bufferedAmount`, so
// the outbound queue sees them fall behind and the slow-consumer policy (4409) cuts them off.
import type net from 'node:net';
import {
  type Attack,
  type AttackContext,
  type AttackReport,
  count,
  every,
  protocolClient,
  running,
  sleep,
} from '../attack.js';
import { FrameCounter, jsonFrame, upgrade, waitForText } from '../raw-peer.js';

const CHANNEL = 'deflate-feed';
const SUBSCRIBERS = 3;
/** The feed: ~128 KiB messages (base64 text: compresses to ~75%) at ~40 per second. */
const FEED_CHARS = 128 * 1024;
const FEED_EVERY_MS = 25;

async function stalledSubscriber(ctx: AttackContext, n: number): Promise<net.Socket> {
  // With and without context takeover: a server may compress a shared copy for the latter.
  const deflate = n % 2 === 0 ? true : 'no-context-takeover';
  const { socket, extensions } = await upgrade({ port: ctx.port, path: ctx.path, deflate }, ctx.rng);
  if (!extensions.includes('permessage-deflate')) {
    socket.destroy();
    throw new Error('the server did not accept permessage-deflate');
  }
  const counter = new FrameCounter();
  socket.on('data', (c: Buffer) => counter.push(c));
  socket.on('error', () => {});
  // Read only until the subscription is confirmed (the reply is small: sent uncompressed).
  const subscribed = waitForText(counter, (t) => t.startsWith('{"t":"res","id":1,'), 10_000);
  socket.resume();
  socket.write(jsonFrame({ t: 'hello', v: 1, cid: `inflater-${n}` }, ctx.rng));
  socket.write(jsonFrame({ t: 'sub', id: 1, ch: CHANNEL }, ctx.rng));
  await subscribed;
  socket.pause();
  return socket;
}

export const deflateUnread: Attack = {
  name: 'deflate',
  item: 12,
  what: `${SUBSCRIBERS} permessage-deflate subscribers never read a ~5 MB/s feed`,
  async run(ctx) {
    const report: AttackReport = {};
    const subscribers: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    for (let n = 0; n < SUBSCRIBERS; n++) {
      try {
        const s = await stalledSubscriber(ctx, n);
        s.on('close', () => closed.add(s));
        subscribers.push(s);
      } catch (error) {
        report.setup = (error as Error).message;
      }
    }
    report.subscribers = subscribers.length;
    const data = ctx.rng.text(FEED_CHARS);
    let seq = 0;
    while (running(ctx) && subscribers.length > 0) {
      let unacked = 0;
      let conn: Awaited<ReturnType<typeof protocolClient>>;
      try {
        conn = await protocolClient(ctx, {
          cid: `feeder-${seq}`,
          onReply: (m) => {
            unacked--;
            count(report, m.ok ? 'fed' : `feed refused ${m.err?.code}`);
          },
        });
      } catch {
        count(report, 'feeder connect failed');
        await sleep(200);
        continue;
      }
      let open = true;
      conn.closed.then((code) => {
        open = false;
        // Closed by the server, not by us at the end.
        if (running(ctx)) count(report, `feeder closed ${code}`);
      });
      await every(
        ctx,
        FEED_EVERY_MS,
        () => {
          if (unacked >= 64) return void count(report, 'feeder held back');
          const n = seq++;
          unacked++;
          conn.ws.send(`{"t":"pub","id":${n},"ch":"${CHANNEL}","ev":"f","mid":"f${n}","d":"${n}${data}"}`);
        },
        () => open,
      );
      conn.ws.terminate();
    }
    // A paused socket does not notice that the server closed it: drain what the kernel holds
    // (discarded) and see which ones end within a second. Those the server cut off.
    await Promise.all(
      subscribers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            const timer = setTimeout(resolve, 1000);
            s.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            s.on('data', () => {});
            s.resume();
          }),
      ),
    );
    report['subscribers cut by the server'] = closed.size;
    for (const s of subscribers) s.destroy();
    return report;
  },
};
