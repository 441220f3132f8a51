// Item 8: a client that subscribes from a channel's history and unsubscribes in a loop, never
// reading what the replays send it. Each cycle first writes a fresh batch of big messages (history
// may be bounded in bytes per channel and per process: other attackers' floods evict it), finds
// the oldest of them the server still replays, then loops from there. Replays must be sliced, encoded once per stored entry and
// codec, paced by the client's reading, and stop for a client the server closed.
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
/** History written at the start of each cycle: 120 × 128 KiB (15 MiB), within the rate-limit burst. */
const BATCH_MESSAGES = 120;
/** Distances from the newest offset tried, farthest first, until the server promises a replay. */
const PROBES = [BATCH_MESSAGES, 60, 30, 15, 7];
const HISTORY_CHARS = 128 * 1024;
/** Milliseconds between sub/unsub pairs (~20 pairs, 40 messages, per second). */
const PAIR_EVERY_MS = 50;
/** The attacker drops its (stalled) connection, writes a new batch and comes back this often. */
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

/** Publishes one batch of history; returns the position of its last message. */
async function writeBatch(
  writer: Awaited<ReturnType<typeof requester>>,
  data: string,
  cycle: number,
  report: AttackReport,
): Promise<{ ep: string; off: number } | undefined> {
  const acks = Array.from({ length: BATCH_MESSAGES }, (_, i) =>
    writer.send({ t: 'pub', ch: CHANNEL, ev: 'old', mid: `r${cycle}-${i}`, d: `${i}${data}` }, 10_000),
  );
  let last: { ep: string; off: number } | undefined;
  for (const r of await Promise.all(acks)) {
    count(report, r?.ok ? 'history stored' : `history refused ${r?.err?.code ?? '(no reply)'}`);
    if (r?.ok && r.d?.ep && r.d.off !== undefined) last = { ep: r.d.ep, off: r.d.off };
  }
  return last;
}

/**
 * Reads replies on `conn` until the server promises to replay from one of the PROBES distances
 * behind `last` (what it replays meanwhile is read and dropped); undefined if it never does.
 */
async function oldestReplayed(
  conn: Awaited<ReturnType<typeof requester>>,
  last: { ep: string; off: number },
) {
  for (const n of PROBES) {
    const since = { ep: last.ep, off: Math.max(0, last.off - n) };
    const reply = conn.send({ t: 'sub', ch: CHANNEL, since });
    conn.ws.send(JSON.stringify({ t: 'unsub', id: 0, ch: CHANNEL }));
    if ((await reply)?.d?.recovered) return since;
  }
  return undefined;
}

export const replayLoop: Attack = {
  name: 'replay',
  item: 8,
  what: `every 4 s, ${BATCH_MESSAGES} × 128 KiB written, then sub from the oldest replayed / unsub loops, never reading`,
  async run(ctx) {
    const report: AttackReport = {};
    const data = ctx.rng.text(HISTORY_CHARS);
    let writer: Awaited<ReturnType<typeof requester>> | undefined;
    let cycle = 0;
    while (running(ctx)) {
      let conn: Awaited<ReturnType<typeof requester>>;
      let since: { ep: string; off: number } | undefined;
      try {
        if (!writer) {
          const w = await requester(ctx, 'replay-writer');
          w.closed.then(() => {
            if (writer === w) writer = undefined;
          });
          writer = w;
        }
        const last = await writeBatch(writer, data, cycle, report);
        conn = await requester(ctx, `replay-${cycle++}`);
        since = last && (await oldestReplayed(conn, last));
        if (last && since) report['messages per replay (last cycle)'] = last.off - since.off;
      } catch {
        count(report, 'connect failed');
        writer?.ws.terminate();
        writer = undefined;
        await sleep(200);
        continue;
      }
      // From here on the socket is never read: the replays have nobody to go to.
      conn.ws.pause();
      if (!since) {
        count(report, 'cycles without history to replay');
        conn.ws.terminate();
        await sleep(200);
        continue;
      }
      count(report, 'cycles');
      let open = true;
      conn.closed.then(() => {
        open = false;
      });
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
    writer?.ws.terminate();
    return report;
  },
};
