// Runs the `ieum` command from source as a user runs it: a real child process, killed when the
// test file ends. Shared by the CLI tests and the conformance tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';

const root = new URL('../../../', import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

export interface IeumProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function ieum(args: string[]): IeumProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=ieum-source', '--import', 'tsx', 'packages/cli/src/cli.ts', ...args],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}
