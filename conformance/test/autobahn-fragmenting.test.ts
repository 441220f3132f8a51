// Regression: the real Autobahn|Testsuite failed cases 9.3.1 and 9.4.1 (4 MiB in 64-byte
// fragments) against `ieum echo` and `ieum echo-client` with default limits. Its fragmenter
// ends with an empty final frame when the size divides evenly (65,536 frames + 1), one more
// than the old default maxFragments; this harness sent exactly 65,536 frames and hid it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fragmented } from '../src/cases-large.js';
import { OP } from '../src/frames.js';
import { selectCases } from '../src/registry.js';
import { runClientSuite } from '../src/runner.js';
import { assertConformant, ieumEcho, runEchoClient } from './ieum-cli.js';

const MiB = 1024 * 1024;
const CASES = '9.3.1,9.4.1';

describe('Autobahn fragmenting (cases 9.3.1 and 9.4.1)', () => {
  it('fragments as Autobahn does: an even split ends with an empty final frame', () => {
    const frames = fragmented(OP.TEXT, Buffer.alloc(4 * MiB), 64);
    assert.equal(frames.length, 65_537);
    assert.equal(frames.at(-1)!.payload?.length, 0);
    assert.equal(frames.at(-1)!.fin, true);
    assert.equal(frames.filter((f) => f.fin).length, 1);
    const uneven = fragmented(OP.BINARY, Buffer.alloc(100), 64);
    assert.deepEqual(
      uneven.map((f) => [f.opcode, f.payload?.length, f.fin]),
      [
        [OP.BINARY, 64, false],
        [OP.CONT, 36, true],
      ],
    );
    assert.equal(fragmented(OP.TEXT, Buffer.alloc(64), 64).length, 1);
  });

  it('ieum echo passes them with default limits', { timeout: 120_000 }, async () => {
    const { run, url } = await ieumEcho();
    try {
      assertConformant(await runClientSuite({ url, cases: selectCases(CASES) }));
    } finally {
      run.child.kill('SIGTERM');
    }
  });

  it('ieum echo-client passes them with default limits', { timeout: 120_000 }, async () => {
    assertConformant(await runEchoClient(selectCases(CASES)));
  });
});
