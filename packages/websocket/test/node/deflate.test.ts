// RFC 7692 §7.2: permessage-deflate payloads, checked byte-exact against the RFC, against node's
// own zlib decoder and against ws's PerMessageDeflate.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  canShareCompressed,
  compressOnce,
  type DeflateRole,
  PerMessageDeflate,
} from '../../src/node/deflate.js';
import { ErrorCode, WebSocketError } from '../../src/protocol/errors.js';
import { parseExtensionHeader } from '../../src/protocol/extension-header.js';
import {
  acceptDeflateOffer,
  buildDeflateOffer,
  type DeflateOptions,
  type DeflateParams,
  validateDeflateResponse,
} from '../../src/protocol/permessage-deflate.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const TAIL = hex('0000ffff');
const params = (p: Partial<DeflateParams> = {}): DeflateParams => ({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...p,
});

function compress(pmd: PerMessageDeflate, data: Uint8Array | string, fin = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pmd.compress(typeof data === 'string' ? Buffer.from(data) : data, fin, (error, out) =>
      error ? reject(error) : resolve(out as Buffer),
    );
  });
}
function decompress(
  pmd: PerMessageDeflate,
  data: Uint8Array,
  fin = true,
  maxBytes = 64 * 1024 * 1024,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pmd.decompress(data, fin, maxBytes, (error, out) => (error ? reject(error) : resolve(out as Buffer)));
  });
}

/** Bytes that compress, with repeats both near and far (up to 20 KB back). */
function sample(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    if (i >= 20_000 && i % 5000 < 300) b[i] = b[i - 20_000] as number;
    else if (i >= 300 && i % 7 < 4) b[i] = b[i - 300] as number;
    else {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = 97 + ((x >>> 16) % 26);
    }
  }
  return b;
}

/** node zlib's one-shot raw inflate; a message ends with a sync flush, not a final block. */
const inflateSync = (data: Buffer, windowBits = 15) =>
  zlib.inflateRawSync(data, { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });

const isError = (code: string, closeCode: number) => (e: unknown) =>
  e instanceof WebSocketError && e.code === code && e.closeCode === closeCode;

describe('RFC 7692 §7.2.3 examples', () => {
  it('§7.2.3.1: compresses "Hello" to f2 48 cd c9 c9 07 00', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    assert.deepEqual(await compress(pmd, 'Hello'), hex('f248cdc9c90700'));
    pmd.close();
  });

  it('§7.2.3.2: the second "Hello" refers back to the first with context takeover', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    assert.deepEqual(await compress(pmd, 'Hello'), hex('f248cdc9c90700'));
    assert.deepEqual(await compress(pmd, 'Hello'), hex('f200110000'));
    pmd.close();
  });

  it('§7.1.1.1: without server context takeover, each message is compressed afresh', async () => {
    const server = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'server');
    assert.deepEqual(await compress(server, 'Hello'), hex('f248cdc9c90700'));
    assert.deepEqual(await compress(server, 'Hello'), hex('f248cdc9c90700'));
    server.close();
    // The same parameter does not stop the client from keeping its context.
    const client = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'client');
    await compress(client, 'Hello');
    assert.deepEqual(await compress(client, 'Hello'), hex('f200110000'));
    client.close();
  });

  it('§7.1.1.2: without client context takeover, the client compresses each message afresh', async () => {
    const client = new PerMessageDeflate(params({ clientNoContextTakeover: true }), 'client');
    await compress(client, 'Hello');
    assert.deepEqual(await compress(client, 'Hello'), hex('f248cdc9c90700'));
    client.close();
  });

  it('inflates §7.2.3.1 and then §7.2.3.2 with the shared window', async () => {
    const pmd = new PerMessageDeflate(params(), 'client');
    assert.equal((await decompress(pmd, hex('f248cdc9c90700'))).toString(), 'Hello');
    assert.equal((await decompress(pmd, hex('f200110000'))).toString(), 'Hello');
    pmd.close();
  });

  it('§7.2.3.3: inflates a stored (uncompressed) block', async () => {
    const pmd = new PerMessageDeflate(params(), 'client');
    assert.equal((await decompress(pmd, hex('000500faff48656c6c6f00'))).toString(), 'Hello');
    pmd.close();
  });

  it('§7.2.3.4: inflates a message ending in a final block, and the next message after it', async () => {
    const pmd = new PerMessageDeflate(params(), 'client');
    assert.equal((await decompress(pmd, hex('f348cdc9c907 0000'))).toString(), 'Hello');
    assert.equal((await decompress(pmd, hex('f248cdc9c90700'))).toString(), 'Hello');
    pmd.close();
  });

  it('§7.2.3.5: inflates two blocks in one message', async () => {
    const pmd = new PerMessageDeflate(params(), 'client');
    assert.equal((await decompress(pmd, hex('f248050000 00ffff cac9c90700'))).toString(), 'Hello');
    pmd.close();
  });

  it('§7.2.3.6: an empty message compresses to 00 and inflates back to nothing', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    assert.deepEqual(await compress(pmd, ''), hex('00'));
    await compress(pmd, 'Hello');
    assert.deepEqual(await compress(pmd, ''), hex('00'));
    const peer = new PerMessageDeflate(params(), 'client');
    assert.equal((await decompress(peer, hex('00'))).length, 0);
    pmd.close();
    peer.close();
  });
});

describe('compressed output decodes with node zlib', () => {
  for (const size of [1, 125, 1024, 70_000, 1_000_000]) {
    it(`a ${size}-byte message, alone and as the second of a shared-window pair`, async () => {
      const pmd = new PerMessageDeflate(params(), 'server');
      const a = sample(size, 1);
      const b = sample(size, 1); // identical: the second refers to the first
      const outA = await compress(pmd, a);
      const outB = await compress(pmd, b);
      assert.ok(!outA.subarray(-4).equals(TAIL), 'the 00 00 ff ff tail is removed');
      assert.deepEqual(inflateSync(Buffer.concat([outA, TAIL])), a);
      // With context takeover, the second message only decodes in the first one's window.
      const inflater = zlib.createInflateRaw();
      const got: Buffer[] = [];
      inflater.on('data', (c: Buffer) => got.push(c));
      inflater.write(Buffer.concat([outA, TAIL, outB, TAIL]));
      await new Promise<void>((resolve) => inflater.flush(() => resolve()));
      inflater.close();
      assert.deepEqual(Buffer.concat(got), Buffer.concat([a, b]));
      // Within the 32 KiB window, the second message is mostly one long reference to the first.
      if (size >= 1024 && size <= 16_384)
        assert.ok(outB.length < outA.length / 2, 'the second message reused the window');
      pmd.close();
    });
  }

  it('compresses a message sent in fragments (only the last loses its tail)', async () => {
    const pmd = new PerMessageDeflate(params(), 'client');
    const parts = [sample(3000, 1), sample(10, 2), Buffer.alloc(0), sample(5000, 3)];
    const out: Buffer[] = [];
    for (let i = 0; i < parts.length; i++)
      out.push(await compress(pmd, parts[i] as Buffer, i === parts.length - 1));
    assert.deepEqual(inflateSync(Buffer.concat([...out, TAIL])), Buffer.concat(parts));
    pmd.close();
  });

  for (const bits of [8, 9, 10, 12, 15]) {
    it(`keeps to a negotiated ${bits}-bit window: zlib inflates it with a 2^${bits}-byte window`, async () => {
      const pmd = new PerMessageDeflate(params({ serverMaxWindowBits: bits }), 'server');
      const inflater = zlib.createInflateRaw({ windowBits: bits });
      const got: Buffer[] = [];
      inflater.on('data', (c: Buffer) => got.push(c));
      const sent: Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        const m = sample(50_000, 7); // repeats 300 and 20,000 bytes back, within and across messages
        sent.push(m);
        inflater.write(Buffer.concat([await compress(pmd, m), TAIL]));
      }
      const error = await new Promise<Error | null>((resolve) => {
        inflater.once('error', resolve);
        inflater.flush(() => resolve(null));
      });
      assert.equal(error, null);
      assert.deepEqual(Buffer.concat(got), Buffer.concat(sent));
      inflater.close();
      pmd.close();
    });
  }
});

describe('round trips between a server and a client', () => {
  const combos: DeflateParams[] = [];
  for (const bits of [8, 9, 11, 15]) {
    for (const nct of [false, true]) {
      combos.push(
        params({
          serverMaxWindowBits: bits,
          clientMaxWindowBits: 23 - bits,
          serverNoContextTakeover: nct,
          clientNoContextTakeover: !nct,
        }),
      );
    }
  }
  for (const p of combos) {
    it(`${JSON.stringify(p)}`, async () => {
      const server = new PerMessageDeflate(p, 'server');
      const client = new PerMessageDeflate(p, 'client');
      for (const [size, seed] of [
        [0, 1],
        [200, 2],
        [40_000, 3],
        [40_000, 3],
        [5, 4],
      ] as const) {
        const m = sample(size, seed);
        assert.deepEqual(await decompress(client, await compress(server, m)), m);
        assert.deepEqual(await decompress(server, await compress(client, m)), m);
      }
      server.close();
      client.close();
    });
  }

  it('inflates a message received in fragments, returning each fragment’s bytes', async () => {
    const server = new PerMessageDeflate(params(), 'server');
    const client = new PerMessageDeflate(params(), 'client');
    const m = sample(30_000, 9);
    const compressed = await compress(client, m);
    const pieces = [
      compressed.subarray(0, 7),
      compressed.subarray(7, 7),
      compressed.subarray(7, 5000),
      compressed.subarray(5000),
    ];
    const out: Buffer[] = [];
    for (let i = 0; i < pieces.length; i++)
      out.push(await decompress(server, pieces[i] as Buffer, i === pieces.length - 1));
    assert.deepEqual(Buffer.concat(out), m);
    // The next message still inflates in the shared window.
    assert.deepEqual(await decompress(server, await compress(client, m)), m);
    server.close();
    client.close();
  });
});

// ws's own permessage-deflate, loaded from its file (it is not in ws's public exports).
const requireWs = createRequire(import.meta.url);
const wsDir = requireWs.resolve('ws').replace(/index\.js$/, '');
type WsCallback = (error: Error | null, out?: Buffer) => void;
interface WsPmd {
  accept(configurations: unknown[]): Record<string, unknown>;
  compress(data: Buffer, fin: boolean, cb: WsCallback): void;
  decompress(data: Buffer, fin: boolean, cb: WsCallback): void;
  cleanup(): void;
}
const WsPerMessageDeflate = requireWs(`${wsDir}lib/permessage-deflate.js`) as new (o: object) => WsPmd;
const wsExtension = requireWs(`${wsDir}lib/extension.js`) as { parse(h: string): Record<string, unknown[]> };
const wsCall = (fn: (cb: WsCallback) => void) =>
  new Promise<Buffer>((resolve, reject) => fn((e, out) => (e ? reject(e) : resolve(out as Buffer))));

describe("payload interop with ws's PerMessageDeflate", () => {
  const variants: DeflateOptions[] = [
    {},
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    { serverMaxWindowBits: 10, clientMaxWindowBits: 11, serverNoContextTakeover: true },
  ];
  for (const options of variants) {
    for (const ourRole of ['server', 'client'] as DeflateRole[]) {
      it(`ieum ${ourRole} and ws with ${JSON.stringify(options)}`, async () => {
        // Negotiate with the ws client offering and our server answering, or the other way round.
        const offer = buildDeflateOffer(options);
        let p: DeflateParams;
        const ws = new WsPerMessageDeflate({ ...options, isServer: ourRole === 'client', maxPayload: 0 });
        if (ourRole === 'server') {
          const accepted = acceptDeflateOffer(parseExtensionHeader(offer), options);
          assert.ok(accepted);
          p = accepted.params;
          ws.accept(wsExtension.parse(accepted.responseHeader)['permessage-deflate'] as unknown[]);
        } else {
          const wsParams = ws.accept(wsExtension.parse(offer)['permessage-deflate'] as unknown[]);
          const header = [
            'permessage-deflate',
            ...Object.entries(wsParams).map(([k, v]) => (v === true ? k : `${k}=${v}`)),
          ].join('; ');
          p = validateDeflateResponse(parseExtensionHeader(header)[0] as never, options);
        }
        const ours = new PerMessageDeflate(p, ourRole, options);
        for (const [size, seed] of [
          [0, 1],
          [3000, 2],
          [100_000, 3],
          [100_000, 3],
        ] as const) {
          const m = sample(size, seed);
          const fromUs = await compress(ours, m);
          assert.deepEqual(await wsCall((cb) => ws.decompress(fromUs, true, cb)), m);
          const fromWs = await wsCall((cb) => ws.compress(m, true, cb));
          assert.deepEqual(await decompress(ours, fromWs), m);
        }
        ours.close();
        ws.cleanup();
      });
    }
  }
});

describe('errors', () => {
  it('fails with WS_ERR_INVALID_COMPRESSED_DATA (close 1007) on data zlib cannot inflate, and keeps failing', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    const bad = hex('ffffffff00');
    await assert.rejects(decompress(pmd, bad), isError(ErrorCode.INVALID_COMPRESSED_DATA, 1007));
    // The context is lost: a valid message cannot be trusted to inflate correctly any more.
    await assert.rejects(
      decompress(pmd, hex('f248cdc9c90700')),
      isError(ErrorCode.INVALID_COMPRESSED_DATA, 1007),
    );
    pmd.close();
  });

  it('fails on data after a final block (RFC 7692 §7.2.3.4 allows only the empty block header)', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    const finalThenMore = Buffer.concat([hex('f348cdc9c90700'), hex('f248cdc9c90700')]);
    await assert.rejects(decompress(pmd, finalThenMore), isError(ErrorCode.INVALID_COMPRESSED_DATA, 1007));
    pmd.close();
  });

  it('fails with WS_ERR_UNSUPPORTED_MESSAGE_LENGTH (close 1009) past maxBytes, counted across fragments', async () => {
    const client = new PerMessageDeflate(params(), 'client');
    const server = new PerMessageDeflate(params(), 'server');
    const compressed = await compress(client, sample(10_000, 5));
    assert.equal((await decompress(server, compressed, true, 10_000)).length, 10_000); // exactly at the limit
    const next = await compress(client, sample(10_000, 6));
    const half = next.length >> 1;
    await decompress(server, next.subarray(0, half), false, 10_000 - 1);
    await assert.rejects(
      decompress(server, next.subarray(half), true, 10_000 - 1),
      isError(ErrorCode.MESSAGE_TOO_BIG, 1009),
    );
    client.close();
    server.close();
  });

  it('rejects bad params, role and maxBytes at once', () => {
    assert.throws(
      () => new PerMessageDeflate(params({ serverMaxWindowBits: 7 }), 'server'),
      /params must be/,
    );
    assert.throws(() => new PerMessageDeflate(params(), 'peer' as DeflateRole), /role must be/);
    const pmd = new PerMessageDeflate(params(), 'server');
    assert.throws(() => pmd.decompress(hex('00'), true, -1, () => {}), /maxBytes/);
    pmd.close();
  });
});

describe('ordering, concurrency and close', () => {
  it('calls back in call order when many operations are started at once', async () => {
    const pmd = new PerMessageDeflate(params(), 'server', { concurrencyLimit: 3 });
    const sizes = [200_000, 10, 50_000, 0, 3, 120_000, 1];
    const messages = sizes.map((n, i) => sample(n, i + 1));
    const order: number[] = [];
    const outs = await Promise.all(
      messages.map(
        (m, i) =>
          new Promise<Buffer>((resolve, reject) =>
            pmd.compress(m, true, (e, out) => {
              order.push(i);
              e ? reject(e) : resolve(out as Buffer);
            }),
          ),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
    const peer = new PerMessageDeflate(params(), 'client');
    const inflateOrder: number[] = [];
    const got = await Promise.all(
      outs.map(
        (c, i) =>
          new Promise<Buffer>((resolve, reject) =>
            peer.decompress(c, true, 1 << 30, (e, out) => {
              inflateOrder.push(i);
              e ? reject(e) : resolve(out as Buffer);
            }),
          ),
      ),
    );
    assert.deepEqual(inflateOrder, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(got, messages);
    pmd.close();
    peer.close();
  });

  it('with concurrencyLimit 1, operations of different connections run one at a time, in arrival order', async () => {
    // A unique limit value gives this test its own process-wide limiter; small messages would
    // otherwise be compressed synchronously, outside the limiter.
    const options = { concurrencyLimit: 1, syncBelowBytes: 0 };
    const a = new PerMessageDeflate(params(), 'server', options);
    const b = new PerMessageDeflate(params(), 'server', options);
    const done: string[] = [];
    await Promise.all([
      new Promise<void>((resolve) =>
        a.compress(sample(2_000_000, 1), true, () => resolve(void done.push('a-large'))),
      ),
      new Promise<void>((resolve) =>
        b.compress(sample(10, 2), true, () => resolve(void done.push('b-small'))),
      ),
    ]);
    // The small one would finish first if both ran at once.
    assert.deepEqual(done, ['a-large', 'b-small']);
    a.close();
    b.close();
  });

  it('close() during operations gives their limiter slots back to other connections', {
    timeout: 20_000,
  }, async () => {
    // A limit of 2 shared by these instances only; `a` holds both slots when it is closed.
    const options = { concurrencyLimit: 2 };
    const a = new PerMessageDeflate(params(), 'server', options);
    const big = sample(4_000_000, 3);
    const compressedBig = zlib.deflateRawSync(big, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const settled: Array<Promise<unknown>> = [
      compress(a, big).catch((e) => e),
      decompress(a, compressedBig.subarray(0, -4)).catch((e) => e),
    ];
    a.close();
    for (const result of await Promise.all(settled))
      assert.ok(isError(ErrorCode.INVALID_STATE, 1011)(result));
    for (let round = 0; round < 3; round++) {
      const b = new PerMessageDeflate(params(), 'server', options);
      const c = new PerMessageDeflate(params(), 'client', options);
      assert.equal((await decompress(c, await compress(b, 'Hello'))).toString(), 'Hello');
      b.close();
      c.close();
    }
  });

  it('close() fails pending operations in order with WS_ERR_INVALID_STATE, and later calls too', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    const results: string[] = [];
    const pending = [0, 1, 2].map(
      (i) =>
        new Promise<void>((resolve) =>
          pmd.compress(sample(100_000, i), true, (e) => {
            results.push(`${i}:${e instanceof WebSocketError ? e.code : 'ok'}`);
            resolve();
          }),
        ),
    );
    pmd.close();
    pmd.close(); // idempotent
    await Promise.all(pending);
    assert.deepEqual(results, ['0:WS_ERR_INVALID_STATE', '1:WS_ERR_INVALID_STATE', '2:WS_ERR_INVALID_STATE']);
    await assert.rejects(compress(pmd, 'x'), isError(ErrorCode.INVALID_STATE, 1011));
    await assert.rejects(decompress(pmd, hex('00')), isError(ErrorCode.INVALID_STATE, 1011));
  });
});

describe('compress once, send to many', () => {
  it('produces what a connection without server context takeover produces, and zlib decodes it', async () => {
    const p = params({ serverNoContextTakeover: true, serverMaxWindowBits: 10 });
    const m = sample(50_000, 4);
    const once = compressOnce(m, p);
    const pmd = new PerMessageDeflate(p, 'server');
    await compress(pmd, sample(1000, 9)); // an earlier message on that connection changes nothing
    assert.deepEqual(await compress(pmd, m), once);
    assert.deepEqual(inflateSync(Buffer.concat([once, TAIL]), 10), m);
    assert.deepEqual(compressOnce(Buffer.alloc(0), p), hex('00'));
    pmd.close();
  });

  it('interleaves with a connection’s own compressed messages when that connection resets its context', async () => {
    const p = params({ serverNoContextTakeover: true });
    const server = new PerMessageDeflate(p, 'server');
    const client = new PerMessageDeflate(p, 'client');
    const own = sample(5000, 1);
    const shared = sample(5000, 2);
    assert.deepEqual(await decompress(client, await compress(server, own)), own);
    assert.deepEqual(await decompress(client, compressOnce(shared, p)), shared);
    assert.deepEqual(await decompress(client, await compress(server, own)), own);
    server.close();
    client.close();
  });

  it('refuses parameters with context takeover', () => {
    assert.throws(() => compressOnce(Buffer.from('x'), params()), /server_no_context_takeover/);
    assert.throws(
      () => compressOnce(Buffer.from('x'), params({ serverNoContextTakeover: true }), { role: 'client' }),
      /client_no_context_takeover/,
    );
  });

  it('tells which connections can take a shared message', () => {
    const sharedWith = params({ serverNoContextTakeover: true, serverMaxWindowBits: 10 });
    assert.equal(canShareCompressed(params({ serverNoContextTakeover: true }), sharedWith), true);
    assert.equal(
      canShareCompressed(params({ serverNoContextTakeover: true, serverMaxWindowBits: 10 }), sharedWith),
      true,
    );
    assert.equal(
      canShareCompressed(params({ serverNoContextTakeover: true, serverMaxWindowBits: 9 }), sharedWith),
      false,
    );
    assert.equal(canShareCompressed(params(), sharedWith), false);
  });
});

describe('synchronous zlib for small payloads (syncBelowBytes)', () => {
  /** Starts `op`; resolves with its result and whether it called back before returning. */
  function started<T>(op: (cb: (e: Error | null, out?: T) => void) => void): {
    result: Promise<T>;
    sync: boolean;
  } {
    let returned = false;
    let sync = false;
    const result = new Promise<T>((resolve, reject) =>
      op((e, out) => {
        sync = !returned;
        e ? reject(e) : resolve(out as T);
      }),
    );
    returned = true;
    return {
      result,
      get sync() {
        return sync;
      },
    };
  }

  it('compresses and inflates a small message before returning, with context takeover kept', async () => {
    const server = new PerMessageDeflate(params(), 'server');
    const client = new PerMessageDeflate(params(), 'client');
    const zlibInflater = zlib.createInflateRaw();
    for (const text of ['Hello', 'Hello', 'Hello, Hello']) {
      const c = started<Buffer>((cb) => server.compress(Buffer.from(text), true, cb));
      assert.equal(c.sync, true, 'compressed synchronously');
      const compressed = await c.result;
      const d = started<Buffer>((cb) => client.decompress(compressed, true, 1024, cb));
      assert.equal(d.sync, true, 'inflated synchronously');
      assert.equal((await d.result).toString(), text);
      // The same bytes through one node zlib stream: the context is shared across messages.
      zlibInflater.write(Buffer.concat([compressed, TAIL]));
      const viaZlib = await new Promise<Buffer>((resolve) =>
        zlibInflater.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(zlibInflater.read() as Buffer)),
      );
      assert.equal(viaZlib.toString(), text);
    }
    // RFC 7692 §7.2.3.2: the second "Hello" refers back to the first.
    const again = new PerMessageDeflate(params(), 'server');
    await compress(again, 'Hello');
    assert.deepEqual(await compress(again, 'Hello'), hex('f200110000'));
    for (const x of [server, client, again]) x.close();
  });

  it('keeps call order with mixed sizes: small ones queue behind a large one in the thread pool', async () => {
    const server = new PerMessageDeflate(params(), 'server', { syncBelowBytes: 1024 });
    const client = new PerMessageDeflate(params(), 'client', { syncBelowBytes: 1024 });
    const messages = [sample(100, 1), sample(300_000, 2), sample(50, 3), sample(2_000, 4), sample(10, 5)];
    const order: number[] = [];
    const ops = messages.map((m, i) =>
      started<Buffer>((cb) =>
        server.compress(m, true, (e, out) => {
          order.push(i);
          cb(e, out);
        }),
      ),
    );
    const compressed = await Promise.all(ops.map((o) => o.result));
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.deepEqual(
      ops.map((o) => o.sync),
      [true, false, false, false, false],
      'only the first ran before the large one was queued',
    );
    // And the same compressed messages, inflated in one go with the same mix.
    const inflateOrder: number[] = [];
    const inflates = compressed.map((c, i) =>
      started<Buffer>((cb) =>
        client.decompress(c, true, 1 << 30, (e, out) => {
          inflateOrder.push(i);
          cb(e, out);
        }),
      ),
    );
    assert.deepEqual(await Promise.all(inflates.map((o) => o.result)), messages);
    assert.deepEqual(inflateOrder, [0, 1, 2, 3, 4]);
    assert.equal(inflates[0]?.sync, true);
    assert.equal(inflates[2]?.sync, false, 'a small message behind a queued one waits its turn');
    // Once the queue is empty, small messages run synchronously again, on the same context.
    const next = started<Buffer>((cb) => server.compress(messages[0] as Buffer, true, cb));
    assert.equal(next.sync, true);
    assert.deepEqual(await decompress(client, await next.result), messages[0]);
    server.close();
    client.close();
  });

  it('a small message started from the callback of one in the thread pool runs at once, in order', async () => {
    const server = new PerMessageDeflate(params(), 'server');
    const client = new PerMessageDeflate(params(), 'client');
    const large = sample(300_000, 8);
    const small = sample(100, 9);
    const outs: Buffer[] = [];
    let smallSync: boolean | undefined;
    await new Promise<void>((resolve, reject) =>
      server.compress(large, true, (e, out) => {
        if (e) return reject(e);
        outs.push(out as Buffer);
        const s = started<Buffer>((cb) => server.compress(small, true, cb));
        smallSync = s.sync;
        s.result.then((o) => resolve(void outs.push(o)), reject);
      }),
    );
    assert.equal(smallSync, true);
    let inflatedSync: boolean | undefined;
    const inflated = await new Promise<Buffer[]>((resolve, reject) =>
      client.decompress(outs[0] as Buffer, true, 1 << 30, (e, first) => {
        if (e) return reject(e);
        const s = started<Buffer>((cb) => client.decompress(outs[1] as Buffer, true, 1 << 30, cb));
        inflatedSync = s.sync;
        s.result.then((second) => resolve([first as Buffer, second]), reject);
      }),
    );
    assert.equal(inflatedSync, true);
    assert.deepEqual(inflated, [large, small]);
    server.close();
    client.close();
  });

  it('a small bomb on the synchronous path fails with 1009 asynchronously, and keeps failing', async () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(4 * 1024 * 1024), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.ok(bomb.length < 8192, 'small enough for the synchronous path');
    const pmd = new PerMessageDeflate(params(), 'server');
    const d = started<Buffer>((cb) => pmd.decompress(bomb.subarray(0, -4), true, 16 * 1024, cb));
    await assert.rejects(d.result, isError(ErrorCode.MESSAGE_TOO_BIG, 1009));
    assert.equal(d.sync, false, 'failures are reported after decompress() returns');
    await assert.rejects(decompress(pmd, hex('f248cdc9c90700')), isError(ErrorCode.MESSAGE_TOO_BIG, 1009));
    pmd.close();
  });

  it('a small message inflating past the synchronous output bound finishes in the thread pool', async () => {
    const big = Buffer.concat(Array.from({ length: 1000 }, () => sample(1000, 7)));
    const client = new PerMessageDeflate(params(), 'client');
    const compressed = await compress(client, big);
    // The second message refers back into the first.
    const second = await compress(client, big.subarray(0, 5000));
    assert.ok(compressed.length < 8192 && second.length < 100);
    const pmd = new PerMessageDeflate(params(), 'server');
    const d = started<Buffer>((cb) => pmd.decompress(compressed, true, 64 * 1024 * 1024, cb));
    assert.equal(d.sync, false);
    assert.deepEqual(await d.result, big);
    const s2 = started<Buffer>((cb) => pmd.decompress(second, true, 64 * 1024 * 1024, cb));
    assert.equal(s2.sync, true);
    assert.deepEqual(await s2.result, big.subarray(0, 5000));
    // A message of exactly 64 KiB still finishes synchronously.
    const exact = big.subarray(0, 64 * 1024);
    const fresh = new PerMessageDeflate(params(), 'server');
    const exactCompressed = zlib
      .deflateRawSync(exact, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      .subarray(0, -4);
    const e = started<Buffer>((cb) => fresh.decompress(exactCompressed, true, 64 * 1024 * 1024, cb));
    assert.equal(e.sync, true);
    assert.deepEqual(await e.result, exact);
    // Past maxBytes after the synchronous part: 1009 as well.
    const other = new PerMessageDeflate(params(), 'server', { syncBelowBytes: compressed.length + 1 });
    await assert.rejects(
      decompress(other, compressed, true, 200_000),
      isError(ErrorCode.MESSAGE_TOO_BIG, 1009),
    );
    pmd.close();
    other.close();
  });

  it('fails invalid data on the synchronous path with 1007, asynchronously', async () => {
    const pmd = new PerMessageDeflate(params(), 'server');
    const d = started<Buffer>((cb) => pmd.decompress(hex('ffffffff'), true, 1024, cb));
    await assert.rejects(d.result, isError(ErrorCode.INVALID_COMPRESSED_DATA, 1007));
    assert.equal(d.sync, false);
    pmd.close();
  });

  it('with syncBelowBytes 0, never calls back before returning', async () => {
    const pmd = new PerMessageDeflate(params(), 'server', { syncBelowBytes: 0 });
    const c = started<Buffer>((cb) => pmd.compress(Buffer.from('Hello'), true, cb));
    assert.equal(c.sync, false);
    assert.deepEqual(await c.result, hex('f248cdc9c90700'));
    pmd.close();
  });

  it('rejects a syncBelowBytes that is not a non-negative integer', () => {
    for (const bad of [-1, 1.5, '1024', Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => new PerMessageDeflate(params(), 'server', { syncBelowBytes: bad as number }),
        (e: unknown) =>
          e instanceof WebSocketError &&
          e.code === ErrorCode.INVALID_ARGUMENT &&
          /perMessageDeflate\.syncBelowBytes must be an integer at least 0/.test(e.message),
      );
    }
  });
});

describe('idle context release (idleContextReleaseMs)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('releases a server compressor without context takeover once idle, and compresses correctly after', async () => {
    const server = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'server', {
      idleContextReleaseMs: 30,
    });
    const text = 'the same words again and again, the same words again and again';
    const first = await compress(server, text);
    assert.equal(server.holdsContexts.deflate, true);
    await sleep(80);
    assert.equal(server.holdsContexts.deflate, false, 'the idle context was released');
    const second = await compress(server, text);
    assert.deepEqual(second, first, 'a fresh context compresses the same way');
    assert.equal(inflateSync(second).toString(), text);
    server.close();
  });

  it('releases a server decompressor when the client has no context takeover; keeps contexts otherwise', async () => {
    const p = params({ clientNoContextTakeover: true });
    const client = new PerMessageDeflate(p, 'client');
    const server = new PerMessageDeflate(p, 'server', { idleContextReleaseMs: 30 });
    const withTakeover = new PerMessageDeflate(params(), 'server', { idleContextReleaseMs: 30 });
    assert.equal((await decompress(server, await compress(client, 'hello hello'))).toString(), 'hello hello');
    await compress(withTakeover, 'kept');
    await sleep(80);
    assert.deepEqual(server.holdsContexts, { deflate: false, inflate: false });
    assert.equal(withTakeover.holdsContexts.deflate, true, 'a context with history is never released');
    assert.equal((await decompress(server, await compress(client, 'again again'))).toString(), 'again again');
    for (const x of [client, server, withTakeover]) x.close();
  });

  it('rejects a negative idleContextReleaseMs', () => {
    assert.throws(
      () => new PerMessageDeflate(params(), 'server', { idleContextReleaseMs: -1 }),
      /idleContextReleaseMs/,
    );
  });
});
