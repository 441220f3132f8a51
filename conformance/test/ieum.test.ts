// Issue 2's acceptance check: the whole suite (sections 1-7, 9, 10) against `ieum echo` and
// `ieum echo-client`, run as a user runs them, must have no FAILED and no NON-STRICT case.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { selectCases } from '../src/registry.js';
import { runClientSuite, startServerSuite, summarize } from '../src/runner.js';

const root = new URL('../../', import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

function ieum(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'packages/cli/src/cli.ts', ...args],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

function check(results: Awaited<ReturnType<typeof runClientSuite>>): void {
  const { failed, lines, summary } = summarize(results);
  console.log(`# ${summary}`);
  assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
  const nonStrict = results.filter((r) => r.outcome === 'NON-STRICT').map((r) => r.id);
  assert.deepEqual(nonStrict, [], 'every UTF-8 failure must be fail-fast');
}

describe('Autobahn-equivalent conformance of ieum', () => {
  it('ieum echo passes sections 1-7, 9 and 10 (fuzzingclient mode)', { timeout: 600_000 }, async () => {
    const run = ieum(['echo', '--port', '0']);
    for (let i = 0; i < 400 && !/listening on ws:\/\/[\d.]+:\d+/.test(run.output()); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const port = /:(\d+)\s*$/m.exec(run.output())?.[1];
    assert.ok(port, `ieum echo did not start: ${run.output()}`);
    const results = await runClientSuite({ url: `ws://127.0.0.1:${port}`, cases: selectCases(undefined) });
    run.child.kill('SIGTERM');
    check(results);
  });

  it('ieum echo-client passes sections 1-7, 9 and 10 (fuzzingserver mode)', {
    timeout: 600_000,
  }, async () => {
    const suite = startServerSuite({ port: 0, cases: selectCases(undefined) });
    const port = await suite.listening;
    const run = ieum(['echo-client', `ws://127.0.0.1:${port}`, '--agent', 'ieum']);
    const results = await suite.results;
    assert.equal(await run.exited, 0, run.output());
    suite.close();
    check(results);
  });
});
