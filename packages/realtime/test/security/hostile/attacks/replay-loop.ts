// Item 8: a channel with a big history, and a client that subscribes from the oldest offset still
// kept and unsubscribes in a loop, without reading what the replay sends it. Replays must be
// sliced, encoded once per stored entry and codec, and stop for a client the server closed.
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

interface Reply {
  id: number;
  ok: boolean;
  d?: { ep?: string; off?: number; recovered?: boolean; reason?: string };
  err?: { code: string };
}

/** A protocol connection whose requests resolve with their reply (undefined after `ms`). */
async function requester(ctx: AttackContext, cid: string) {
  const waiting = new Map<number, (r: Reply) => void>();
  const conn = await protocolClient(ctx, { cid, onReply: (m) => waiting.get(m.id)?.(m as Reply) });
  let next = 1;
  return {
    ...conn,
    send(message: Record<string, unknown>, ms = 5000): Promise<Reply | undefined> {
      const id = next++;
      conn.ws.send(JSON.stringify({ ...message, id }));
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), ms);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(r);
        });
      });
    },
  };
}

/** Publishes the history; returns its epoch and last offset. */
async function writeHistory(ctx: AttackContext, report: AttackReport) {
  const writer = await requester(ctx, 'replay-writer');
  const data = ctx.rng.text(HISTORY_CHARS);
  const acks: Array<Promise<Reply | undefined>> = [];
  for (let i = 0; i < HISTORY_MESSAGES && running(ctx); i++) {
    if (i >= 100) await sleep(11);
    acks.push(writer.send({ t: 'pub', ch: CHANNEL, ev: 'old', mid: `r${i}`, d: `${i}${data}` }, 15_000));
  }
  let last: { ep: string; off: number } | undefined;
  for (const r of await Promise.all(acks)) {
    count(report, r?.ok ? 'history stored' : `history refused ${r?.err?.code ?? '(no reply)'}`);
    if (r?.ok && r.d?.ep && r.d.off !== undefined) last = { ep: r.d.ep, off: r.d.off };
  }
  writer.ws.close();
  return last;
}

/**
 * The oldest offset the server still replays from, probed with halving distances (history may
 * be bounded in bytes: only part of what was written is kept). Reads what it gets meanwhile.
 */
async function oldestKept(ctx: AttackContext, last: { ep: string; off: number }) {
  const probe = await requester(ctx, 'replay-probe');
  try {
    for (let n = last.off; n >= 1; n = Math.floor(n / 2)) {
      const r = await probe.send({ t: 'sub', ch: CHANNEL, since: { ep: last.ep, off: last.off - n } });
      await probe.send({ t: 'unsub', ch: CHANNEL });
      if (r?.d?.recovered) return last.off - n;
    }
    return undefined;
  } finally {
    probe.ws.terminate();
  }
}

export const replayLoop: Attack = {
  name: 'replay',
  item: 8,
  what: `sub from the oldest kept offset / unsub loops, never reading, on a channel of ${HISTORY_MESSAGES} × 128 KiB`,
  async run(ctx) {
    const report: AttackReport = {};
    let since: { ep: string; off: number } | undefined;
    try {
      const last = await writeHistory(ctx, report);
      const oldest = last && (await oldestKept(ctx, last));
      if (last && oldest !== undefined) since = { ep: last.ep, off: oldest };
      report['messages replayed per sub'] = last && oldest !== undefined ? last.off - oldest : 0;
    } catch (error) {
      report.setup = (error as Error).message;
    }
    if (!since) return report;

    let cycle = 0;
    while (running(ctx)) {
      let conn: Awaited<ReturnType<typeof requester>>;
      try {
        conn = await requester(ctx, `replay-${cycle++}`);
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
      // The first subscription is read up to its reply (what did the server promise?), then the
      // socket is never read again: the replays have nobody to go to.
      const first = conn.send({ t: 'sub', ch: CHANNEL, since });
      conn.ws.send(JSON.stringify({ t: 'unsub', id: 0, ch: CHANNEL }));
      const reply = await first;
      conn.ws.pause();
      if (!reply) count(report, 'no sub reply in 5 s');
      else count(report, reply.d?.recovered ? 'replays promised' : `not recovered (${reply.d?.reason})`);
      const cycleEnd = Date.now() + CYCLE_MS;
      await every(
        ctx,
        PAIR_EVERY_MS,
        () => {
          conn.ws.send(JSON.stringify({ t: 'sub', id: 0, ch: CHANNEL, since }));
          conn.ws.send(JSON.stringify({ t: 'unsub', id: 0, ch: CHANNEL }));
          count(report, 'sub/unsub pairs sent');
        },
        () => open && Date.now() < cycleEnd,
      );
      conn.ws.terminate();
    }
    return report;
  },
};
