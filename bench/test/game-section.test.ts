// docs/performance.md keeps the game bench's section when `npm run bench` rewrites the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keepGameSection, replaceGameSection } from '../lib/game-section.js';

describe('game section of docs/performance.md', { timeout: 60_000 }, () => {
  it('is appended once, then replaced in place', () => {
    const once = replaceGameSection('# Performance\n\nbody\n', '| 100 | a |');
    assert.match(once, /^# Performance\n\nbody\n\n<!-- game:start[^\n]*-->\n## Game\n/);
    const twice = replaceGameSection(`${once}\n## After\n`, '| 500 | b |');
    assert.equal(twice.match(/## Game/g)?.length, 1);
    assert.match(twice, /\| 500 \| b \|/);
    assert.doesNotMatch(twice, /\| 100 \| a \|/);
    assert.match(twice, /<!-- game:end -->\n\n## After\n$/);
  });

  it('survives a rewrite of the rest of the document', () => {
    const old = replaceGameSection('# Performance\n\nold tables\n', '| 100 | a |');
    const fresh = keepGameSection(old, '# Performance\n\nnew tables\n');
    assert.match(fresh, /new tables/);
    assert.doesNotMatch(fresh, /old tables/);
    assert.match(fresh, /\| 100 \| a \|/);
    assert.equal(keepGameSection(undefined, 'x'), 'x');
    assert.equal(keepGameSection('no section here', 'x'), 'x');
  });
});
