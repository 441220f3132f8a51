// Recovery bench: a client that missed N messages (default 10,000) of a channel comes back; how
// long until it has them all, and how much CPU the server spent sending them. ieum: a
// RealtimeClient subscribes again with its last position (`since`), the server replays from the
// MemoryAdapter's history. Socket.IO 4 (when bench/ has its dependencies): connection state
// recovery, its in-memory adapter's missed packets replayed when the socket reconnects.
//
//   node --conditions=ieum-source --import tsx bench/scripts/recovery.ts [--missed 10000]
//        [--size 64] [--reps 5] [--write]
//
// Each server runs in a child process (recovery-server.ts, recovery-server-socketio.mjs), the
// clients in this one. Each repetition, servers interleaved: the client joins "room", drops its
// connection, the server publishes N messages of `size` characters to the room, the client comes
// back; the clock runs from its reconnect until the N-th message (checked: all of them, in
// order). Server CPU is the server process's CPU time over the same span. Prints medians; with
// --write they replace the "Recovery" section of docs/performance.md.
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { type ChannelMessage, RealtimeClient, type WebSocketConstructor } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { endMarker, replaceMarkedSection, startMarker } from '../lib/marked-section.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const missed = Number(arg('missed', '10000'));
const size = Number(arg('size', '64'));
const reps = Number(arg('reps', '5'));
const write = process.argv.includes('--write');
if (!(Number.isInteger(missed) && missed >= 1 && missed <= 20_000))
  throw new Error('--missed must be 1..20000');
if (!(Number.isInteger(size) && size >= 0 && size <= 65_536)) throw new Error('--size must be 0..65536');
if (!(Number.isInteger(reps) && reps >= 1 && reps <= 20)) throw new Error('--reps must be 1..20');

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Server {
  child: ChildProcess;
  port: number;
  next<T>(): Promise<T>;
  cpuUs(): Promise<number>;
  publish(): Promise<void>;
}

async function startServer(script: string, execArgv: string[]): Promise<Server> {
  const child = fork(new URL(script, import.meta.url).pathname, [], { execArgv });
  process.once('exit', () => child.kill());
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${script} exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as T);
      });
    });
  const { port } = await next<{ port: number }>();
  return {
    child,
    port,
    next,
    async cpuUs() {
      child.send('cpu');
      return (await next<{ cpuUs: number }>()).cpuUs;
    },
    async publish() {
      child.send({ publish: missed, size });
      await next<{ published: number }>();
    },
  };
}

interface Sample {
  ms: number;
  cpuMs: number;
}

/** Times `comeBack` (which resolves once every missed message arrived) and the server's CPU. */
async function timed(server: Server, comeBack: () => Promise<void>): Promise<Sample> {
  const cpuBefore = await server.cpuUs();
  const started = performance.now();
  await comeBack();
  const ms = performance.now() - started;
  return { ms, cpuMs: ((await server.cpuUs()) - cpuBefore) / 1000 };
}

async function ieumRep(server: Server): Promise<Sample> {
  const url = `ws://127.0.0.1:${server.port}/realtime`;
  const options = { WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: false as const };
  const first = new RealtimeClient(url, options);
  const joined = await first.channel('room').subscribe();
  const since = { ep: joined.ep, off: joined.off };
  first.close();
  await server.publish();
  let client: RealtimeClient | undefined;
  const sample = await timed(server, async () => {
    client = new RealtimeClient(url, options);
    const channel = client.channel('room');
    let expected = since.off + 1;
    const all = new Promise<void>((resolve, reject) => {
      channel.on('message', (m: ChannelMessage) => {
        if (m.offset !== expected) reject(new Error(`offset ${m.offset} arrived, expected ${expected}`));
        if (++expected > since.off + missed) resolve();
      });
      channel.on('reset', (reason) => reject(new Error(`not recovered: ${reason}`)));
    });
    const result = await channel.subscribe({ since });
    if (!result.recovered) throw new Error(`ieum: not recovered (${result.reason})`);
    await all;
  });
  client?.close();
  return sample;
}

interface SioSocket {
  recovered: boolean;
  io: { engine: { close(): void } };
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  connect(): void;
  disconnect(): void;
}
type SioConnect = (url: string, options: Record<string, unknown>) => SioSocket;

async function socketIoRep(server: Server, io: SioConnect): Promise<Sample> {
  const socket = io(`http://127.0.0.1:${server.port}`, { transports: ['websocket'], reconnection: false });
  // Connected and holding an offset to recover from (the server's 'ready').
  await new Promise<void>((resolve) => socket.once('ready', () => resolve()));
  // A lost connection (not a deliberate disconnect, which ends the session): recovery applies.
  await new Promise<void>((resolve) => {
    socket.once('disconnect', () => resolve());
    socket.io.engine.close();
  });
  await server.publish();
  const sample = await timed(server, async () => {
    let received = 0;
    const all = new Promise<void>((resolve, reject) => {
      socket.on('m', (m: { i: number }) => {
        if (m.i !== received) reject(new Error(`message ${m.i} arrived, expected ${received}`));
        if (++received === missed) resolve();
      });
    });
    const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.connect();
    await connected;
    if (!socket.recovered) throw new Error('Socket.IO: the session was not recovered');
    await all;
  });
  socket.disconnect();
  return sample;
}

const servers: Array<{
  name: string;
  server: Server;
  rep: (s: Server) => Promise<Sample>;
  samples: Sample[];
}> = [];
servers.push({
  name: 'ieum RealtimeServer',
  server: await startServer('./recovery-server.ts', ['--conditions=ieum-source', '--import', 'tsx']),
  rep: ieumRep,
  samples: [],
});
if (existsSync(new URL('../node_modules/socket.io-client', import.meta.url))) {
  // bench/'s own dependency (npm ci --prefix bench): not resolvable by the workspace typecheck.
  const specifier = 'socket.io-client';
  const { io } = (await import(specifier)) as { io: SioConnect };
  servers.push({
    name: 'Socket.IO 4 (connection state recovery)',
    server: await startServer('./recovery-server-socketio.mjs', []),
    rep: (s) => socketIoRep(s, io),
    samples: [],
  });
} else {
  process.stderr.write(
    'recovery: bench/node_modules has no socket.io-client (npm ci --prefix bench): ieum only\n',
  );
}

for (let rep = 0; rep < reps; rep++) {
  for (const entry of rep % 2 ? [...servers].reverse() : servers) {
    const sample = await entry.rep(entry.server);
    entry.samples.push(sample);
    process.stderr.write(
      `rep ${rep + 1} ${entry.name}: ${sample.ms.toFixed(1)} ms, server CPU ${sample.cpuMs.toFixed(1)} ms\n`,
    );
  }
}

const rows = servers.map(({ name, samples }) => {
  const ms = median(samples.map((s) => s.ms));
  const cpuMs = median(samples.map((s) => s.cpuMs));
  return { name, ms, cpuMs, perMessageUs: (cpuMs * 1000) / missed, rate: (missed / ms) * 1000 };
});
const table = [
  '| Server | catch-up (ms) ↓ | messages/s ↑ | server CPU (ms) ↓ | server CPU per message (µs) ↓ |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.ms.toFixed(1)} | ${Math.round(r.rate).toLocaleString('en')} | ${r.cpuMs.toFixed(1)} | ${r.perMessageUs.toFixed(2)} |`,
  ),
].join('\n');
console.log(table);

if (write) {
  const section = [
    startMarker('recovery', '`bench/scripts/recovery.ts --write`'),
    '## Recovery',
    '',
    `A client that missed ${missed.toLocaleString('en')} messages of ${size} characters comes back: from its reconnect until it has them all (checked: every one, in order), and the server's CPU time over that span. ieum: a \`RealtimeClient\` subscribes again with its last position and the server replays the MemoryAdapter's history; Socket.IO 4: connection state recovery (its in-memory adapter keeps a disconnected socket's missed packets). Server and client in separate processes, not pinned; the client's own decoding is part of the catch-up time. Medians of ${reps} repetitions, servers interleaved, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, Node.js ${process.version}, ${os.cpus().length} shared CPUs.`,
    '',
    '```sh',
    `node --conditions=ieum-source --import tsx bench/scripts/recovery.ts --missed ${missed} --reps ${reps} --write`,
    '```',
    '',
    table,
    endMarker('recovery'),
  ].join('\n');
  const doc = new URL('../../docs/performance.md', import.meta.url);
  writeFileSync(doc, replaceMarkedSection(readFileSync(doc, 'utf8'), 'recovery', section));
  process.stderr.write('recovery: wrote the Recovery section of docs/performance.md\n');
}
for (const { server } of servers) server.child.disconnect();
process.exit(0);
