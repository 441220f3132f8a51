// Hostile peers (issue 13, "Done when"): the attacks of items 2, 3, 8, 9, 11 and 12 run at once
// against one RealtimeServer, while a bystander measures its round-trip time. The server must
// stay up, its RSS under RSS_BOUND_MIB, and the bystander's p99 under P99_BOUND_MS.
//
// Three processes: the server (bounded heap, so a crash or OOM is reported rather than taking the
// runner down; RSS read from /proc), the attackers (attack/*.ts, one module per item), and this
// one, which only runs the bystander and the sampler. Knobs, for reproducing and bisecting:
//   HOSTILE_SEED=<n>            replay a run (the seed is printed)
//   HOSTILE_DURATION_MS=<ms>    attack window (default 20,000)
//   HOSTILE_ATTACKS=a,b         run only these attacks (names in the report)
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '@ieum/websocket';
import { RealtimeClient, type WebSocketConstructor } from '../../src/client/index.js';
import type { AttackerConfig, AttackerMessage } from './hostile/attacker-process.js';
import { attacks } from './hostile/attacks/index.js';
import type { ServerMessage, ServerSample } from './hostile/server-process.js';

/** The documented bound (docs/security.md): the server's resident set, in MiB, under the attack. */
const RSS_BOUND_MIB = 512;
/** The bystander's 99th-percentile round trip under the attack, in milliseconds. */
const P99_BOUND_MS = 250;
/** V8 heap of the server process: above the RSS bound, so the bound is what reports first. */
const SERVER_HEAP_MIB = 1024;
/** Resident set at which the server is killed, to protect the machine (counts as a crash). */
const KILL_RSS_MIB = 2048;
/** One bystander request every this many milliseconds, whether or not earlier ones came back. */
const BYSTANDER_EVERY_MS = 25;
const BYSTANDER_TIMEOUT_MS = 5000;
const BASELINE_MS = 1500;
const AFTER_MS = 2000;

const durationMs = Number(process.env.HOSTILE_DURATION_MS ?? 20_000);
const seed = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 32));
const only = process.env.HOSTILE_ATTACKS?.split(',').map((s) => s.trim()) ?? attacks.map((a) => a.name);
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function start(file: string, heapMiB?: number): { child: ChildProcess; stderr: () => string } {
  const child = fork(here(file), [], {
    cwd: root,
    execArgv: [
      '--conditions=development',
      '--import',
      'tsx',
      ...(heapMiB ? [`--max-old-space-size=${heapMiB}`] : []),
    ],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let tail = '';
  const keep = (c: Buffer) => {
    tail = (tail + c.toString()).slice(-16_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, stderr: () => tail };
}

/** VmRSS and VmHWM (peak) of `pid` in MiB, from /proc; undefined where there is no /proc. */
function procRss(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : Number.isNaN(n) ? 'n/a' : '∞');

interface RoundTrip {
  /** `performance.now()` when it was sent. */
  sent: number;
  /** Milliseconds, or Infinity for a request that failed or timed out. */
  rtt: number;
}

/** A well-behaved client: one `echo` request every BYSTANDER_EVERY_MS, open loop. */
function bystander(url: string) {
  const client = new RealtimeClient(url, {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    transports: ['websocket'],
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    requestTimeoutMs: BYSTANDER_TIMEOUT_MS,
  });
  const trips: RoundTrip[] = [];
  const disconnects: number[] = [];
  client.on('disconnect', ({ code }: { code: number }) => disconnects.push(code));
  let outstanding = 0;
  const timer = setInterval(() => {
    if (outstanding >= 400) return;
    const trip: RoundTrip = { sent: performance.now(), rtt: Number.POSITIVE_INFINITY };
    trips.push(trip);
    outstanding++;
    client
      .request('echo', trips.length, { timeoutMs: BYSTANDER_TIMEOUT_MS })
      .then(
        () => {
          trip.rtt = performance.now() - trip.sent;
        },
        () => {},
      )
      .finally(() => outstanding--);
  }, BYSTANDER_EVERY_MS);
  return {
    client,
    trips,
    disconnects,
    stop() {
      clearInterval(timer);
      client.close();
    },
  };
}

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

describe('hostile peers', () => {
  it('a mixed attack (items 2, 3, 8, 9, 11, 12) neither crashes the server, nor grows it past its RSS bound, nor starves a bystander', {
    timeout: durationMs + 90_000,
  }, async () => {
    console.log(`hostile peers: seed ${seed} (HOSTILE_SEED=${seed} replays it), attacks ${only.join(', ')}`);
    const server = start('./hostile/server-process.ts', SERVER_HEAP_MIB);
    const samples: ServerSample[] = [];
    let final: Extract<ServerMessage, { type: 'final' }> | undefined;
    const listening = new Promise<{ port: number; pid: number }>((resolve, reject) => {
      server.child.on('message', (m: ServerMessage) => {
        if (m.type === 'listening') resolve(m);
        else if (m.type === 'sample') samples.push(m);
        else if (m.type === 'final') final = m;
      });
      server.child.once('exit', () => reject(new Error(`server did not start:\n${server.stderr()}`)));
    });
    let exited: { code: number | null; signal: string | null; at: number } | undefined;
    server.child.on('exit', (code, signal) => {
      exited = { code, signal, at: performance.now() };
    });
    const { port, pid } = await listening;

    // RSS from outside the server: it keeps counting while the server's event loop is frozen.
    let rssMax = 0;
    let killed = false;
    const rssTimer = setInterval(() => {
      const r = procRss(pid);
      if (!r || exited) return;
      rssMax = Math.max(rssMax, r.rss, r.peak);
      if (r.rss > KILL_RSS_MIB && !killed) {
        killed = true;
        server.child.kill('SIGKILL');
      }
    }, 100);

    const by = bystander(`ws://127.0.0.1:${port}/realtime`);
    const t0 = performance.now();
    const t0Date = Date.now();
    await sleep(BASELINE_MS);

    const attacker = start('./hostile/attacker-process.ts');
    attacker.child.on('error', () => {});
    const config: AttackerConfig = { port, path: '/realtime', seed, durationMs, only };
    let attackStart = performance.now();
    let attackEnd = Number.POSITIVE_INFINITY;
    const report = await new Promise<Extract<AttackerMessage, { type: 'report' }> | undefined>((resolve) => {
      const watchdog = setTimeout(() => {
        attacker.child.kill('SIGKILL');
        resolve(undefined);
      }, durationMs + 45_000);
      attacker.child.on('message', (m: AttackerMessage) => {
        if (m.type === 'started') attackStart = performance.now();
        else {
          clearTimeout(watchdog);
          resolve(m);
        }
      });
      attacker.child.once('exit', () => {
        clearTimeout(watchdog);
        resolve(undefined);
      });
      server.child.once('exit', () => attacker.child.connected && attacker.child.send({ type: 'stop' }));
      attacker.child.send(config);
    });
    attackEnd = Math.min(performance.now(), attackStart + durationMs);
    if (attacker.child.exitCode === null) attacker.child.kill();

    await sleep(AFTER_MS);
    let responsive = false;
    if (!exited) {
      responsive = await by.client.request('echo', 'after', { timeoutMs: 5000 }).then(
        () => true,
        () => false,
      );
    }
    by.stop();
    clearInterval(rssTimer);
    // What happened during the run; our own shutdown below is not a crash.
    const died = exited;
    if (!died) {
      server.child.send({ type: 'final' });
      await Promise.race([
        sleep(3000),
        new Promise<void>((r) => server.child.on('message', () => final && r())),
      ]);
      server.child.send({ type: 'close' });
      await Promise.race([new Promise((r) => server.child.once('exit', r)), sleep(5000)]);
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }

    // ---- the report --------------------------------------------------------------------------
    const during = by.trips.filter((t) => t.sent >= attackStart && t.sent < attackEnd);
    const before = by.trips.filter((t) => t.sent < attackStart);
    const sorted = (list: RoundTrip[]) => list.map((t) => t.rtt).sort((a, b) => a - b);
    const d = sorted(during);
    const b = sorted(before);
    const p99 = percentile(d, 99);
    const failed = during.filter((t) => !Number.isFinite(t.rtt)).length;
    const lines = [
      `hostile peers, seed ${seed}, ${Math.round(attackEnd - attackStart)} ms of attack`,
      `bystander: baseline p50 ${ms(percentile(b, 50))} p99 ${ms(percentile(b, 99))} (${b.length} round trips); ` +
        `under attack p50 ${ms(percentile(d, 50))} p99 ${ms(p99)} max ${ms(d.at(-1) ?? Number.NaN)} ` +
        `(${d.length} round trips, ${failed} failed); disconnects [${by.disconnects.join(', ')}]`,
      `server: RSS max ${Math.round(rssMax)} MiB (bound ${RSS_BOUND_MIB}), ` +
        (died
          ? `EXITED at +${Math.round((died.at - attackStart) / 1000)} s (code ${died.code}, signal ${died.signal}${killed ? `, killed above ${KILL_RSS_MIB} MiB` : ''})`
          : `up, ${responsive ? 'responsive' : 'NOT responsive'} after the attack`) +
        (final
          ? `; disconnects by code ${JSON.stringify(final.disconnects)}; ${final.errors} errors reported`
          : ''),
      'per second: t  rss  heap  ext  buffered(MiB)  conns/sockets  loop-delay-max  cpu  bystander-p99',
    ];
    for (let s = 0; s * 1000 < durationMs + BASELINE_MS + AFTER_MS; s++) {
      const from = t0Date + s * 1000;
      const inSecond = samples.filter((x) => x.at >= from && x.at < from + 1000);
      if (inSecond.length === 0) {
        lines.push(`  ${String(s).padStart(2)}s  (no sample: server loop blocked or gone)`);
        continue;
      }
      const max = (k: keyof ServerSample) => Math.max(...inSecond.map((x) => x[k] as number));
      const trips = sorted(by.trips.filter((t) => t.sent >= t0 + s * 1000 && t.sent < t0 + (s + 1) * 1000));
      lines.push(
        `  ${String(s).padStart(2)}s ${String(max('rssMiB')).padStart(6)} ${String(max('heapMiB')).padStart(6)} ` +
          `${String(max('externalMiB')).padStart(6)} ${String(max('bufferedMiB')).padStart(7)} ` +
          `${String(max('connections')).padStart(5)}/${String(max('sockets')).padEnd(4)} ` +
          `${String(max('loopDelayMaxMs')).padStart(6)} ms ` +
          `${String(Math.round(inSecond.reduce((n, x) => n + x.cpuMs, 0) / 10)).padStart(4)}% ` +
          `${ms(percentile(trips, 99))}`,
      );
    }
    for (const r of report?.results ?? []) {
      lines.push(`attack ${r.name} (item ${r.item}): ${r.what}`);
      lines.push(`  ${JSON.stringify(r.report)}`);
    }
    if (!report) lines.push('attackers: no report (the attacker process died or hung)');
    if (died) {
      // The first lines of what the server printed last (V8's "FATAL ERROR: ... heap out of memory").
      const out = server.stderr().split('\n');
      const fatal = out.findIndex((l) => /FATAL|Error|error/.test(l));
      lines.push(
        `server output:\n${out.slice(fatal === -1 ? -6 : fatal, fatal === -1 ? undefined : fatal + 6).join('\n')}`,
      );
    }
    if (final?.lastErrors.length) lines.push(`server errors: ${final.lastErrors.join(' | ')}`);
    console.log(lines.join('\n'));

    const broken: string[] = [];
    if (died || !responsive) {
      broken.push(
        died
          ? `the server process died (code ${died.code}, signal ${died.signal}${killed ? `, RSS above ${KILL_RSS_MIB} MiB` : ''})`
          : 'the server stopped answering the bystander after the attack',
      );
    }
    if (rssMax >= RSS_BOUND_MIB)
      broken.push(`RSS reached ${Math.round(rssMax)} MiB (bound ${RSS_BOUND_MIB} MiB)`);
    if (!(p99 < P99_BOUND_MS)) {
      broken.push(
        `bystander p99 ${ms(p99)} (bound ${P99_BOUND_MS} ms; ${failed} of ${d.length} round trips failed)`,
      );
    }
    assert.ok(
      broken.length === 0,
      `hostile peers broke ${broken.length} bound(s) [seed ${seed}, attacks ${only.join(',')}]:\n  - ${broken.join('\n  - ')}`,
    );
  });
});
