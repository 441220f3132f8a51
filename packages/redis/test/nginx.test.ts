// Issue 5's acceptance test: three ieum processes behind a real nginx (Debian's package), sharing
// everything through Redis. Clients land on different processes and share a room and its presence;
// one process is killed (SIGKILL) while messages flow, and its clients reconnect through nginx to
// the others and recover every message once, in order.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ChannelMessage, RealtimeClient, type WebSocketConstructor } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { deleteKeys, requireRedis, testPrefix } from './helpers.js';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const root = new URL('../../../', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function startNode(prefix: string, url: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=ieum-source',
      '--import',
      'tsx',
      'packages/redis/test/fixtures/node-process.ts',
      prefix,
      url,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`node process exited (${code}) before listening`)));
  });
}

/** The configuration of docs/scale-out.md, without TLS, on local ports. */
function nginxConfig(dir: string, listen: number, upstreams: number[]): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  upstream realtime {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${listen};
    location /realtime {
      proxy_pass http://realtime;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 75s;
      proxy_send_timeout 75s;
      proxy_next_upstream error timeout http_502 http_503;
    }
  }
}
`;
}

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
    if (!existsSync(NGINX)) {
      throw new Error(
        `nginx not found at ${NGINX}: install it with \`apt-get install -y nginx-light\` or set NGINX_PATH`,
      );
    }
    const redisUrl = await requireRedis();
    prefix = testPrefix('nginx');
    const nodes = await Promise.all([0, 1, 2].map(() => startNode(prefix, redisUrl)));
    children.push(...nodes.map((n) => n.child));
    const dir = mkdtempSync(join(tmpdir(), 'ieum-nginx-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'nginx.conf'),
      nginxConfig(
        dir,
        port,
        nodes.map((n) => n.port),
      ),
    );
    execFileSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'pipe' });
    const nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    children.push(nginx);
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => {
        const s = net.connect(port, '127.0.0.1', () => r(s.end() && true)).on('error', () => r(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const url = `ws://127.0.0.1:${port}/realtime`;
    const users = ['ann', 'bob', 'cy', 'dee', 'eve', 'fay'];
    const got = new Map<string, ChannelMessage<number>[]>();
    const pids = new Map<string, number>();
    for (const user of users) {
      const c = new RealtimeClient(url, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        token: user,
        reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
        transports: ['websocket'],
      });
      clients.push(c);
      got.set(user, []);
      c.channel<number>('room', { presence: true }).on('message', (m) => got.get(user)!.push(m));
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
      acks.push(clients[i % clients.length]!.channel<number>('room').publish('n', i));
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
    nginx.kill('SIGTERM');
  });
});
