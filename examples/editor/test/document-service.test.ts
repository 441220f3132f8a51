// The server's OT service and the client's OtClient on their own: late operations transformed,
// retries committed once, limits refused with clear codes, cursors placed in the local text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RealtimeError } from '@ieum/realtime/server';
import { insert, remove } from 'ot-text-unicode';
import { DocumentService } from '../src/document-service.js';
import { OtClient } from '../src/ot-client.js';
import type { CommittedOp } from '../src/protocol.js';

const service = (options: Partial<ConstructorParameters<typeof DocumentService>[0]> = {}) => {
  const published: CommittedOp[] = [];
  const s = new DocumentService({ publish: (_d, op) => void published.push(op), ...options });
  return { s, published };
};
const code = (c: string) => (e: unknown) => e instanceof RealtimeError && e.code === c;

describe('DocumentService', () => {
  it('transforms a late operation past what was committed since its base, and publishes in order', async () => {
    const { s, published } = service();
    await s.submit({ doc: 'd', base: 0, op: insert(0, 'hello'), src: 'a', seq: 1 });
    await s.submit({ doc: 'd', base: 1, op: insert(5, ' world'), src: 'a', seq: 2 });
    // b typed "!" after "hello" when it had only seen version 1; its selection went with it.
    const r = await s.submit({ doc: 'd', base: 1, op: insert(5, '!'), src: 'b', seq: 1, sel: [6, 6] });
    assert.deepEqual(r, { v: 3, duplicate: false });
    assert.deepEqual(await s.open('d'), { v: 3, text: 'hello! world' });
    assert.deepEqual(
      published.map((p) => p.v),
      [1, 2, 3],
    );
    assert.deepEqual(published[2]?.sel, [6, 6]);
  });

  it('commits a retried operation once and answers with its first version', async () => {
    const { s, published } = service();
    const req = { doc: 'd', base: 0, op: insert(0, 'x'), src: 'a', seq: 1 };
    assert.deepEqual(await s.submit(req), { v: 1, duplicate: false });
    assert.deepEqual(await s.submit(req), { v: 1, duplicate: true });
    assert.equal(published.length, 1);
    assert.equal((await s.open('d')).text, 'x');
    // Someone else cannot pose as that client to fake the commit of its next operation.
    await assert.rejects(s.submit({ ...req, seq: 2 }, 'mallory'), code('forbidden'));
  });

  it('refuses malformed operations, ones that do not fit, oversize documents, and too-old bases', async () => {
    const { s } = service({ keepOps: 2, maxDocumentChars: 10 });
    const sub = (op: unknown, base = 0, seq = 1) =>
      s.submit({ doc: 'd', base, op: op as never, src: 'a', seq });
    await assert.rejects(sub([true]), code('bad-op'));
    await assert.rejects(sub([{ d: 1, x: 1 }]), code('bad-op'));
    await assert.rejects(sub(['a\u0000b']), code('bad-op'));
    await assert.rejects(sub(['\uD800']), code('bad-op'));
    await assert.rejects(sub([3, 'x']), code('bad-op')); // skips past the end of ''
    await assert.rejects(sub(['01234567890']), code('document-too-large'));
    for (let i = 0; i < 4; i++) await sub(insert(0, 'x'), i, i + 1);
    await assert.rejects(sub(insert(0, 'y'), 1, 9), code('too-old'));
    await assert.rejects(sub(insert(0, 'y'), 7, 9), code('bad-request'));
    await assert.rejects(s.opsSince('d', 1), code('too-old'));
    assert.deepEqual(
      (await s.opsSince('d', 2)).map((c) => c.v),
      [3, 4],
    );
  });
});

describe('OtClient', () => {
  it('an own operation committed after a reset is applied like anyone else', () => {
    const c = new OtClient('me', { v: 0, text: '' });
    c.edit(insert(0, 'abc'));
    const out = c.next();
    assert.ok(out);
    assert.equal(c.reset({ v: 0, text: '' }), 'abc');
    c.receive({ v: 1, op: out.op, src: 'me', seq: out.seq });
    assert.equal(c.text, 'abc');
    assert.equal(c.pending, false);
  });

  it('retries the in-flight operation with its seq, transformed to the current version', () => {
    const c = new OtClient('me', { v: 0, text: 'ab' });
    c.edit(insert(2, '!'));
    const first = c.next();
    c.receive({ v: 1, op: insert(0, '>'), src: 'other', seq: 1 });
    assert.equal(c.text, '>ab!');
    assert.deepEqual(c.retry(), { base: 1, op: [3, '!'], seq: first?.seq });
  });

  it('places a remote cursor sent at an older version through later and pending operations', () => {
    const c = new OtClient('me', { v: 0, text: 'hello world' });
    c.receive({ v: 1, op: remove(0, 6), src: 'x', seq: 1 }); // "world"
    c.edit(insert(0, 'big '));
    // A selection of "rl" in "world", sent at version 0 ("hello wo|rl|d"): now in "big wo|rl|d".
    assert.deepEqual(c.toLocal([8, 10], 0), [6, 8]);
    assert.equal(c.toLocal([0, 0], 5), null); // ahead: not placeable yet
  });
});
