import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { type ChannelEntry, ErrorCodes, MemoryAdapter, type RealtimeServer } from '../src/server/index.js';
import { client, startServer, until } from './helpers.js';

/** Bytes of the payloads `adapter` holds for `channels` (what its history would replay). */
async function storedPayloadBytes(adapter: MemoryAdapter, channels: string[]) {
  let bytes = 0;
  let messages = 0;
  for (const ch of channels) {
    // From the newest offset back, as far as history still reaches: everything it holds.
    const { epoch, offset } = await adapter.position(ch);
    let entries: ChannelEntry[] = [];
    for (let since = offset - 1; since >= 0; since--) {
      const h = await adapter.history(ch, { epoch, offset: since });
      if (!h.ok) break;
      entries = h.entries;
    }
    messages += entries.length;
    for (const e of entries) bytes += JSON.stringify(e.d).length;
  }
  return { bytes, messages };
}

/** Subscribes with a raw client from `since` and returns the reply's recovery verdict. */
async function recoverFrom(url: string, ch: string, since: { ep: string; off: number }) {
  const ws = new WebSocket(url, 'ieum.v1.json');
  const got: Array<Record<string, unknown>> = [];
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'recover' }));
  ws.send(JSON.stringify({ t: 'sub', id: 1, ch, since }));
  const res = await until(() => got.find((m) => m.t === 'res'), 5000, 'sub reply');
  ws.close();
  return res.d as { recovered?: boolean; reason?: string };
}

describe('channel history is bounded by bytes', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('per channel: the oldest messages are dropped past maxBytesPerChannel, and recovering from before them is a reset', async () => {
    const adapter = new MemoryAdapter({ history: { maxBytesPerChannel: 64 * 1024 } });
    const { server, url } = await startServer({ adapter });
    servers.push(server);
    const c = client(url);
    let first: { epoch: string } | undefined;
    for (let i = 0; i < 20; i++) {
      const ack = await c.channel('big').publish('e', 'x'.repeat(16 * 1024));
      first ??= ack;
    }
    const { bytes, messages } = await storedPayloadBytes(adapter, ['big']);
    assert.ok(bytes <= 64 * 1024, `at most 64 KiB kept (${bytes})`);
    assert.ok(messages >= 2, `the newest are kept (${messages})`);
    assert.deepEqual(await recoverFrom(url, 'big', { ep: first!.epoch, off: 0 }), {
      ep: first!.epoch,
      off: 20,
      recovered: false,
      reason: 'too-old',
    });
    c.close();
  });

  it('in total: one client publishing large messages to 8 channels leaves at most maxBytesTotal stored, the newest', async () => {
    const adapter = new MemoryAdapter({
      history: { maxBytesPerChannel: 512 * 1024, maxBytesTotal: 1024 * 1024 },
    });
    const { server, url } = await startServer({ adapter });
    servers.push(server);
    const c = client(url);
    const channels = Array.from({ length: 8 }, (_, i) => `flood-${i}`);
    const payload = 'y'.repeat(64 * 1024);
    // 8 MiB published: 8 times the total bound, and 2 times each channel's.
    for (let i = 0; i < 128; i++) await c.channel(channels[i % 8]!).publish('e', payload);
    const { bytes, messages } = await storedPayloadBytes(adapter, channels);
    assert.ok(bytes <= 1024 * 1024, `at most 1 MiB kept over all channels (${bytes})`);
    assert.ok(messages >= 8, `the newest are kept (${messages})`);
    // The newest message of every channel survived; the process-wide oldest went first.
    for (const ch of channels) {
      const h = await adapter.history(ch, { epoch: (await adapter.position(ch)).epoch, offset: 15 });
      assert.ok(h.ok && h.entries.length === 1, `${ch} keeps its newest message`);
    }
    c.close();
  });

  it('by default one channel keeps at most 4 MiB', async () => {
    const a = new MemoryAdapter();
    const mib = 'z'.repeat(1024 * 1024);
    for (let i = 0; i < 6; i++) await a.publish('one', { ev: 'e', d: mib });
    const { bytes, messages } = await storedPayloadBytes(a, ['one']);
    assert.ok(bytes <= 4 * 1024 * 1024 && messages === 3, `${messages} messages, ${bytes} bytes`);
    await a.close();
  });
});

describe('channel counts are bounded', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('a connection may hold at most maxSubscriptionsPerConnection subscriptions (too-many-subscriptions)', async () => {
    const { server, url } = await startServer({ maxSubscriptionsPerConnection: 3 });
    servers.push(server);
    const c = client(url);
    for (const ch of ['a', 'b', 'c']) await c.channel(ch).subscribe();
    await assert.rejects(c.channel('d').subscribe(), { code: ErrorCodes.TOO_MANY_SUBSCRIPTIONS });
    await c.channel('a').subscribe(); // subscribing again to a channel it holds is no new one
    await c.channel('a').unsubscribe();
    await c.channel('d').subscribe();
    c.close();
  });

  it('a flood of new channels at maxChannels evicts the least recently used idle ones, never refuses a new channel', async () => {
    const adapter = new MemoryAdapter({ maxChannels: 5 });
    const { server, url } = await startServer({ adapter });
    servers.push(server);
    const victim = client(url);
    const attacker = client(url);
    // Someone else's idle channel with history, then a live one (subscribed) that must survive.
    const old = await victim.channel('victim-idle').publish('e', 'kept until evicted');
    const live: number[] = [];
    const liveCh = victim.channel('victim-live');
    liveCh.on('message', (m) => live.push(m.data as number));
    await liveCh.subscribe();
    // One client fills the limit with new channels, and keeps going.
    for (let i = 0; i < 20; i++) await attacker.channel(`flood-${i}`).publish('e', i);
    assert.equal(adapter.stats.channels, 5, 'never more than maxChannels');
    // Everyone can still create channels; the least recently used idle ones made room.
    const fresh = await victim.channel('victim-new').publish('e', 'new channel accepted');
    assert.equal(fresh.offset, 1);
    await server.publish('server-new', 'e', 1);
    // The live channel kept working throughout.
    await victim.channel('victim-live').publish('e', 42);
    await until(() => live.includes(42), 5000, 'the live channel message');
    // The evicted idle channel's history is gone: recovering from it is a reset, not a gap.
    const r = await recoverFrom(url, 'victim-idle', { ep: old.epoch, off: 0 });
    assert.equal(r.recovered, false);
    assert.equal(r.reason, 'epoch-changed');
    victim.close();
    attacker.close();
  });

  it('a new channel is refused (too-many-channels) only when every channel at maxChannels is live', async () => {
    const adapter = new MemoryAdapter({ maxChannels: 3 });
    const { server, url } = await startServer({ adapter });
    servers.push(server);
    const c = client(url);
    for (const ch of ['a', 'b', 'c']) await c.channel(ch).subscribe();
    await assert.rejects(c.channel('d').publish('e', 1), { code: ErrorCodes.TOO_MANY_CHANNELS });
    await assert.rejects(c.channel('d').subscribe(), { code: ErrorCodes.TOO_MANY_CHANNELS });
    await assert.rejects(server.publish('d', 'e', 1), { code: ErrorCodes.TOO_MANY_CHANNELS });
    assert.equal(c.state, 'open', 'a refusal is a failed reply, not a closed connection');
    await c.channel('a').unsubscribe();
    const ack = await c.channel('d').publish('e', 'room made by the idle channel');
    assert.equal(ack.offset, 1);
    c.close();
  });

  it('one connection may start using at most channelRate new channels (too-many-new-channels)', async () => {
    const { server, url } = await startServer({ channelRate: { channelsPerSecond: 0.001, burst: 5 } });
    servers.push(server);
    const c = client(url);
    for (let i = 0; i < 5; i++) await c.channel(`n-${i}`).publish('e', i);
    await assert.rejects(c.channel('n-5').publish('e', 5), { code: ErrorCodes.TOO_MANY_NEW_CHANNELS });
    await assert.rejects(c.channel('n-6').subscribe(), { code: ErrorCodes.TOO_MANY_NEW_CHANNELS });
    // Channels it used lately cost nothing again; others are not limited by this connection.
    await c.channel('n-0').publish('e', 'again');
    await c.channel('n-1').subscribe();
    await c.channel('n-1').publish('e', 'subscribed');
    const other = client(url);
    await other.channel('n-5').publish('e', 'another connection');
    assert.equal(c.state, 'open');
    c.close();
    other.close();
  });
});
