// Runs the `ieum` command from source as a user runs it: a real child process, killed when the
// test file ends. Shared by the CLI tests and the conformance tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';

export const root = new URL('../../../', import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

export interface IeumProcess {
  child: ChildProcess;
  /** stdout and stderr, interleaved as they arrived. */
  output: () => string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once `pattern` appears in the output (rejects after `ms`, or if the process exits first). */
  waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpMatchArray>;
}

export interface IeumOptions {
  /** Written to stdin, which is then closed; `'pipe'` leaves stdin open (write to `child.stdin`). Default: no stdin. */
  input?: string | 'pipe';
  env?: Record<string, string>;
}

/** The command line that runs the CLI from source (for tmux and the tests' own children). */
export const ieumCommand = [
  process.execPath,
  '--conditions=ieum-source',
  '--import',
  'tsx',
  'packages/cli/src/cli.ts',
];

export function ieum(args: string[], options: IeumOptions = {}): IeumProcess {
  const [node, ...rest] = ieumCommand;
  const child = spawn(node!, [...rest, ...args], {
    cwd: root,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  children.push(child);
  let out = '';
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const changed = (): void => {
    for (const w of waiters) w();
  };
  child.stdout!.on('data', (d) => {
    out += d;
    stdout += d;
    changed();
  });
  child.stderr!.on('data', (d) => {
    out += d;
    stderr += d;
    changed();
  });
  if (typeof options.input === 'string' && options.input !== 'pipe') child.stdin!.end(options.input);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
      changed();
    }),
  );
  const waitFor = (pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(out);
        if (m) done(() => resolve(m));
        else if (exitCode !== undefined)
          done(() => reject(new Error(`ieum exited (${exitCode}) before printing ${pattern}:\n${out}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${pattern}:\n${out}`))),
        ms,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  return { child, output: () => out, stdout: () => stdout, stderr: () => stderr, exited, waitFor };
}
