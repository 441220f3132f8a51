// The game bench (examples/game): bot players in Node against the 60 Hz game server, measuring
// the server's tick timing (jitter p99) with 100 and 500 players, snapshot bandwidth per client
// per second and input-to-acknowledgement latency.
//
//   node --conditions=ieum-source --import tsx bench/scripts/game.ts [--players 100,500]
//        [--seconds 15] [--snapshot-hz 20] [--reps 3] [--write]
//
// The server runs in a child process (bench/scripts/game-server.ts), the bots in this one; each
// bot is the page's own netcode (GameClient: prediction, reconciliation, delta decoding) sending
// its inputs three at a time (20 messages a second) and wandering: it changes direction every
// 0.3-1.5 s. With --write the results replace the "Game" section of docs/performance.md.
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { WebSocketConstructor } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { GameClient } from '../../examples/game/src/game-client.js';
import { seededRandom } from '../../examples/game/src/game-world.js';
import { replaceGameSection } from '../lib/game-section.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const counts = arg('players', '100,500').split(',').map(Number);
const seconds = Number(arg('seconds', '15'));
const snapshotHz = Number(arg('snapshot-hz', '20'));
const reps = Number(arg('reps', '3'));
const arena = { width: 4000, height: 4000 };
const WARMUP_MS = 3000;

const pct = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

interface ServerStats {
  seconds: number;
  players: number;
  lateMs: number[];
  durationMs: number[];
  cpuMs: number[];
  cpuSeconds: number;
  snapshotBytes: number;
  wireBytes: number;
  skipped: number;
}

interface Result {
  players: number;
  tickP50: number;
  tickP99: number;
  tickMax: number;
  cpuP50: number;
  cpuP99: number;
  serverCpu: number;
  lateP50: number;
  lateP99: number;
  skipped: number;
  payloadPerClient: number;
  wirePerClient: number;
  ackP50: number;
  ackP99: number;
  corrections: number;
  botLoopP99: number;
}

async function run(players: number): Promise<Result> {
  const child = fork(
    new URL('./game-server.ts', import.meta.url).pathname,
    [JSON.stringify({ arena, snapshotHz, maxPlayers: players })],
    {
      execArgv: [
        '--conditions=ieum-source',
        '--import',
        'tsx',
        ...(process.env.GAME_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.GAME_CPU_PROF}`] : []),
      ],
    },
  );
  process.once('exit', () => child.kill());
  const next = <T>() => new Promise<T>((r) => child.once('message', (m) => r(m as T)));
  const { port } = await next<{ port: number }>();
  const url = `ws://127.0.0.1:${port}/realtime`;
  const random = seededRandom(players);
  const t0 = performance.now();
  const bots: Array<{ client: GameClient; buttons: number; until: number }> = [];
  const acks: number[] = [];
  const disconnects = new Map<number, number>();
  let recording = false;
  for (let i = 0; i < players; i++) {
    const client = new GameClient(url, {
      name: `bot-${i}`,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      inputsPerMessage: 3,
      pingIntervalMs: 5000,
    });
    client.rt.on('disconnect', (info) => {
      if (disconnects.size === 0)
        console.error(
          `first disconnect: bot ${i} after ${Math.round(performance.now() - t0)} ms: ${info.code} ${info.reason}`,
        );
      disconnects.set(info.code, (disconnects.get(info.code) ?? 0) + 1);
    });
    client.onAck = (_seq, ms) => {
      if (recording) acks.push(ms);
    };
    bots.push({ client, buttons: 0, until: 0 });
    // A ramp, as players arrive: 200 a second.
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100));
  }
  const drive = setInterval(() => {
    const now = performance.now();
    for (const bot of bots) {
      if (now > bot.until) {
        bot.buttons = Math.floor(random() * 16);
        bot.until = now + 300 + random() * 1200;
      }
      bot.client.update(now, bot.buttons);
    }
  }, 10);
  const started = Date.now();
  while (bots.some((b) => b.client.latest === undefined)) {
    if (Date.now() - started > 60_000) {
      const states = new Map<string, number>();
      for (const b of bots) {
        const k = `${b.client.state}${b.client.latest ? '+snapshot' : ''}`;
        states.set(k, (states.get(k) ?? 0) + 1);
      }
      child.kill();
      throw new Error(
        `bots did not all get a snapshot within 60 s: ${JSON.stringify([...states])}, disconnects ${JSON.stringify([...disconnects])}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const corrections = bots.reduce((n, b) => n + b.client.stats.corrections, 0);
  recording = true;
  child.send('start');
  await new Promise((r) => setTimeout(r, seconds * 1000));
  child.send('stats');
  const stats = await next<ServerStats>();
  recording = false;
  loop.disable();
  clearInterval(drive);
  for (const b of bots) b.client.close();
  child.send('exit');
  await new Promise((r) => child.once('exit', r));
  return {
    players: stats.players,
    tickP50: pct(stats.durationMs, 50),
    tickP99: pct(stats.durationMs, 99),
    tickMax: Math.max(...stats.durationMs),
    cpuP50: pct(stats.cpuMs, 50),
    cpuP99: pct(stats.cpuMs, 99),
    serverCpu: stats.cpuSeconds / stats.seconds,
    lateP50: pct(stats.lateMs, 50),
    lateP99: pct(stats.lateMs, 99),
    skipped: stats.skipped,
    payloadPerClient: stats.snapshotBytes / stats.seconds / players,
    wirePerClient: stats.wireBytes / stats.seconds / players,
    ackP50: pct(acks, 50),
    ackP99: pct(acks, 99),
    corrections: bots.reduce((n, b) => n + b.client.stats.corrections, 0) - corrections,
    botLoopP99: loop.percentile(99) / 1e6,
  };
}

const loadBefore = os.loadavg()[0]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Result[] = [];
for (const n of counts) {
  const runs: Result[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    console.error(`game bench: ${n} players, ${seconds} s measured, run ${rep} of ${reps}…`);
    runs.push(await run(n));
  }
  // Each figure is the median of the runs (a busy neighbour disturbs one run, not three).
  const keys = Object.keys(runs[0]!) as Array<keyof Result>;
  results.push(Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])) as unknown as Result);
}
const f = (n: number, d = 1) => n.toFixed(d);
const kb = (n: number) => `${f(n / 1024, 2)} KiB`;
const rows = results.map(
  (r) =>
    `| ${r.players} | ${f(r.cpuP50, 2)} / ${f(r.cpuP99, 2)} | ${f(r.serverCpu * 100, 0)} % | ${f(r.tickP50, 2)} / ${f(r.tickP99, 2)} / ${f(r.tickMax, 1)} | ${f(r.lateP50, 2)} / ${f(r.lateP99, 2)} | ${r.skipped} | ${kb(r.payloadPerClient)} | ${kb(r.wirePerClient)} | ${f(r.ackP50)} / ${f(r.ackP99)} | ${r.corrections} | ${f(r.botLoopP99)} |`,
);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const table = [
  `Measured ${new Date().toISOString().slice(0, 16)}Z on ${os.cpus().length} × ${cpu}, Node.js ${process.version}, load average ${f(loadBefore, 1)} before and ${f(os.loadavg()[0]!, 1)} after the run (other work on the same cores: expect noise, compare rows of one run); server and bots in two processes on the same machine, over loopback. Arena ${arena.width} × ${arena.height} units, ${snapshotHz} snapshots per second, ${seconds} s measured after ${WARMUP_MS / 1000} s of warm-up; each figure is the median of ${reps} runs.`,
  '',
  '| players | tick CPU p50 / p99 (ms) | server CPU | tick time p50 / p99 / max (ms) | tick start late p50 / p99 (ms) | ticks skipped | snapshot payload per client per s | realtime bytes out per client per s | input → ack p50 / p99 (ms) | corrections | bots event-loop delay p99 (ms) |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows,
].join('\n');
console.log(table);
if (process.argv.includes('--write')) {
  const path = new URL('../../docs/performance.md', import.meta.url);
  writeFileSync(path, replaceGameSection(readFileSync(path, 'utf8'), table));
  console.error('game bench: docs/performance.md updated');
}
process.exit(0);
