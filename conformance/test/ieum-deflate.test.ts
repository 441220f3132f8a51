// Issue 3's acceptance check: sections 12 and 13 (permessage-deflate) against `ieum echo --deflate`
// and `ieum echo-client --deflate`. Both modes run at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Case } from '../src/case-kinds.js';
import { allDeflateCases, selectCases } from '../src/registry.js';
import { runClientSuite } from '../src/runner.js';
import { assertConformant, ieumEcho, runEchoClient } from './ieum-cli.js';

// Every case of sections 12 and 13, with at most 200 messages each (Autobahn sends 1000; the CLI
// does too) so the suite stays a few minutes on a loaded 2-core machine.
// IEUM_DEFLATE_CONFORMANCE=subset (scripts/test-node-versions.mjs on its extra Node versions) keeps
// about a third: in every subsection cases 1, 5, 9, ... and the last (the largest messages), so
// each parameter set and the small and large message sizes still run.
const subset = process.env.IEUM_DEFLATE_CONFORMANCE === 'subset';
const deflateCases = () => {
  const cases = selectCases(undefined, undefined, () => allDeflateCases({ maxMessages: 200 }));
  return subset ? representative(cases) : cases;
};
const fullMinimum = 150;

function representative(cases: Case[]): Case[] {
  const subsection = (id: string) => id.slice(0, id.lastIndexOf('.'));
  const last = new Map<string, string>();
  for (const c of cases) last.set(subsection(c.id), c.id);
  return cases.filter(
    (c) => Number(c.id.slice(c.id.lastIndexOf('.') + 1)) % 4 === 1 || last.get(subsection(c.id)) === c.id,
  );
}

describe('Autobahn-equivalent conformance of ieum with permessage-deflate', { concurrency: true }, () => {
  it('ieum echo --deflate passes sections 12 and 13 (fuzzingclient mode)', {
    timeout: 900_000,
  }, async () => {
    const { run, url } = await ieumEcho(['--deflate']);
    const cases = deflateCases();
    const results = await runClientSuite({ url, cases });
    run.child.kill('SIGTERM');
    assert.equal(results.length, cases.length);
    if (subset)
      assert.ok(cases.length >= 50, `expected a subset of every subsection, got ${cases.length} cases`);
    else
      assert.ok(
        cases.length >= fullMinimum,
        `expected the full sections 12 and 13, got ${cases.length} cases`,
      );
    assertConformant(results);
  });

  it('ieum echo-client --deflate passes sections 12 and 13 (fuzzingserver mode)', {
    timeout: 900_000,
  }, async () => {
    assertConformant(await runEchoClient(deflateCases(), ['--deflate']));
  });
});
