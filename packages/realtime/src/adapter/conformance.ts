// The behaviour every Adapter must show, as a test suite any adapter runs with its own factory:
// `adapterConformance('redis', () => new RedisAdapter(...))`. Uses node:test and node:assert.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Adapter, AdapterEvent } from './adapter.js';

export interface ConformanceOptions {
  /** History limits the factory's adapter was created with (the suite checks trimming by count). */
  maxMessages: number;
  /** Milliseconds for events to reach a subscriber (cross-process adapters need more). Default 1,000. */
  deliveryMs?: number;
}

const unique = (() => {
  let n = 0;
  return (base: string) => `${base}-${process.pid}-${Date.now().toString(36)}-${++n}`;
})();

async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Registers the adapter conformance tests. `create` returns a fresh adapter; `createPeer`, when
 * given, returns a second adapter sharing the same backend (another process's view), used to
 * check cross-process fan-out and presence.
 */
export function adapterConformance(
  name: string,
  create: () => Adapter | Promise<Adapter>,
  options: ConformanceOptions,
  createPeer?: () => Adapter | Promise<Adapter>,
): void {
  const delivery = options.deliveryMs ?? 1000;
  describe(`Adapter conformance: ${name}`, () => {
    it('assigns offsets 1, 2, 3... per channel under one epoch, and reports the position', async () => {
      const a = await create();
      try {
        const ch = unique('offsets');
        const empty = await a.position(ch);
        assert.equal(empty.offset, 0);
        const r1 = await a.publish(ch, { ev: 'e', d: 1 });
        const r2 = await a.publish(ch, { ev: 'e', d: 2 });
        assert.deepEqual([r1.offset, r2.offset], [1, 2]);
        assert.equal(r1.epoch, r2.epoch);
        assert.equal(r1.epoch, empty.epoch);
        assert.deepEqual(await a.position(ch), { epoch: r1.epoch, offset: 2 });
        const other = await a.publish(unique('offsets'), { ev: 'e', d: 1 });
        assert.equal(other.offset, 1, 'offsets are per channel');
      } finally {
        await a.close();
      }
    });

    it('deleteChannel (when implemented) forgets an idle channel: its history is gone, its epoch new', async () => {
      const a = await create();
      try {
        if (!a.deleteChannel) return;
        const ch = unique('deleted');
        const old = await a.publish(ch, { ev: 'e', d: 1 });
        await a.deleteChannel(ch);
        const h = await a.history(ch, { epoch: old.epoch, offset: 0 });
        assert.equal(h.ok, false, 'nothing to recover from');
        assert.notEqual(h.position.epoch, old.epoch);
        await a.deleteChannel(unique('never-used')); // nothing to delete: no error
      } finally {
        await a.close();
      }
    });

    it('returns the history after an offset, in order, and says why when it cannot', async () => {
      const a = await create();
      try {
        const ch = unique('history');
        for (let i = 1; i <= 5; i++) await a.publish(ch, { ev: 'e', d: i });
        const { epoch } = await a.position(ch);
        const h = await a.history(ch, { epoch, offset: 2 });
        assert.ok(h.ok);
        assert.deepEqual(
          h.entries.map((e) => [e.off, e.d]),
          [
            [3, 3],
            [4, 4],
            [5, 5],
          ],
        );
        assert.equal(h.position.offset, 5);
        const none = await a.history(ch, { epoch, offset: 5 });
        assert.ok(none.ok && none.entries.length === 0);
        const wrongEpoch = await a.history(ch, { epoch: `${epoch}x`, offset: 2 });
        assert.deepEqual([wrongEpoch.ok, !wrongEpoch.ok && wrongEpoch.reason], [false, 'epoch-changed']);
        const ahead = await a.history(ch, { epoch, offset: 9 });
        assert.deepEqual([ahead.ok, !ahead.ok && ahead.reason], [false, 'ahead']);
      } finally {
        await a.close();
      }
    });

    it('trims history to maxMessages and reports older positions as too old', async () => {
      const a = await create();
      try {
        const ch = unique('trim');
        const n = options.maxMessages + 3;
        for (let i = 1; i <= n; i++) await a.publish(ch, { ev: 'e', d: i });
        const { epoch } = await a.position(ch);
        const old = await a.history(ch, { epoch, offset: 1 });
        assert.deepEqual([old.ok, !old.ok && old.reason], [false, 'too-old']);
        const fromOldest = await a.history(ch, { epoch, offset: n - options.maxMessages });
        assert.ok(fromOldest.ok);
        assert.equal(fromOldest.entries.length, options.maxMessages);
        assert.equal(fromOldest.entries.at(-1)!.off, n);
      } finally {
        await a.close();
      }
    });

    it('publishes a message id once: a retry returns the first offset and is not delivered', async () => {
      const a = await create();
      try {
        const ch = unique('dedupe');
        const seen: AdapterEvent[] = [];
        await a.subscribe(ch, (e) => seen.push(e));
        const first = await a.publish(ch, { ev: 'e', d: 'x', mid: 'client-1:7' });
        const retry = await a.publish(ch, { ev: 'e', d: 'x', mid: 'client-1:7' });
        const other = await a.publish(ch, { ev: 'e', d: 'y', mid: 'client-1:8' });
        assert.deepEqual([first.duplicate, retry.duplicate, other.duplicate], [false, true, false]);
        assert.equal(retry.offset, first.offset);
        assert.equal(other.offset, first.offset + 1);
        await eventually(() => seen.length >= 2, delivery, 'two deliveries');
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(seen.filter((e) => e.type === 'message').length, 2);
      } finally {
        await a.close();
      }
    });

    it('delivers each message to subscribers with its epoch and offset, and stops after unsubscribe', async () => {
      const a = await create();
      const b = createPeer ? await createPeer() : a;
      try {
        const ch = unique('fanout');
        const got: number[] = [];
        const listener = (e: AdapterEvent) => {
          if (e.type === 'message') got.push(e.entry.off);
        };
        await b.subscribe(ch, listener);
        await a.publish(ch, { ev: 'e', d: 1, except: 'conn-1', key: 'k' });
        await a.publish(ch, { ev: 'e', d: 2 });
        await eventually(() => got.length === 2, delivery, 'deliveries');
        assert.deepEqual(got, [1, 2]);
        await b.unsubscribe(ch, listener);
        await a.publish(ch, { ev: 'e', d: 3 });
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(got, [1, 2]);
        const { epoch } = await a.position(ch);
        const h = await a.history(ch, { epoch, offset: 0 });
        assert.ok(h.ok);
        assert.deepEqual(
          [h.entries[0]!.except, h.entries[0]!.key],
          ['conn-1', 'k'],
          'except and key are kept',
        );
      } finally {
        if (b !== a) await b.close();
        await a.close();
      }
    });

    it('counts presence per user: join on the first connection, leave on the last', async () => {
      const a = await create();
      const b = createPeer ? await createPeer() : a;
      try {
        const ch = unique('presence');
        const events: string[] = [];
        await a.subscribe(ch, (e) => {
          if (e.type !== 'message') events.push(`${e.type} ${e.user}`);
        });
        assert.deepEqual(await a.presenceJoin(ch, 'alice', 'c1', { name: 'Alice' }), { changed: true });
        assert.deepEqual(await b.presenceJoin(ch, 'alice', 'c2'), { changed: false });
        assert.deepEqual(await b.presenceJoin(ch, 'bob', 'c3'), { changed: true });
        assert.deepEqual(
          (await b.presenceList(ch)).sort((x, y) => x.user.localeCompare(y.user)),
          [{ user: 'alice', info: { name: 'Alice' } }, { user: 'bob' }],
        );
        assert.deepEqual(await a.presenceLeave(ch, 'alice', 'c1'), { changed: false });
        assert.deepEqual(await b.presenceLeave(ch, 'alice', 'c2'), { changed: true });
        assert.deepEqual(
          await b.presenceLeave(ch, 'alice', 'c2'),
          { changed: false },
          'leaving twice is harmless',
        );
        await eventually(() => events.length === 3, delivery, 'presence events');
        assert.deepEqual(events, ['join alice', 'join bob', 'leave alice']);
        assert.deepEqual(await a.presenceList(ch), [{ user: 'bob' }]);
      } finally {
        if (b !== a) await b.close();
        await a.close();
      }
    });

    it('keeps a presence state per connection: latest value, listed, announced, dropped on leave', async () => {
      const a = await create();
      const b = createPeer ? await createPeer() : a;
      try {
        const ch = unique('presence-state');
        const updates: string[] = [];
        await a.subscribe(ch, (e) => {
          if (e.type === 'update') updates.push(`${e.user}/${e.connection} ${JSON.stringify(e.state)}`);
        });
        assert.equal(
          await a.presenceUpdate(ch, 'alice', 'c1', { x: 1 }),
          false,
          'a connection not present has no state',
        );
        await a.presenceJoin(ch, 'alice', 'c1', { name: 'Alice' });
        await b.presenceJoin(ch, 'alice', 'c2');
        assert.equal(await a.presenceUpdate(ch, 'alice', 'c1', { x: 1 }), true);
        assert.equal(await a.presenceUpdate(ch, 'alice', 'c1', { x: 2, bin: new Uint8Array([7]) }), true);
        assert.equal(await b.presenceUpdate(ch, 'alice', 'c2', [1, 'two']), true);
        assert.deepEqual(await b.presenceList(ch), [
          {
            user: 'alice',
            info: { name: 'Alice' },
            states: { c1: { x: 2, bin: new Uint8Array([7]) }, c2: [1, 'two'] },
          },
        ]);
        await a.presenceLeave(ch, 'alice', 'c1');
        assert.deepEqual(
          await b.presenceList(ch),
          [{ user: 'alice', info: { name: 'Alice' }, states: { c2: [1, 'two'] } }],
          'a connection that leaves takes its state with it',
        );
        await eventually(() => updates.length === 4, delivery, 'update events');
        assert.deepEqual(updates, [
          'alice/c1 {"x":1}',
          'alice/c1 {"x":2,"bin":{"0":7}}',
          'alice/c2 [1,"two"]',
          'alice/c1 undefined',
        ]);
        await b.presenceLeave(ch, 'alice', 'c2');
        await b.presenceJoin(ch, 'alice', 'c2');
        assert.deepEqual(
          await a.presenceList(ch),
          [{ user: 'alice' }],
          'a connection joining again starts without state',
        );
      } finally {
        if (b !== a) await b.close();
        await a.close();
      }
    });
  });
}
