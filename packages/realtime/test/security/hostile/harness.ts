// The hostile-peers run's plumbing: child processes, RSS from /proc, the bystander client and
// the per-second timeline printed in the report.
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '@ieum/websocket';
import { RealtimeClient } from '../../../src/client/index.js';
import type { ServerSample } from './server-process.js';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));

/**
 * Runs `file` (TypeScript, next to this one) in a child process with an IPC channel, its V8 heap
 * capped at `heapMiB` when given. `output()` is the end of what it printed.
 */
export function startProcess(file: string, heapMiB?: number): { child: ChildProcess; output: () => string } {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    cwd: root,
    execArgv: [
      '--conditions=ieum-source',
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
  return { child, output: () => tail };
}

/** The first lines of a dead process's last words (V8's "FATAL ERROR: ... out of memory"). */
export function lastWords(output: string): string {
  const lines = output.split('\n');
  const fatal = lines.findIndex((l) => /FATAL|Error|error/.test(l));
  return (fatal === -1 ? lines.slice(-6) : lines.slice(fatal, fatal + 6)).join('\n');
}

/** VmRSS and VmHWM (its peak) of `pid`, in MiB, from /proc; undefined without /proc. */
export function procRss(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

export interface RoundTrip {
  /** `performance.now()` when it was sent. */
  sent: number;
  /** Milliseconds, or Infinity for a request that failed or timed out. */
  rtt: number;
}

/**
 * A well-behaved client: one `echo` request every `everyMs`, open loop (a frozen server shows
 * as many slow round trips, not one), each failing after `timeoutMs`.
 */
export function bystander(url: string, everyMs: number, timeoutMs: number) {
  const client = new RealtimeClient(url, {
    WebSocket,
    transports: ['websocket'],
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    requestTimeoutMs: timeoutMs,
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
      .request('echo', trips.length, { timeoutMs })
      .then(
        () => {
          trip.rtt = performance.now() - trip.sent;
        },
        () => {},
      )
      .finally(() => outstanding--);
  }, everyMs);
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

/** The round-trip times of `trips`, sorted (failures last, as Infinity). */
export const sortedRtts = (trips: RoundTrip[]) => trips.map((t) => t.rtt).sort((a, b) => a - b);

export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : Number.isNaN(n) ? 'n/a' : '∞');

/** One line per second of the run: the server's samples (maxima) and the bystander's p99. */
export function timeline(
  samples: ServerSample[],
  trips: RoundTrip[],
  start: { perf: number; date: number },
  seconds: number,
): string[] {
  const lines = [
    '   t    rss   heap    ext  buffered  conns/sockets  loop lag   cpu  bystander p99 (MiB, ms)',
  ];
  const col = (v: number | string, w: number) => String(v).padStart(w);
  for (let s = 0; s < seconds; s++) {
    const from = start.date + s * 1000;
    const inSecond = samples.filter((x) => x.at >= from && x.at < from + 1000);
    if (inSecond.length === 0) {
      lines.push(`${col(s, 3)}s  (no sample: the server's event loop was blocked, or it was gone)`);
      continue;
    }
    const max = (k: keyof ServerSample) => Math.max(...inSecond.map((x) => x[k] as number));
    const cpu = Math.round(inSecond.reduce((n, x) => n + x.cpuMs, 0) / 10);
    const p99 = percentile(
      sortedRtts(
        trips.filter((t) => t.sent >= start.perf + s * 1000 && t.sent < start.perf + (s + 1) * 1000),
      ),
      99,
    );
    lines.push(
      `${col(s, 3)}s ${col(max('rssMiB'), 6)} ${col(max('heapMiB'), 6)} ${col(max('externalMiB'), 6)} ` +
        `${col(max('bufferedMiB'), 9)} ${col(max('connections'), 7)}/${String(max('sockets')).padEnd(7)}` +
        `${col(max('loopDelayMaxMs'), 6)} ms ${col(cpu, 4)}%  ${ms(p99)}`,
    );
  }
  return lines;
}
