// Builds and runs the C load generator (bench/gen/*.c → bench/.build/wsgen). See wsgen.c for
// what it does; this file only turns options into arguments and its JSON output into objects.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const buildDir = join(benchDir, '.build');

/** What the generator is asked to do; every field maps to one `wsgen --flag`. */
export interface GeneratorOptions {
  port: number;
  path?: string;
  /** ack: one request in flight per connection, timed until its reply (protocol rt or sio). */
  mode: 'echo' | 'fanout' | 'handshake' | 'hold' | 'ack';
  /**
   * rt: the @ieum/realtime protocol (JSON codec): each connection sends `hello`, subscribers (and
   * held connections) `sub` to channel "bench"; deliveries are checked by content.
   */
  protocol?: 'ws' | 'sio' | 'raw' | 'rt';
  /** echo/ack/hold: connections; fanout: subscribers; handshake: concurrent connect-upgrade-close loops. */
  connections: number;
  /** echo: messages in flight per connection (default 1). */
  inflight?: number;
  /** Payload bytes per message (Socket.IO: characters of the string argument). */
  size?: number;
  payload?: 'binary' | 'text' | 'json';
  deflate?: boolean;
  /** Measured seconds (hold: the longest hold). */
  duration: number;
  warmup?: number;
  setupTimeout?: number;
}

export interface LatencyUs {
  samples: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** The generator's JSON report (fields present depend on the mode). */
export interface GeneratorResult {
  mode: string;
  protocol: string;
  connections: number;
  size: number;
  setup_s: number;
  duration_s: number;
  /** The generator's own CPU use while measuring (1 = its core was busy all the time). */
  generator_cpu?: number;
  /** The generator's CPU time over its whole life (setup included), in seconds. */
  cpu_total_s?: number;
  messages?: number;
  verified?: number;
  messages_per_s?: number;
  bytes_per_s?: number;
  deliveries_per_s?: number;
  rounds?: number;
  handshakes_per_s?: number;
  stuck_closes?: number;
  latency_us?: LatencyUs;
}

/** The generator stopped with an error it explained (its JSON `error`). */
export class GeneratorError extends Error {
  override name = 'GeneratorError';
}

/** Compiles bench/gen/*.c with `cc -O2` into bench/.build/wsgen; returns the binary's path. */
export async function compileGenerator(): Promise<string> {
  mkdirSync(buildDir, { recursive: true });
  const genDir = join(benchDir, 'gen');
  const sources = readdirSync(genDir)
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(genDir, f));
  const output = join(buildDir, 'wsgen');
  await new Promise<void>((resolve, reject) => {
    execFile('cc', ['-O2', '-Wall', '-o', output, ...sources, '-lz'], (error, _stdout, stderr) => {
      if (error) reject(new Error(`compiling the load generator failed (cc -O2 ... -lz):\n${stderr}`));
      else resolve();
    });
  });
  return output;
}

export function generatorArgs(o: GeneratorOptions): string[] {
  const args = ['--port', String(o.port), '--mode', o.mode, '--connections', String(o.connections)];
  args.push('--duration', String(o.duration));
  if (o.path) args.push('--path', o.path);
  if (o.protocol) args.push('--protocol', o.protocol);
  if (o.inflight) args.push('--inflight', String(o.inflight));
  if (o.size !== undefined) args.push('--size', String(o.size));
  if (o.payload) args.push('--payload', o.payload);
  if (o.deflate) args.push('--deflate');
  if (o.warmup) args.push('--warmup', String(o.warmup));
  if (o.setupTimeout) args.push('--setup-timeout', String(o.setupTimeout));
  return args;
}

/** How to start a process: `prefix` (e.g. `taskset -c 0`) goes before the binary. */
export interface Launch {
  prefix?: string[];
}

function launch(bin: string, args: string[], how: Launch): ChildProcess {
  const prefix = how.prefix ?? [];
  const [command, ...rest] = [...prefix, bin, ...args] as [string, ...string[]];
  return spawn(command, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
}

function parseReport(stdout: string, stderr: string, code: number | null): GeneratorResult {
  const lines = stdout.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new GeneratorError(
      `the generator exited with ${code} and no report: ${stderr.trim() || stdout.trim()}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null) throw new GeneratorError(`unexpected report: ${last}`);
  const report = parsed as GeneratorResult & { error?: string };
  if (report.error) throw new GeneratorError(report.error);
  return report;
}

/** Runs the generator to completion. Rejects with GeneratorError when it reports an error. */
export function runGenerator(bin: string, o: GeneratorOptions, how: Launch = {}): Promise<GeneratorResult> {
  return new Promise((resolve, reject) => {
    const child = launch(bin, generatorArgs(o), how);
    child.stdin!.end();
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(parseReport(stdout, stderr, code));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Connections held open by the generator (hold mode) until `release()`. */
export interface HeldConnections {
  count: number;
  release(): Promise<GeneratorResult>;
}

/** Opens `o.connections` idle connections and resolves once all are upgraded. */
export function holdConnections(
  bin: string,
  o: GeneratorOptions,
  how: Launch = {},
): Promise<HeldConnections> {
  return new Promise((resolve, reject) => {
    const child = launch(bin, generatorArgs({ ...o, mode: 'hold' }), how);
    let stdout = '';
    let stderr = '';
    let ready = false;
    const closed = new Promise<GeneratorResult>((done, fail) => {
      child.on('close', (code) => {
        try {
          done(parseReport(stdout, stderr, code));
        } catch (error) {
          fail(error);
        }
      });
    });
    closed.catch((error: unknown) => {
      if (!ready) reject(error);
    });
    child.on('error', reject);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      const match = /^ready (\d+)$/m.exec(stdout);
      if (match && !ready) {
        ready = true;
        resolve({
          count: Number(match[1]),
          release: () => {
            child.stdin!.end();
            return closed;
          },
        });
      }
    });
  });
}
