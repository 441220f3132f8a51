// A client's messages run one after another, so a slow hook holds every message behind it. The
// server must stop reading that client once `maxPendingInput` is waiting instead of keeping up to
// 64 whole messages (64 MiB at the default message size) per connection.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { client, opened, startServer } from '../helpers.js';

const MESSAGE = 200 * 1024;
const SENT = 40; // 8 MiB in all, fewer than the old bound of 64 messages

describe('received input waiting behind a slow hook', () => {
  it('is bounded by maxPendingInput.bytes: the socket is not read until it drains, then nothing is lost', {
    timeout: 20_000,
  }, async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { server, url } = await startServer({
      rateLimit: false,
      authorizeChannel: async ({ channel }) => {
        if (channel === 'held') await held;
        return true;
      },
    });
    const c = client(url);
    after(async () => {
      c.close();
      await server.close();
    });
    await opened(c);
    const bytesIn = async () => (await server.metrics?.bytesIn.get())?.values[0]?.value ?? 0;

    const subscribed = c.channel('held').subscribe();
    const text = 'x'.repeat(MESSAGE);
    const acks = Array.from({ length: SENT }, (_, i) => c.channel('other').publish('big', { i, text }));
    // The hook holds the subscribe; the publishes queue behind it. Wait until the server has
    // received past its bound, then give it time to (wrongly) read everything else.
    const bound = 1024 * 1024;
    while ((await bytesIn()) <= bound) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 500));
    const received = await bytesIn();
    assert.ok(
      received < bound + 2 * MESSAGE,
      `the server read ${received} bytes while blocked; maxPendingInput.bytes is ${bound}`,
    );

    release();
    await subscribed;
    const results = await Promise.all(acks);
    assert.equal(results.length, SENT);
    assert.ok((await bytesIn()) >= SENT * MESSAGE, 'every publish was read once the hook returned');
  });
});

describe('event handlers that do not return', () => {
  it('run at most maxPendingInput.handlers at once per connection; later events wait, none is lost', {
    timeout: 20_000,
  }, async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    const { server, url } = await startServer({ rateLimit: false });
    server.handle('hang', async () => {
      started++;
      await held;
      return 'done';
    });
    const c = client(url);
    after(async () => {
      c.close();
      await server.close();
    });
    await opened(c);
    const SENT = 200;
    const replies = Array.from({ length: SENT }, (_, i) => c.request('hang', { i, pad: 'p'.repeat(1024) }));
    while (started < 16) await new Promise((r) => setTimeout(r, 10));
    // Time for the server to (wrongly) start the rest.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(started, 16, `${started} handlers were running at once; the bound is 16`);
    release();
    assert.deepEqual(new Set(await Promise.all(replies)), new Set(['done']));
    assert.equal(started, SENT);
  });
});
