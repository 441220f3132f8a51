// Item 8: a channel with a big history, and a client that subscribes from offset 0 and
// unsubscribes in a loop without reading what the replay sends it. Replays must be sliced, encoded
// once per stored entry and codec, and stop for a client the server decided to close.
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

const CHANNEL = 'replay';
/** History written first, at ~90 messages per second (under the rate limit): 250 × 128 KiB. */
const HISTORY_MESSAGES = 250;
const HISTORY_CHARS = 128 * 1024;
/** Milliseconds between sub/unsub pairs (~20 pairs, 40 messages, per second). */
const PAIR_EVERY_MS = 50;
/** The attacker drops its (stalled) connection and comes back this often. */
const CYCLE_MS = 4000;

export const replayLoop: Attack = {
  name: 'replay',
  item: 8,
  what: `sub since offset 0 / unsub loops, never reading, on a channel of ${HISTORY_MESSAGES} × 128 KiB`,
  async run(ctx: AttackContext) {
    const report: AttackReport = {};
    let epoch = '';
    let answered = 0;
    try {
      let done = () => {};
      const allAnswered = new Promise<void>((r) => {
        done = r;
      });
      const writer = await protocolClient(ctx, {
        cid: 'replay-writer',
        onReply: (m) => {
          const d = (m as { d?: { ep: string } }).d;
          if (m.ok && d) epoch = d.ep;
          count(report, m.ok ? 'history stored' : `history refused ${m.err?.code}`);
          if (++answered === HISTORY_MESSAGES) done();
        },
      });
      const data = ctx.rng.text(HISTORY_CHARS);
      for (let i = 0; i < HISTORY_MESSAGES; i++) {
        if (i >= 100) await sleep(11);
        writer.ws.send(
          JSON.stringify({ t: 'pub', id: i, ch: CHANNEL, ev: 'old', mid: `r${i}`, d: `${i}${data}` }),
        );
      }
      await Promise.race([allAnswered, sleep(15_000)]);
      writer.ws.close();
    } catch (error) {
      report.setup = (error as Error).message;
    }
    if (!epoch) return report;

    let id = 1;
    while (running(ctx)) {
      let conn: Awaited<ReturnType<typeof protocolClient>>;
      let firstReply: (m: { ok: boolean; d?: { recovered?: boolean; reason?: string } }) => void = () => {};
      const replied = new Promise<{ ok: boolean; d?: { recovered?: boolean; reason?: string } }>((r) => {
        firstReply = r;
      });
      try {
        conn = await protocolClient(ctx, { cid: `replay-${id}`, onReply: (m) => firstReply(m) });
      } catch {
        count(report, 'connect failed');
        await sleep(200);
        continue;
      }
      count(report, 'connections');
      let open = true;
      conn.closed.then(() => {
        open = false;
      });
      const since = { ep: epoch, off: 0 };
      // The first subscription is read up to its reply (what did the server promise?), then the
      // socket is never read again: the replay has nobody to go to.
      conn.ws.send(JSON.stringify({ t: 'sub', id: id++, ch: CHANNEL, since }));
      const first = await Promise.race([replied, sleep(5000).then(() => undefined)]);
      conn.ws.pause();
      if (!first) count(report, 'no sub reply in 5 s');
      else if (!first.ok) count(report, 'sub refused');
      else count(report, first.d?.recovered ? 'replays promised' : `not recovered (${first.d?.reason})`);
      conn.ws.send(JSON.stringify({ t: 'unsub', id: id++, ch: CHANNEL }));
      const cycleEnd = Date.now() + CYCLE_MS;
      await every(
        ctx,
        PAIR_EVERY_MS,
        () => {
          conn.ws.send(JSON.stringify({ t: 'sub', id: id++, ch: CHANNEL, since }));
          conn.ws.send(JSON.stringify({ t: 'unsub', id: id++, ch: CHANNEL }));
          count(report, 'sub/unsub pairs sent');
        },
        () => open && Date.now() < cycleEnd,
      );
      conn.ws.terminate();
    }
    return report;
  },
};
