// Runs `ieum echo` / `ieum echo-client` as a user runs them and checks a suite's results.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';
import { type Result, summarize } from '../src/runner.js';

const root = new URL('../../', import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

export interface IeumProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns the `ieum` CLI from source with `args`; killed when the test file ends. */
export function ieum(args: string[]): IeumProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'packages/cli/src/cli.ts', ...args],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

/** Starts `ieum echo --port 0 ...extra` and resolves with its process and URL once it listens. */
export async function ieumEcho(extra: string[] = []): Promise<{ run: IeumProcess; url: string }> {
  const run = ieum(['echo', '--port', '0', ...extra]);
  for (let i = 0; i < 400 && !/listening on ws:\/\/[\d.]+:\d+/.test(run.output()); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const port = /:(\d+)\s*$/m.exec(run.output())?.[1];
  assert.ok(port, `ieum echo did not start: ${run.output()}`);
  return { run, url: `ws://127.0.0.1:${port}` };
}

/** No FAILED case, and every UTF-8 failure fail-fast (no NON-STRICT). */
export function assertConformant(results: Result[]): void {
  const { failed, lines, summary } = summarize(results);
  console.log(`# ${summary}`);
  assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
  const nonStrict = results.filter((r) => r.outcome === 'NON-STRICT').map((r) => r.id);
  assert.deepEqual(nonStrict, [], 'every UTF-8 failure must be fail-fast');
}
