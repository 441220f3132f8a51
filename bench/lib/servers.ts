// The servers under test: each is a small script in bench/servers/, started as its own process
// (pinned to one CPU when taskset is there), announcing its port on stdout.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './generator.js';

export type Protocol = 'ws' | 'sio' | 'raw' | 'rt';

export interface ServerSpec {
  /** Name used by `--servers` and as the table column. */
  name: string;
  label: string;
  runtime: 'node' | 'bun';
  script: string;
  protocol: Protocol;
  env?: Record<string, string>;
  /** permessage-deflate variant: started with `--deflate echo|fanout`. */
  deflate?: 'echo' | 'fanout';
  /** Measured only by the scenarios of this group (`realtime`: the `rt-*` scenarios). */
  group?: 'realtime';
}

export const SERVERS: readonly ServerSpec[] = [
  { name: 'ieum', label: 'ieum', runtime: 'node', script: 'ieum.mjs', protocol: 'ws' },
  {
    name: 'ws',
    label: 'ws',
    runtime: 'node',
    script: 'ws.mjs',
    protocol: 'ws',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
  },
  { name: 'ws-native', label: 'ws + bufferutil', runtime: 'node', script: 'ws.mjs', protocol: 'ws' },
  {
    name: 'socketio',
    label: 'Socket.IO 4',
    runtime: 'node',
    script: 'socketio.mjs',
    protocol: 'sio',
    // A default Socket.IO install has no bufferutil; its ws would pick it up from bench/node_modules.
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
  },
  { name: 'bun', label: 'Bun', runtime: 'bun', script: 'bun.mjs', protocol: 'ws' },
  { name: 'raw', label: 'raw TCP (floor)', runtime: 'node', script: 'raw.mjs', protocol: 'raw' },
];

/** Fan-out through Redis (the `redis-fanout` scenario only): ieum with @ieum/redis, ws with ioredis pub/sub. */
export const REDIS_SERVERS: readonly ServerSpec[] = [
  { name: 'ieum', label: 'ieum', runtime: 'node', script: 'ieum-redis.mjs', protocol: 'ws' },
  { name: 'ws', label: 'ws', runtime: 'node', script: 'ws-redis.mjs', protocol: 'ws' },
];

/**
 * The realtime layer side by side (the `rt-*` scenarios): @ieum/realtime's `RealtimeServer`,
 * Socket.IO 4 rooms, and ieum's raw `wss.broadcast` (no channels, history or acks: the floor for
 * the realtime layer above it).
 */
export const REALTIME_SERVERS: readonly ServerSpec[] = [
  {
    name: 'ieum-rt',
    label: 'ieum RealtimeServer',
    runtime: 'node',
    script: 'ieum-realtime.mjs',
    protocol: 'rt',
    group: 'realtime',
  },
  {
    name: 'ieum-broadcast',
    label: 'ieum wss.broadcast (floor)',
    runtime: 'node',
    script: 'ieum.mjs',
    protocol: 'ws',
    group: 'realtime',
  },
  {
    name: 'socketio-rooms',
    label: 'Socket.IO 4 rooms',
    runtime: 'node',
    script: 'socketio-rooms.mjs',
    protocol: 'sio',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    group: 'realtime',
  },
];

/**
 * The realtime layer through Redis, 3 processes each (`rt-redis-*`): ieum's RedisAdapter, and
 * Socket.IO 4 rooms with @socket.io/redis-adapter (columns of the same names as in
 * REALTIME_SERVERS) and with @socket.io/redis-streams-adapter.
 */
export const REALTIME_REDIS_SERVERS: readonly ServerSpec[] = [
  {
    name: 'ieum-rt',
    label: 'ieum RealtimeServer + RedisAdapter',
    runtime: 'node',
    script: 'ieum-realtime-redis.mjs',
    protocol: 'rt',
    group: 'realtime',
  },
  {
    name: 'socketio-rooms',
    label: 'Socket.IO 4 rooms + redis-adapter',
    runtime: 'node',
    script: 'socketio-redis.mjs',
    protocol: 'sio',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    group: 'realtime',
  },
  {
    name: 'socketio-streams',
    label: 'Socket.IO 4 rooms + redis-streams-adapter',
    runtime: 'node',
    script: 'socketio-redis.mjs',
    protocol: 'sio',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1', SIO_ADAPTER: 'streams' },
    group: 'realtime',
  },
];

/** The same server with permessage-deflate on (threshold 0; server_no_context_takeover for fan-out). */
export function withDeflate(spec: ServerSpec, mode: 'echo' | 'fanout'): ServerSpec {
  return { ...spec, deflate: mode };
}

/** How servers are started on this machine. */
export interface ServerEnvironment {
  /** Command prefix, e.g. ['prlimit', '--nofile=65536:65536', 'taskset', '-c', '1']. */
  prefix: string[];
  /** Run ieum from its TypeScript sources (tsx) instead of the built dist/. */
  ieumFromSource: boolean;
}

export interface RunningServer {
  spec: ServerSpec;
  port: number;
  /** raw TCP only: the port that fans bytes out. */
  fanoutPort?: number;
  /** raw TCP only: the port that answers handshakes with a canned 101 (the handshake floor). */
  handshakePort?: number;
  pid: number;
  /** Collects garbage in the server (Node: --expose-gc; Bun: Bun.gc) and waits until done. */
  gc(): Promise<void>;
  /** Resident set size of the server process, from /proc/PID/status (VmRSS). */
  rssBytes(): number;
  /** Set when the process exited on its own. */
  exited: string | undefined;
  stop(): Promise<void>;
}

const bunBin = join(benchDir, 'node_modules', '.bin', 'bun');

function commandFor(spec: ServerSpec, env: ServerEnvironment): string[] {
  const script = join(benchDir, 'servers', spec.script);
  const args = spec.deflate ? ['--deflate', spec.deflate] : [];
  if (spec.runtime === 'bun') return [...env.prefix, bunBin, script, ...args];
  const node = [process.execPath, '--expose-gc'];
  if (spec.name.startsWith('ieum') && env.ieumFromSource)
    node.push('--conditions=ieum-source', '--import', 'tsx');
  return [...env.prefix, ...node, script, ...args];
}

export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Starts a server and resolves once it listens (15 s at most). */
export function startServer(spec: ServerSpec, env: ServerEnvironment): Promise<RunningServer> {
  const [command, ...args] = commandFor(spec, env) as [string, ...string[]];
  const child: ChildProcess = spawn(command, args, {
    cwd: join(benchDir, '..'),
    env: { ...process.env, ...spec.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let server: RunningServer | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.label} did not start within 15 s: ${stderr.trim()}`));
    }, 15_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const why = `${spec.label} exited (${signal ?? code}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`;
      if (server) server.exited = why;
      else reject(new Error(why));
    });
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      let nl = stdout.indexOf('\n');
      while (nl !== -1) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        nl = stdout.indexOf('\n');
        if (line === 'gc-done') {
          waiters.shift()?.();
        } else if (line.startsWith('listening ') && !server) {
          clearTimeout(timer);
          const info = JSON.parse(line.slice('listening '.length)) as {
            port: number;
            fanoutPort?: number;
            handshakePort?: number;
          };
          const pid = child.pid!;
          server = {
            spec,
            port: info.port,
            ...(info.fanoutPort ? { fanoutPort: info.fanoutPort } : {}),
            ...(info.handshakePort ? { handshakePort: info.handshakePort } : {}),
            pid,
            exited: undefined,
            gc: () =>
              new Promise<void>((done, fail) => {
                const t = setTimeout(() => fail(new Error(`${spec.label}: no answer to gc`)), 10_000);
                waiters.push(() => {
                  clearTimeout(t);
                  done();
                });
                child.stdin!.write('gc\n');
              }),
            rssBytes: () => readRss(pid),
            stop: () =>
              new Promise<void>((done) => {
                if (child.exitCode !== null || child.signalCode !== null) return done();
                const t = setTimeout(() => child.kill('SIGKILL'), 3000);
                child.once('exit', () => {
                  clearTimeout(t);
                  done();
                });
                child.stdin!.end();
                child.kill('SIGTERM');
              }),
          };
          resolve(server);
        }
      }
    });
  });
}
