// Issue 2's acceptance check: the whole suite (sections 1-7, 9, 10) against `ieum echo` and
// `ieum echo-client`, run as a user runs them, must have no FAILED and no NON-STRICT case.
import { describe, it } from 'node:test';
import { selectCases } from '../src/registry.js';
import { runClientSuite } from '../src/runner.js';
import { assertConformant, ieumEcho, runEchoClient } from './ieum-cli.js';

describe('Autobahn-equivalent conformance of ieum', () => {
  it('ieum echo passes sections 1-7, 9 and 10 (fuzzingclient mode)', { timeout: 600_000 }, async () => {
    const { run, url } = await ieumEcho();
    const results = await runClientSuite({ url, cases: selectCases(undefined) });
    run.child.kill('SIGTERM');
    assertConformant(results);
  });

  it('ieum echo-client passes sections 1-7, 9 and 10 (fuzzingserver mode)', {
    timeout: 600_000,
  }, async () => {
    assertConformant(await runEchoClient(selectCases(undefined)));
  });
});
