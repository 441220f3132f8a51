// Issue 3's acceptance check: sections 12 and 13 (permessage-deflate) against `ieum echo --deflate`
// and `ieum echo-client --deflate`. Both modes run at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allDeflateCases, selectCases } from '../src/registry.js';
import { runClientSuite } from '../src/runner.js';
import { assertConformant, ieumEcho, runEchoClient } from './ieum-cli.js';

// Every case of sections 12 and 13, with at most 200 messages each (Autobahn sends 1000; the CLI
// does too) so the suite stays a few minutes on a loaded 2-core machine.
const deflateCases = () => selectCases(undefined, undefined, () => allDeflateCases({ maxMessages: 200 }));

describe('Autobahn-equivalent conformance of ieum with permessage-deflate', { concurrency: true }, () => {
  it('ieum echo --deflate passes sections 12 and 13 (fuzzingclient mode)', {
    timeout: 900_000,
  }, async () => {
    const { run, url } = await ieumEcho(['--deflate']);
    const cases = deflateCases();
    const results = await runClientSuite({ url, cases });
    run.child.kill('SIGTERM');
    assert.equal(results.length, cases.length);
    assert.ok(cases.length >= 150, `expected the full sections 12 and 13, got ${cases.length} cases`);
    assertConformant(results);
  });

  it('ieum echo-client --deflate passes sections 12 and 13 (fuzzingserver mode)', {
    timeout: 900_000,
  }, async () => {
    assertConformant(await runEchoClient(deflateCases(), ['--deflate']));
  });
});
