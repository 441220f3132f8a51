// Item 11: peers that send pings (and small realtime pings that the server answers) and never
// read. What the server queues for them must be counted as it really is, bounded, and the socket
// must stop being read once its output is backed up.
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
import { clientFrame, jsonFrame, Opcode, upgrade } from '../raw-peer.js';

const PEERS = 2;
/** Ping frames per write, each with a 125-byte payload (the largest a control frame may carry). */
const PINGS_PER_BATCH = 100;
/** Milliseconds between batches: ~10,000 pings per second per peer, when the server keeps reading. */
const BATCH_EVERY_MS = 10;

async function peer(ctx: AttackContext, n: number, report: AttackReport): Promise<void> {
  // Pre-built batches with fresh mask keys; the server cannot tell they are sent again.
  const batches = Array.from({ length: 8 }, () =>
    Buffer.concat(
      Array.from({ length: PINGS_PER_BATCH }, () => clientFrame(Opcode.ping, ctx.rng.bytes(125), ctx.rng)),
    ),
  );
  const rtPing = jsonFrame({ t: 'ping' }, ctx.rng);
  let cycle = 0;
  while (running(ctx)) {
    let socket: net.Socket;
    try {
      ({ socket } = await upgrade({ port: ctx.port, path: ctx.path }, ctx.rng));
    } catch {
      count(report, 'connect failed');
      await sleep(200);
      continue;
    }
    count(report, 'connections');
    let open = true;
    socket.on('close', () => {
      open = false;
    });
    socket.on('error', () => {});
    // Never resumed: nothing the server sends is ever read.
    socket.write(jsonFrame({ t: 'hello', v: 1, cid: `pinger-${n}-${cycle++}` }, ctx.rng));
    let tick = 0;
    await every(
      ctx,
      BATCH_EVERY_MS,
      async () => {
        // Honour our own socket's backpressure: a server that stops reading stops this attacker.
        if (socket.writableNeedDrain) {
          count(report, 'waits for drain');
          await Promise.race([new Promise((r) => socket.once('drain', r)), sleep(250)]);
          return;
        }
        socket.write(batches[tick % batches.length]!);
        count(report, 'pings sent', PINGS_PER_BATCH);
        if (++tick % 2 === 0) {
          socket.write(rtPing);
          count(report, 'realtime pings sent');
        }
      },
      () => open,
    );
    if (!open) count(report, 'closed by server');
    socket.destroy();
  }
}

export const unreadPings: Attack = {
  name: 'pings',
  item: 11,
  what: `${PEERS} raw peers send ~10k pings/s (and realtime pings) each and never read`,
  async run(ctx) {
    const report: AttackReport = {};
    await Promise.all(Array.from({ length: PEERS }, (_, n) => peer(ctx, n, report)));
    return report;
  },
};
