import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { encode as msgpackEncode } from '@msgpack/msgpack';
import type { ChannelMessage } from '../src/client/index.js';
import {
  DisconnectCode,
  ErrorCodes,
  jsonCodec,
  MemoryAdapter,
  msgpackCodec,
  RealtimeError,
  type RealtimeServer,
} from '../src/server/index.js';
import { client, opened, startServer, until } from './helpers.js';

/** A raw protocol client: sends whatever it is given, records replies, messages and the close. */
async function rawClient(url: string, codec: 'json' | 'msgpack') {
  const ws = new WebSocket(url, `ieum.v1.${codec}`);
  const received: Array<Record<string, unknown>> = [];
  const frames: Array<string | Buffer> = [];
  let closeCode = 0;
  ws.on('message', (d: Buffer, isBinary: boolean) => {
    frames.push(isBinary ? d : d.toString());
    received.push(isBinary ? (msgpackCodec.decode(d) as Record<string, unknown>) : JSON.parse(d.toString()));
  });
  ws.on('close', (code: number) => {
    closeCode = code;
  });
  await new Promise((r) => ws.once('open', r));
  // msgpack's encoder stops at 100 levels by default: raise it to craft what a hostile peer would.
  const send = (m: unknown) =>
    ws.send(codec === 'json' ? JSON.stringify(m) : msgpackEncode(m, { maxDepth: 100_000 }));
  send({ t: 'hello', v: 1, cid: `raw-${codec}` });
  await until(() => received.some((m) => m.t === 'welcome'), 5000, 'welcome');
  return {
    ws,
    send,
    received,
    frames,
    closeCode: () => closeCode,
    reply: (id: number) =>
      until(() => received.find((m) => m.t === 'res' && m.id === id), 5000, `reply ${id}`),
  };
}

/** `[[[ ... value ... ]]]`, `depth` arrays deep. */
function nested(depth: number, value: unknown = 1): unknown {
  let v = value;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('payload limits, checked once at publish for every codec', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('refuses a payload nested 6,000 deep (JSON) or 150 deep (MessagePack) with payload-too-deep, storing nothing', async () => {
    const adapter = new MemoryAdapter();
    const { server, url } = await startServer({ adapter });
    servers.push(server);
    const jsonPub = await rawClient(url, 'json');
    const mpPub = await rawClient(url, 'msgpack');
    // Written out by hand: JSON.stringify itself cannot go 6,000 deep (the poison in the first place).
    jsonPub.ws.send(
      `{"t":"pub","id":1,"ch":"poison","ev":"e","mid":"m1","d":${'['.repeat(6000)}1${']'.repeat(6000)}}`,
    );
    mpPub.send({ t: 'pub', id: 1, ch: 'poison', ev: 'e', d: nested(150), mid: 'm1' });
    for (const r of [await jsonPub.reply(1), await mpPub.reply(1)]) {
      assert.equal(r.ok, false);
      assert.equal((r.err as { code: string }).code, ErrorCodes.PAYLOAD_TOO_DEEP);
    }
    const p = await adapter.position('poison');
    assert.equal(p.offset, 0, 'nothing was stored');

    // At the limit (32 levels by default) it is stored and reaches JSON and MessagePack subscribers,
    // live and replayed from history.
    const live = [client(url), client(url, { codec: msgpackCodec })];
    const got = live.map(() => [] as ChannelMessage[]);
    for (const [i, c] of live.entries()) c.channel('poison').on('message', (m) => got[i]!.push(m));
    await Promise.all(live.map((c) => c.channel('poison').subscribe()));
    mpPub.send({ t: 'pub', id: 2, ch: 'poison', ev: 'e', d: nested(32), mid: 'm2' });
    assert.equal((await mpPub.reply(2)).ok, true);
    await until(() => got.every((g) => g.length === 1), 5000, 'the deepest allowed payload, live');
    for (const g of got) assert.deepEqual(g[0]!.data, nested(32));
    const late = await rawClient(url, 'json');
    late.send({ t: 'sub', id: 1, ch: 'poison', since: { ep: p.epoch, off: 0 } });
    await until(
      () => late.received.some((m) => m.t === 'msg'),
      5000,
      'the deepest allowed payload, replayed',
    );
    assert.equal(late.closeCode(), 0);
    for (const c of [jsonPub, mpPub, late]) c.ws.close();
    for (const c of live) c.close();
  });

  it('refuses a payload larger than maxPayloadBytes with payload-too-large', async () => {
    const { server, url } = await startServer({ maxPayloadBytes: 10_000 });
    servers.push(server);
    const c = client(url);
    await c.channel('big').subscribe();
    await assert.rejects(c.channel('big').publish('e', 'x'.repeat(10_000)), {
      code: ErrorCodes.PAYLOAD_TOO_LARGE,
    });
    // Binary counts as its base64 form: 7,600 bytes are 10,136 characters of JSON.
    await assert.rejects(c.channel('big').publish('e', new Uint8Array(7600)), {
      code: ErrorCodes.PAYLOAD_TOO_LARGE,
    });
    const ack = await c.channel('big').publish('e', 'x'.repeat(9000));
    assert.equal(ack.offset, 1);
    c.close();
  });

  it('refuses values not every codec carries alike (NaN, a reserved {$bin} object) with unsupported-payload', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    const mp = await rawClient(url, 'msgpack');
    const bad = [Number.NaN, Number.POSITIVE_INFINITY, { $bin: 'AAAA' }, { a: [{ $bin: 'not base64' }] }];
    for (const [i, d] of bad.entries()) {
      mp.send({ t: 'pub', id: i + 1, ch: 'x', ev: 'e', d, mid: `m${i}` });
      const r = await mp.reply(i + 1);
      assert.equal((r.err as { code: string } | undefined)?.code, 'unsupported-payload', `payload ${i}`);
    }
    mp.ws.close();
  });

  it('rt.publish throws a RealtimeError for a payload too deep, storing nothing', async () => {
    const adapter = new MemoryAdapter();
    const { server } = await startServer({ adapter, maxPayloadDepth: 4 });
    servers.push(server);
    await assert.rejects(server.publish('srv', 'e', nested(5)), (e: unknown) => {
      assert.ok(e instanceof RealtimeError);
      assert.equal(e.code, ErrorCodes.PAYLOAD_TOO_DEEP);
      return true;
    });
    assert.equal((await adapter.position('srv')).offset, 0);
    await server.publish('srv', 'e', nested(4));
    await assert.rejects(startServer({ maxPayloadDepth: 91 }), RangeError);
  });
});

describe('binary data across codecs', { timeout: 30_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('reaches JSON subscribers as {"$bin": base64} and JSON clients as a Uint8Array, live and replayed', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    const bytes = new Uint8Array(256 * 1024).map((_, i) => (i * 7919) % 256);
    const mpPub = client(url, { codec: msgpackCodec });
    const jsonSub = client(url);
    const raw = await rawClient(url, 'json');
    raw.send({ t: 'sub', id: 1, ch: 'files' });
    await raw.reply(1);
    const got: ChannelMessage[] = [];
    jsonSub.channel('files').on('message', (m) => got.push(m));
    await jsonSub.channel('files').subscribe();
    const ack = await mpPub.channel('files').publish('upload', { name: 'a.bin', bytes });

    await until(() => got.length === 1, 5000, 'the JSON client to get the bytes');
    const data = got[0]!.data as { name: string; bytes: Uint8Array };
    assert.ok(data.bytes instanceof Uint8Array, 'a Uint8Array, not {"type":"Buffer"}');
    assert.deepEqual(Buffer.from(data.bytes), Buffer.from(bytes));
    await until(
      () => raw.frames.some((f) => typeof f === 'string' && f.includes('"files"')),
      5000,
      'raw frame',
    );
    const frame = raw.frames.find((f) => typeof f === 'string' && f.includes('"upload"')) as string;
    assert.ok(frame.includes(`{"$bin":"${Buffer.from(bytes).toString('base64')}"}`), 'the documented form');
    assert.ok(
      frame.length < bytes.length * 1.4,
      `base64, not a JSON array of numbers (${frame.length} chars)`,
    );

    // Replayed from history to a JSON client.
    const late = client(url);
    const replayed: ChannelMessage[] = [];
    late.channel('files').on('message', (m) => replayed.push(m));
    await late.channel('files').subscribe({ since: { ep: ack.epoch, off: 0 } });
    await until(() => replayed.length === 1, 5000, 'the replay');
    assert.deepEqual(Buffer.from((replayed[0]!.data as { bytes: Uint8Array }).bytes), Buffer.from(bytes));

    // And back: a JSON client's Uint8Array reaches MessagePack subscribers as binary.
    const back: ChannelMessage[] = [];
    mpPub.channel('files').on('message', (m) => back.push(m));
    await mpPub.channel('files').subscribe();
    await jsonSub.channel('files').publish('upload', new Uint8Array([1, 2, 3]));
    await until(() => back.length === 1, 5000, 'the MessagePack client to get the JSON client bytes');
    assert.deepEqual([...(back[0]!.data as Uint8Array)], [1, 2, 3]);
    for (const c of [mpPub, jsonSub, late]) c.close();
    raw.ws.close();
  });

  it('the JSON codec reads a marker however its key is escaped, and a __proto__ key stays a key', () => {
    const m = jsonCodec.decode('{"a":{"\\u0024bin":"AQID"},"__proto__":{"$bin":"BA=="}}') as Record<
      string,
      unknown
    >;
    assert.deepEqual([...(m.a as Uint8Array)], [1, 2, 3]);
    assert.equal(Object.getPrototypeOf(m), Object.prototype, 'the prototype was not replaced');
    assert.deepEqual([...(Object.getOwnPropertyDescriptor(m, '__proto__')!.value as Uint8Array)], [4]);
    assert.equal(jsonCodec.encode({ d: Buffer.from([1, 2, 3]) }), '{"d":{"$bin":"AQID"}}');
    assert.equal(jsonCodec.encode({ d: { $bin: 1, other: 2 } }), '{"d":{"$bin":1,"other":2}}');
  });

  it('closes (4400) a JSON client whose $bin marker does not hold base64', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    const raw = await rawClient(url, 'json');
    raw.send({ t: 'pub', id: 1, ch: 'x', ev: 'e', d: { $bin: '!!' }, mid: 'm' });
    await until(() => raw.closeCode() !== 0, 5000, 'the close');
    assert.equal(raw.closeCode(), DisconnectCode.PROTOCOL_ERROR);
    const c = client(url);
    await opened(c);
    c.close();
  });
});
