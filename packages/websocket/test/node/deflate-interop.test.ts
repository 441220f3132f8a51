// permessage-deflate (RFC 7692) over real connections, both directions, against ws.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { PerMessageDeflate } from '../../src/node/deflate.js';
import { maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const SIZES = [0, 1, 125, 126, 1000, 65536, 2 * 1024 * 1024];
const payload = (n: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => 'abcdefgh'.charCodeAt(i % 8) ^ (i % 7)));

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
});

const combos: Array<Record<string, unknown>> = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverMaxWindowBits: 9 },
  { clientMaxWindowBits: 10 },
  {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 8,
    clientMaxWindowBits: 8,
  },
];

describe('ieum server with deflate, ws client with deflate', () => {
  for (const combo of combos) {
    it(`negotiates and echoes every size with ${JSON.stringify(combo)}`, async () => {
      const wss = new WebSocketServer({
        port: 0,
        host: '127.0.0.1',
        perMessageDeflate: { threshold: 0, ...combo },
      });
      closers.push(() => new Promise((r) => wss.close(() => r())));
      await waitFor(wss, 'listening');
      wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
      const c = new WsClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
        perMessageDeflate: { threshold: 0, ...combo },
      });
      await waitFor(c, 'open');
      assert.match(c.extensions, /permessage-deflate/);
      for (const n of SIZES) {
        const data = payload(n);
        c.send(data);
        const [got] = await waitFor<[Buffer]>(c, 'message', 20_000);
        assert.ok(got.equals(data), `binary ${n}`);
        c.send(data.toString('latin1'));
        const [text] = await waitFor<[Buffer]>(c, 'message', 20_000);
        assert.equal(text.toString(), data.toString('latin1'));
      }
      c.close();
      await waitFor(c, 'close');
    });
  }
});

describe('ieum client with deflate, ws server with deflate', () => {
  for (const combo of combos) {
    it(`negotiates and echoes every size with ${JSON.stringify(combo)}`, async () => {
      const server = new WsServer({
        port: 0,
        host: '127.0.0.1',
        perMessageDeflate: { threshold: 0, ...combo },
      });
      closers.push(() => new Promise((r) => server.close(() => r())));
      await waitFor(server, 'listening');
      server.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
      const c = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
        perMessageDeflate: { threshold: 0, ...combo },
      });
      await waitFor(c, 'open');
      assert.match(c.extensions, /permessage-deflate/);
      for (const n of SIZES) {
        const data = payload(n);
        c.send(data);
        const [got] = await waitFor<[Buffer]>(c, 'message', 20_000);
        assert.ok(got.equals(data), `binary ${n}`);
      }
      c.close();
      await waitFor(c, 'close');
    });
  }
});

describe('deflate limits and declines', () => {
  it('closes with 1009 when a compressed message inflates past maxMessageBytes (decompression bomb)', async () => {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: true,
      maxPayload: 64 * 1024,
    });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    await waitFor(wss, 'listening');
    const errors: string[] = [];
    wss.on('connection', (ws) => ws.on('error', (e) => errors.push((e as { code?: string }).code ?? '')));
    const c = new WsClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      perMessageDeflate: true,
    });
    await waitFor(c, 'open');
    c.send(Buffer.alloc(10 * 1024 * 1024)); // ~10 KB on the wire, 10 MiB inflated
    const [code] = await waitFor<[number]>(c, 'close');
    assert.equal(code, 1009);
    assert.deepEqual(errors, ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
  });

  it('answers without the extension when deflate is off, and the ws client proceeds uncompressed', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    await waitFor(wss, 'listening');
    const c = new WsClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      perMessageDeflate: true,
    });
    await waitFor(c, 'open');
    assert.equal(c.extensions, '');
    c.terminate();
  });

  it('declines a malformed offer instead of failing the handshake (RFC 7692 §5.1)', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    await waitFor(wss, 'listening');
    const raw = await rawConnect((wss.address() as AddressInfo).port);
    raw.socket.write(
      upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99']),
    );
    while (!raw.received().includes('\r\n\r\n')) await new Promise((r) => setTimeout(r, 5));
    const head = raw.received().toString();
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.doesNotMatch(head, /Sec-WebSocket-Extensions/i);
    raw.socket.destroy();
  });
});

describe('small messages inflated synchronously, over a raw socket', () => {
  const clientParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  /** A masked client frame with RSV1 set (a compressed message). */
  const compressedFrame = (opcode: number, payload: Buffer) => {
    const frame = maskedFrame(opcode, payload);
    frame[0]! |= 0x40;
    return frame;
  };
  const compressWith = (pmd: PerMessageDeflate, data: Buffer) =>
    new Promise<Buffer>((resolve, reject) =>
      pmd.compress(data, true, (e, out) => (e ? reject(e) : resolve(out as Buffer))),
    );
  async function connected(wss: WebSocketServer) {
    await waitFor(wss, 'listening');
    const raw = await rawConnect((wss.address() as AddressInfo).port);
    raw.socket.write(upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate']));
    while (!raw.received().includes('\r\n\r\n')) await new Promise((r) => setTimeout(r, 5));
    assert.match(raw.received().toString('latin1'), /Sec-WebSocket-Extensions: permessage-deflate/i);
    return raw;
  }

  it('delivers mixed sizes and a ping arriving in one chunk in order', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    const events: string[] = [];
    const done = new Promise<void>((resolve) =>
      wss.on('connection', (ws) => {
        ws.on('message', (d) => {
          const text = d.toString();
          events.push(text.length > 100 ? `large:${text.length}` : text);
          if (text === 'last') resolve();
        });
        ws.on('ping', (d) => events.push(`ping:${d.toString()}`));
      }),
    );
    const raw = await connected(wss);
    const client = new PerMessageDeflate(clientParams, 'client');
    let x = 1;
    const large = Buffer.from(
      Array.from({ length: 300_000 }, () => {
        x = (x * 1103515245 + 12345) >>> 0;
        return 97 + ((x >>> 16) % 26);
      }),
    );
    const frames = [
      compressedFrame(1, await compressWith(client, Buffer.from('first'))),
      compressedFrame(1, await compressWith(client, large)),
      compressedFrame(1, await compressWith(client, Buffer.from('after large'))),
      maskedFrame(9, Buffer.from('p')),
      compressedFrame(1, await compressWith(client, Buffer.from('first'))),
      maskedFrame(1, Buffer.from('plain')),
      compressedFrame(1, await compressWith(client, Buffer.from('last'))),
    ];
    assert.ok((frames[1]?.length ?? 0) > 8192, 'the large one goes to the thread pool');
    raw.socket.write(Buffer.concat(frames));
    await done;
    assert.deepEqual(events, ['first', 'large:300000', 'after large', 'ping:p', 'first', 'plain', 'last']);
    client.close();
    raw.socket.destroy();
  });

  /**
   * Sends, in one chunk, "before", `bad` and "after" compressed (opcode `badOpcode` for `bad`) and
   * a plain "plain after"; returns the server's close code, what its handlers saw, and the
   * compressed size of `bad`.
   */
  async function failInOneChunk(bad: Buffer, badOpcode: number, serverOptions: { maxPayload?: number } = {}) {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: true,
      ...serverOptions,
    });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    const events: string[] = [];
    wss.on('connection', (ws) => {
      ws.on('message', (d) => events.push(`message:${d.toString()}`));
      ws.on('error', (e) => events.push(`error:${(e as { code?: string }).code ?? ''}`));
    });
    const raw = await connected(wss);
    const client = new PerMessageDeflate(clientParams, 'client');
    const before = await compressWith(client, Buffer.from('before'));
    const compressedBad = await compressWith(client, bad);
    const after = await compressWith(client, Buffer.from('after'));
    raw.socket.write(
      Buffer.concat([
        compressedFrame(1, before),
        compressedFrame(badOpcode, compressedBad),
        compressedFrame(1, after),
        maskedFrame(1, Buffer.from('plain after')),
      ]),
    );
    await raw.ended;
    client.close();
    const received = raw.received();
    const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
    assert.equal(body[0], 0x88, 'a close frame');
    return { closeCode: body.readUInt16BE(2), events, badBytes: compressedBad.length };
  }

  it('a bomb inflated synchronously closes with 1009, and what follows it in the chunk is dropped', async () => {
    const r = await failInOneChunk(Buffer.alloc(4 * 1024 * 1024), 2, { maxPayload: 16 * 1024 });
    assert.ok(r.badBytes < 8192, 'small enough for the synchronous path');
    assert.equal(r.closeCode, 1009);
    assert.deepEqual(r.events, ['message:before', 'error:WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
  });

  it('invalid UTF-8 in a text message inflated synchronously closes with 1007, and what follows it in the chunk is dropped', async () => {
    const r = await failInOneChunk(Buffer.from([0x61, 0xff, 0x62]), 1);
    assert.equal(r.closeCode, 1007);
    assert.deepEqual(r.events, ['message:before', 'error:WS_ERR_INVALID_UTF8']);
  });

  it('delivers a compressed message held by pause() before close when the socket is destroyed', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    const events: string[] = [];
    const closed = new Promise<void>((resolve) =>
      wss.on('connection', (ws) => {
        ws.on('message', (d, binary) => {
          events.push(binary ? `binary:${(d as Buffer).length}` : `message:${d.toString()}`);
          if (events.length === 1) {
            // Hold the rest of the chunk, then end the connection from this side.
            ws.pause();
            setTimeout(() => ws.terminate(), 20);
          }
        });
        ws.on('error', (e) => events.push(`error:${(e as { code?: string }).code ?? ''}`));
        ws.on('close', () => {
          events.push('close');
          setTimeout(resolve, 20);
        });
      }),
    );
    const raw = await connected(wss);
    const client = new PerMessageDeflate(clientParams, 'client');
    let x = 1;
    const random = Buffer.from(
      Array.from({ length: 100_000 }, () => {
        x = (x * 1103515245 + 12345) >>> 0;
        return x >>> 24;
      }),
    );
    const large = await compressWith(client, random);
    assert.ok(large.length > 8192, 'the large one goes to the thread pool');
    raw.socket.write(
      Buffer.concat([
        maskedFrame(1, Buffer.from('first')),
        compressedFrame(1, await compressWith(client, Buffer.from('compressed'))),
        compressedFrame(2, large), // inflated in the thread pool
        maskedFrame(1, Buffer.from('plain')),
      ]),
    );
    await closed;
    assert.deepEqual(events, [
      'message:first',
      'message:compressed',
      'binary:100000',
      'message:plain',
      'close',
    ]);
    client.close();
    raw.socket.destroy();
  });
});

describe('sends queued behind a compression in the thread pool', () => {
  it('go out in order, without deep recursion', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 100 } });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    await waitFor(wss, 'listening');
    const count = 20_000;
    // Mostly under the threshold (sent as they are), some compressed on the spot.
    const message = (i: number) => (i % 100 === 0 ? `m${i}:${'x'.repeat(200)}` : `m${i}`);
    wss.on('connection', (ws) => {
      ws.send(payload(2 * 1024 * 1024)); // to the thread pool: the others queue behind it
      for (let i = 0; i < count; i++) ws.send(message(i));
    });
    const c = new WsClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      perMessageDeflate: true,
    });
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      c.on('message', (d: Buffer, binary: boolean) => {
        got.push(binary ? `binary:${d.length}` : d.toString());
        if (got.length === count + 1) resolve();
      }),
    );
    await all;
    assert.equal(got[0], `binary:${2 * 1024 * 1024}`);
    assert.deepEqual(
      got.slice(1),
      Array.from({ length: count }, (_, i) => message(i)),
    );
    c.close();
    await waitFor(c, 'close');
  });
});

describe('compress-once broadcast', () => {
  it('compresses a prepared message once for every client that negotiated server_no_context_takeover', async () => {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: { threshold: 0, serverNoContextTakeover: true },
    });
    closers.push(() => new Promise((r) => wss.close(() => r())));
    await waitFor(wss, 'listening');
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const compressed = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new WsClient(url, { perMessageDeflate: true });
        await waitFor(c, 'open');
        return c;
      }),
    );
    const plain = new WsClient(url, { perMessageDeflate: false });
    await waitFor(plain, 'open');
    const text = JSON.stringify({ state: 'x'.repeat(100_000) });
    const prepared = WebSocketServer.prepare(text);
    const got = [...compressed, plain].map((c) => waitFor<[Buffer, boolean]>(c, 'message'));
    for (const client of wss.clients) client.sendPrepared(prepared);
    for (const [data, isBinary] of await Promise.all(got)) {
      assert.equal(isBinary, false);
      assert.equal(data.toString(), text);
    }
    assert.equal(prepared.compressed?.size, 1, 'one compressed copy shared by all three');
    const wire = [...(prepared.compressed?.values() ?? [])][0]!.reduce((n, f) => n + f.length, 0);
    assert.ok(
      wire < prepared.byteLength / 10,
      `compressed copy (${wire} B) is much smaller than ${prepared.byteLength} B`,
    );
    for (const c of [...compressed, plain]) c.terminate();
  });
});
