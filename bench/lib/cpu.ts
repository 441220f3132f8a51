// CPU accounting on a shared machine: how much CPU went to processes other than the benchmark's
// own (servers, generator, runner) while a cell was measured, read from /proc (Linux).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** USER_HZ: /proc reports CPU time in these ticks per second. */
export const CLOCK_TICKS = 100;

/**
 * user + system ticks of a process, its threads and its live child processes (a server of
 * several processes, e.g. a cluster); 0 once it is gone.
 */
export function processTicks(pid: number, depth = 0): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let ticks = Number(fields[11]) + Number(fields[12]);
    if (depth < 2) {
      for (const child of childPids(pid)) ticks += processTicks(child, depth + 1);
    }
    return ticks;
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(' ').map(Number) : [];
  } catch {
    return [];
  }
}

export interface MachineSample {
  /** user + nice + system ticks over all CPUs (interrupt time is left out: loopback traffic is ours). */
  busy: number;
  total: number;
  /** Ticks of the given processes. */
  ours: number;
  /** This process's own CPU, in ticks. */
  runner: number;
}

export function sampleMachine(pids: readonly number[]): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const usage = process.cpuUsage();
  return {
    busy: user + nice + system,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    ours: pids.reduce((t, p) => t + processTicks(p), 0),
    runner: ((usage.user + usage.system) / 1e6) * CLOCK_TICKS,
  };
}

/**
 * CPU used by other processes between two samples, in cores (0..number of CPUs). `extraTicks`:
 * ours that the samples could not see (a generator that has exited).
 */
export function foreignCores(a: MachineSample, b: MachineSample, extraTicks = 0): number {
  const window = (b.total - a.total) / os.cpus().length;
  if (window <= 0) return 0;
  const foreign = b.busy - a.busy - (b.ours - a.ours) - (b.runner - a.runner) - extraTicks;
  return Math.max(0, foreign) / window;
}

/**
 * Waits until the servers are idle (e.g. done with 10,000 disconnects; at most 10 s) and, while
 * `quietBudget.ms` lasts, until other processes use under `maxForeign` cores.
 */
export async function waitQuiet(
  pids: readonly number[],
  quietBudget: { ms: number },
  intervalMs: number,
  maxForeign: number,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  let before = sampleMachine(pids);
  while (Date.now() < deadline) {
    const started = Date.now();
    await sleep(intervalMs);
    const now = sampleMachine(pids);
    const serversIdle = now.ours - before.ours <= 1;
    const quiet = foreignCores(before, now) <= maxForeign;
    if (serversIdle && !quiet) quietBudget.ms -= Date.now() - started;
    if (serversIdle && (quiet || quietBudget.ms <= 0)) return;
    before = now;
  }
}
