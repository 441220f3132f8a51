// Starts `ieum echo` as a user runs it and checks a suite's results.
import assert from 'node:assert/strict';
import { type IeumProcess, ieum } from '../../packages/cli/test/run-ieum.js';
import { type Result, summarize } from '../src/runner.js';

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

/** No FAILED case, and every UTF-8 failure fail-fast (no NON-STRICT). */
export function assertConformant(results: Result[]): void {
  const { failed, lines, summary } = summarize(results);
  console.log(`# ${summary}`);
  assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
  const nonStrict = results.filter((r) => r.outcome === 'NON-STRICT').map((r) => r.id);
  assert.deepEqual(nonStrict, [], 'every UTF-8 failure must be fail-fast');
}
