// Starts `ieum echo` as a user runs it and checks a suite's results.
import assert from 'node:assert/strict';
import { type IeumProcess, ieum } from '../../packages/cli/test/run-ieum.js';
import type { Case } from '../src/case-kinds.js';
import { type Result, startServerSuite, summarize } from '../src/runner.js';

export { type IeumProcess, ieum } from '../../packages/cli/test/run-ieum.js';

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

/**
 * fuzzingserver mode: serves `cases` and runs `ieum echo-client` (plus `extra`) against them, as a
 * user would; resolves with the results once the client has exited with 0.
 */
export async function runEchoClient(cases: Case[], extra: string[] = []): Promise<Result[]> {
  const suite = startServerSuite({ port: 0, cases });
  const port = await suite.listening;
  const run = ieum(['echo-client', `ws://127.0.0.1:${port}`, '--agent', 'ieum', ...extra]);
  const results = await suite.results;
  assert.equal(await run.exited, 0, run.output());
  suite.close();
  return results;
}

/** No FAILED case, and every UTF-8 failure fail-fast (no NON-STRICT). */
export function assertConformant(results: Result[]): void {
  const { failed, lines, summary } = summarize(results);
  console.log(`# ${summary}`);
  assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
  const nonStrict = results.filter((r) => r.outcome === 'NON-STRICT').map((r) => r.id);
  assert.deepEqual(nonStrict, [], 'every UTF-8 failure must be fail-fast');
}
