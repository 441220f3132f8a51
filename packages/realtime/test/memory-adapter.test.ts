import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adapterConformance } from '../src/adapter/conformance.js';
import { MemoryAdapter } from '../src/server/index.js';

adapterConformance('MemoryAdapter', () => new MemoryAdapter({ history: { maxMessages: 10 } }), {
  maxMessages: 10,
});

describe('MemoryAdapter limits', () => {
  it('forgets history older than maxAgeMs (recovery then reports too-old)', async () => {
    let now = 1_000_000;
    const a = new MemoryAdapter({ history: { maxAgeMs: 1000 }, now: () => now });
    await a.publish('c', { ev: 'e', d: 1 });
    const { epoch } = await a.position('c');
    now += 500;
    await a.publish('c', { ev: 'e', d: 2 });
    now += 600;
    const h = await a.history('c', { epoch, offset: 0 });
    assert.deepEqual([h.ok, !h.ok && h.reason], [false, 'too-old']);
    const h1 = await a.history('c', { epoch, offset: 1 });
    assert.ok(h1.ok && h1.entries.length === 1);
  });

  it('remembers at most maxIds message ids, and none longer than maxAgeMs', async () => {
    let now = 0;
    const a = new MemoryAdapter({ dedupe: { maxIds: 2, maxAgeMs: 1000 }, now: () => now });
    await a.publish('c', { ev: 'e', d: 1, mid: 'm1' });
    await a.publish('c', { ev: 'e', d: 2, mid: 'm2' });
    await a.publish('c', { ev: 'e', d: 3, mid: 'm3' });
    assert.equal((await a.publish('c', { ev: 'e', d: 1, mid: 'm1' })).duplicate, false, 'm1 was evicted');
    assert.equal((await a.publish('c', { ev: 'e', d: 3, mid: 'm3' })).duplicate, true);
    now += 2000;
    assert.equal((await a.publish('c', { ev: 'e', d: 3, mid: 'm3' })).duplicate, false, 'm3 aged out');
  });

  it('rejects invalid limits with a clear error', () => {
    assert.throws(
      () => new MemoryAdapter({ history: { maxMessages: 0 } }),
      /maxMessages must be a positive integer/,
    );
  });
});
