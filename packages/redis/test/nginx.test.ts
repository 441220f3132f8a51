// Issue 5's acceptance test: three ieum processes behind a real nginx (Debian's package), sharing
// everything through Redis. Clients land on different processes and share a room and its presence;
// one process is killed (SIGKILL) while messages flow, and its clients reconnect through nginx to
// the others and recover every message once, in order.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { type ChannelMessage, RealtimeClient } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { deleteKeys, requireRedis, testPrefix } from './helpers.js';
import { startNginx, startNode } from './processes.js';

describe('three processes behind nginx, sharing Redis', () => {
  const children: ChildProcess[] = [];
  const clients: RealtimeClient[] = [];
  let prefix = '';
  after(async () => {
    for (const c of clients) c.close();
    for (const c of children) c.kill('SIGKILL');
    if (prefix) await deleteKeys(prefix);
  });

  it('shares a room and presence across processes, and survives killing one while messages flow', {
    timeout: 120_000,
  }, async () => {
    const redisUrl = await requireRedis();
    prefix = testPrefix('nginx');
    const nodes = await Promise.all([0, 1, 2].map(() => startNode(prefix, redisUrl)));
    children.push(...nodes.map((n) => n.child));
    const nginx = await startNginx(nodes.map((n) => n.port));
    children.push(nginx.child);
    const port = nginx.port;

    const url = `ws://127.0.0.1:${port}/realtime`;
    const users = ['ann', 'bob', 'cy', 'dee', 'eve', 'fay'];
    const got = new Map<string, ChannelMessage<Record<string, number>>[]>();
    const pids = new Map<string, number>();
    for (const user of users) {
      const c = new RealtimeClient(url, {
        WebSocket,
        token: user,
        reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
        transports: ['websocket'],
      });
      clients.push(c);
      got.set(user, []);
      c.channel<Record<string, number>>('room', { presence: true }).on('message', (m) =>
        got.get(user)!.push(m),
      );
      await c.channel('room', { presence: true }).subscribe();
      pids.set(user, (await c.request('whoami', null)) as number);
    }
    assert.ok(new Set(pids.values()).size >= 2, `clients spread over processes: ${[...pids.values()]}`);
    const members = await clients[0]!.channel('room').members();
    assert.deepEqual(members.map((m) => m.user).sort(), users, 'presence spans the processes');

    // Publish from every client in turn; kill the process of the first client a third of the way.
    const victimPid = pids.get('ann')!;
    const victim = nodes.find((n) => n.child.pid === victimPid)!;
    const total = 150;
    const acks: Promise<unknown>[] = [];
    for (let i = 1; i <= total; i++) {
      acks.push(clients[i % clients.length]!.channel<Record<string, number>>('room').publish('n', i));
      if (i === 50) victim.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(acks);
    const deadline = Date.now() + 30_000;
    while ([...got.values()].some((list) => list.length < total) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const [user, list] of got) {
      assert.equal(list.length, total, `${user} got ${list.length} of ${total}`);
      assert.deepEqual(
        list.map((m) => m.offset),
        Array.from({ length: total }, (_, i) => i + 1),
        `${user}: every offset once, in order`,
      );
      assert.deepEqual(new Set(list.map((m) => m.data)).size, total, `${user}: every message once`);
    }
    for (const user of users) {
      assert.notEqual(
        await clients[users.indexOf(user)]!.request('whoami', null),
        victimPid,
        `${user} is on a live process`,
      );
    }
    nginx.stop();
  });
});
