// Item 3: one anonymous client, under the rate limit, publishes ~1 MiB messages round-robin to
// many channels. History must be bounded in bytes (per channel and per process), and so must the
// number of channels one connection can create.
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

/** Characters of data per publish: the message stays under the default 1 MiB `maxMessageBytes`. */
const DATA_CHARS = 1_000_000;
const CHANNELS = 64;
/** Milliseconds between publishes: ~45/s, under the default 100/s rate limit. */
const PUBLISH_EVERY_MS = 22;
/** Publishes waiting for their ack before the attacker holds back (it only wants to be stored). */
const MAX_UNACKED = 64;

export const historyFlood: Attack = {
  name: 'history',
  item: 3,
  what: `one anonymous client publishes ~1 MB messages to ${CHANNELS} channels at ~45/s`,
  async run(ctx: AttackContext) {
    const report: AttackReport = {};
    const data = ctx.rng.text(DATA_CHARS);
    let seq = 0;
    while (running(ctx)) {
      let unacked = 0;
      let conn: Awaited<ReturnType<typeof protocolClient>>;
      try {
        conn = await protocolClient(ctx, {
          cid: `history-${seq}`,
          onReply: (m) => {
            unacked--;
            if (m.ok) count(report, 'stored');
            else count(report, `refused ${m.err?.code}`);
          },
        });
      } catch {
        count(report, 'connect failed');
        await sleep(200);
        continue;
      }
      count(report, 'connections');
      let open = true;
      conn.closed.then((code) => {
        open = false;
        // Closed by the server, not by us at the end.
        if (running(ctx)) count(report, `closed ${code}`);
      });
      await every(
        ctx,
        PUBLISH_EVERY_MS,
        () => {
          if (unacked >= MAX_UNACKED || conn.ws.bufferedAmount > 8 * 1048576) {
            count(report, 'held back');
            return;
          }
          const n = seq++;
          unacked++;
          conn.ws.send(
            `{"t":"pub","id":${n},"ch":"flood-${n % CHANNELS}","ev":"blob","mid":"h${n}","d":"${data}"}`,
          );
          count(report, 'sent');
        },
        () => open,
      );
      conn.ws.terminate();
      if (!open) await sleep(100);
    }
    return report;
  },
};
