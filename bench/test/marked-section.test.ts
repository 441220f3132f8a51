// docs/performance.md keeps the realtime and recovery sections (written by their own runs) when
// `npm run bench` rewrites the rest, and a new realtime run replaces only its own section.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endMarker, keepMarkedSection, replaceMarkedSection, startMarker } from '../lib/marked-section.js';
import { keepRealtimeSection, replaceRealtimeSection } from '../lib/realtime-section.js';

const section = (name: string, body: string) =>
  [startMarker(name, 'a test'), `## ${name}`, body, endMarker(name)].join('\n');

describe('marked sections of docs/performance.md', { timeout: 60_000 }, () => {
  it('is appended once, then replaced in place without touching what follows', () => {
    const once = replaceMarkedSection('# Performance\n\nbody\n', 'realtime', section('realtime', 'v1'));
    assert.match(
      once,
      /^# Performance\n\nbody\n\n<!-- realtime:start \(written by a test\) -->\n## realtime\nv1\n/,
    );
    const twice = replaceMarkedSection(`${once}\n## After\n`, 'realtime', section('realtime', 'v2'));
    assert.equal(twice.match(/## realtime/g)?.length, 1);
    assert.match(twice, /\nv2\n/);
    assert.doesNotMatch(twice, /\nv1\n/);
    assert.match(twice, /<!-- realtime:end -->\n\n## After\n$/);
  });

  it('keeps the realtime and recovery sections across a rewrite of the rest', () => {
    let old = replaceRealtimeSection('# Performance\n\nold tables\n', section('realtime', 'fan-out'));
    old = replaceMarkedSection(old, 'recovery', section('recovery', 'catch-up'));
    const fresh = keepRealtimeSection(old, '# Performance\n\nnew tables\n');
    assert.match(fresh, /new tables/);
    assert.doesNotMatch(fresh, /old tables/);
    assert.match(fresh, /\nfan-out\n[\s\S]*\ncatch-up\n/);
    assert.equal(keepRealtimeSection(undefined, 'x'), 'x');
    assert.equal(keepMarkedSection('no section here', 'x', 'realtime'), 'x');
  });

  it('replaces the realtime section and leaves the recovery section alone', () => {
    let doc = replaceRealtimeSection('# P\n', section('realtime', 'old run'));
    doc = replaceMarkedSection(doc, 'recovery', section('recovery', 'catch-up'));
    doc = replaceRealtimeSection(doc, section('realtime', 'new run'));
    assert.doesNotMatch(doc, /old run/);
    assert.match(doc, /new run[\s\S]*catch-up/);
  });
});
