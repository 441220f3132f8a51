// The failover acceptance scenario shared by the Redis Cluster and Sentinel tests: three ieum
// processes behind nginx carry traffic on two channels while the backend loses a master. What
// must hold for every subscriber and channel: between two `reset`s its messages are contiguous
// (one epoch, offsets +1, no message twice), and after its last reset it has everything up to the
// channel's final position. So every acknowledged message is delivered once, in order, or the
// subscriber was told with a `reset` (and its reason): never a silent gap.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { type PublishAck, RealtimeClient, type WebSocketConstructor } from '@ieum/realtime/client';
import type { ChannelPosition } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { startNginx, startNode } from './processes.js';

/** What a subscriber saw, in order; a reset carries the position it resumed from. */
type Seen =
  | { type: 'message'; epoch: string; offset: number; data: number }
  | { type: 'reset'; reason: string; epoch: string; offset: number };

export interface FailoverOptions {
  /** Backend argument of fixtures/node-process.ts. */
  backend: string;
  prefix: string;
  /** Channels: `hit` lives on the master that fails; `spared` elsewhere (or on the same one). */
  channels: { hit: string; spared: string };
  /** Makes the master fail (kills it); resolves when done. */
  fail(): Promise<void>;
  /** The channel's final position, read from the backend after the traffic. */
  position(channel: string): Promise<ChannelPosition>;
  /** Whether the spared channel must get through without any reset. */
  sparedUntouched: boolean;
  publishes?: number;
  /** The backend's own view (who is master), for a failure's message. */
  describe(): Promise<string>;
  /** Registers cleanup that runs even when the test times out (`t.after`). */
  after(fn: () => void): void;
}

async function until(check: () => boolean, ms: number, what: () => Promise<string>): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${await what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the scenario; returns the number of resets seen per channel (for the log). */
export async function failoverUnderTraffic(o: FailoverOptions): Promise<Record<string, number>> {
  const children: ChildProcess[] = [];
  const clients: RealtimeClient[] = [];
  let stopNginx = () => {};
  const cleanup = () => {
    for (const c of clients) c.close();
    for (const c of children) c.kill('SIGKILL');
    stopNginx();
  };
  o.after(cleanup);
  try {
    const nodes = await Promise.all([0, 1, 2].map(() => startNode(o.prefix, o.backend)));
    children.push(...nodes.map((n) => n.child));
    const nginx = await startNginx(nodes.map((n) => n.port));
    children.push(nginx.child);
    stopNginx = nginx.stop;
    const channels = [o.channels.hit, o.channels.spared];
    const seen = new Map<string, Seen[]>();
    const trail: string[][] = [];
    for (let i = 0; i < 6; i++) {
      const c = new RealtimeClient(`ws://127.0.0.1:${nginx.port}/realtime`, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        token: `user${i}`,
        reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
        transports: ['websocket'],
      });
      clients.push(c);
      const log: string[] = [];
      trail.push(log);
      c.on('disconnect', (d) => log.push(`disconnect ${d.code} ${d.reason} -> ${d.action}`));
      c.on('error', (e) => log.push(`error ${e.message}`));
      for (const name of channels) {
        const list: Seen[] = [];
        seen.set(`${i}/${name}`, list);
        const ch = c.channel<Record<string, number>>(name);
        ch.on('message', (m) =>
          list.push({ type: 'message', epoch: m.epoch, offset: m.offset, data: m.data }),
        );
        ch.on('reset', (reason) => list.push({ type: 'reset', reason, epoch: '', offset: -1 }));
        ch.on('error', (e: Error) => log.push(`${name} error ${e.message}`));
        ch.on('subscribed', (r) => {
          log.push(`${name} subscribed ${JSON.stringify(r)}`);
          const last = list.at(-1);
          if (r.recovered === false && last?.type === 'reset')
            Object.assign(last, { epoch: r.ep, offset: r.off });
        });
        await ch.subscribe();
      }
    }

    const total = o.publishes ?? 120;
    const acks: Array<Promise<PublishAck>> = [];
    for (let i = 1; i <= total; i++) {
      acks.push(
        clients[i % clients.length]!.channel<Record<string, number>>(channels[i % 2]!).publish('n', i),
      );
      if (i === Math.floor(total / 3)) await o.fail();
      await new Promise((r) => setTimeout(r, 15));
    }
    // A publish the backend refused (the master died under it) is sent again by its client, with
    // the same message id, until it is acknowledged.
    const stuck = async () => {
      const views = await Promise.all(
        clients.map((c) =>
          Promise.race([
            Promise.all([c.request('whoami', null), c.request('topics', null), c.request('cluster', null)]),
            new Promise((r) => setTimeout(() => r('no answer'), 2000)),
          ]).catch((e: Error) => e.message),
        ),
      );
      return JSON.stringify(views);
    };
    let settled = 0;
    for (const a of acks)
      void a.then(
        () => settled++,
        () => {},
      );
    await until(
      () => settled === total,
      30_000,
      async () =>
        `every publish acknowledged (${settled} of ${total}); processes: ${await stuck()}; backend: ${await o.describe()}; client events: ${JSON.stringify(trail)}`,
    );
    const acked = await Promise.all(acks);
    assert.equal(acked.length, total);

    const final = new Map<string, ChannelPosition>();
    for (const name of channels) final.set(name, await o.position(name));
    // Where a subscriber is: its last message, or the position its last reset resumed from.
    const lastMessage = (list: Seen[]) => list.at(-1);
    await until(
      () =>
        [...seen].every(([key, list]) => {
          const f = final.get(key.split('/')[1]!)!;
          const last = lastMessage(list);
          return last !== undefined && last.epoch === f.epoch && last.offset >= f.offset;
        }),
      15_000,
      async () =>
        `every subscriber reaches the final position: ${JSON.stringify([...final])}; ` +
        [...seen].map(([k, l]) => `${k} at ${JSON.stringify(lastMessage(l))}`).join(', ') +
        `\nclient events: ${JSON.stringify(trail)}\nprocesses: ${await stuck()}\nbackend: ${await o.describe()}`,
    );

    const resets: Record<string, number> = Object.fromEntries(channels.map((n) => [n, 0]));
    for (const [key, list] of seen) {
      const name = key.split('/')[1]!;
      // Each message follows the previous message, or the position the last reset resumed from:
      // same epoch, next offset. Between two resets no message comes twice.
      let previous: { epoch: string; offset: number } | undefined;
      let segment = new Set<number>();
      for (const s of list) {
        if (s.type === 'reset') {
          assert.ok(s.reason.length > 0, `${key}: a reset says why`);
          assert.ok(s.offset >= 0, `${key}: a reset is followed by the position to resume from`);
          resets[name]!++;
          segment = new Set();
        } else {
          if (previous) {
            assert.equal(s.epoch, previous.epoch, `${key}: epoch changed without a reset`);
            assert.equal(
              s.offset,
              previous.offset + 1,
              `${key}: a silent gap or repeat after ${s.epoch}:${previous.offset}`,
            );
          }
          assert.ok(!segment.has(s.data), `${key}: message ${s.data} twice`);
          segment.add(s.data);
        }
        previous = s;
      }
      if (!list.some((s) => s.type === 'reset')) {
        // No reset: every message of the channel from its first, and every acknowledged one.
        assert.equal(list[0]?.type === 'message' && list[0].offset, 1, `${key}: starts at offset 1`);
        const got = new Set(list.map((s) => (s.type === 'message' ? s.data : 0)));
        for (let i = 1; i <= total; i++) {
          if (channels[i % 2] === name) assert.ok(got.has(i), `${key}: acknowledged message ${i} delivered`);
        }
      }
      if (o.sparedUntouched && name === o.channels.spared) {
        assert.ok(!list.some((s) => s.type === 'reset'), `${key}: the spared channel gets no reset`);
      }
    }
    return resets;
  } finally {
    cleanup();
  }
}
