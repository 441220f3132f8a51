// Decompression bombs: a small compressed message that inflates to far more than the message
// size limit must stop inflating as soon as the limit is crossed (close 1009), not after.
//
// DEFLATE cannot expand more than about 1032:1 (one 258-byte match per ~2 bits), so a 1 GiB
// bomb is about 1 MB on the wire, still far below the default 16 MiB frame limit; a bomb of a
// few KB inflates to a few MB.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import zlib from 'node:zlib';
import { PerMessageDeflate } from '../../src/node/deflate.js';
import { ErrorCode, WebSocketError } from '../../src/protocol/errors.js';
import type { DeflateParams } from '../../src/protocol/permessage-deflate.js';

const MiB = 1024 * 1024;
const params: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/**
 * A permessage-deflate payload inflating to `mib` MiB of zeros: one MiB compressed with a sync
 * flush (byte-aligned, about 1 KB), repeated. Each copy only refers to the zeros just before it,
 * so the copies chain. The last copy's 00 00 ff ff tail is removed (RFC 7692 §7.2.1).
 */
function bomb(mib: number): Buffer {
  const unit = zlib.deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const all = Buffer.concat(Array.from({ length: mib }, () => unit));
  return all.subarray(0, all.length - 4);
}

/** Counts the bytes every zlib inflater hands to its readers: what was actually inflated. */
let inflated = 0;
const proto = zlib.InflateRaw.prototype as unknown as { push(chunk: unknown): boolean };
beforeEach(() => {
  inflated = 0;
  const inherited = proto.push;
  proto.push = function (this: unknown, chunk: unknown) {
    if (Buffer.isBuffer(chunk)) inflated += chunk.length;
    return inherited.call(this, chunk);
  };
});
afterEach(() => {
  delete (proto as { push?: unknown }).push;
});

function decompress(pmd: PerMessageDeflate, data: Buffer, fin: boolean, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pmd.decompress(data, fin, maxBytes, (error, out) => (error ? reject(error) : resolve(out as Buffer))),
  );
}

const isTooBig = (e: unknown) =>
  e instanceof WebSocketError && e.code === ErrorCode.MESSAGE_TOO_BIG && e.closeCode === 1009;

describe('decompression bombs', () => {
  it('the bomb construction really inflates to what it claims', () => {
    const small = bomb(3);
    const out = zlib.inflateRawSync(Buffer.concat([small, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.equal(out.length, 3 * MiB);
    assert.ok(small.length < 4 * 1024, `3 MiB from ${small.length} bytes`);
  });

  it('a ~1 MB message inflating to 1 GiB stops within one zlib chunk of a 1 MiB limit, with 1009', async () => {
    const payload = bomb(1024);
    assert.ok(payload.length < 1.5 * MiB, `bomb is ${payload.length} bytes`);
    const pmd = new PerMessageDeflate(params, 'server');
    await assert.rejects(decompress(pmd, payload, true, MiB), isTooBig);
    const atFailure = inflated;
    assert.ok(atFailure > MiB, 'the limit was reached');
    assert.ok(atFailure <= MiB + 16 * 1024, `inflated ${atFailure} bytes for a ${MiB}-byte limit`);
    // zlib stopped: nothing more is inflated afterwards.
    for (let i = 0; i < 20; i++) await nextTurn();
    assert.equal(inflated, atFailure);
    pmd.close();
  });

  it('a smaller zlib chunk size bounds the overshoot more tightly', async () => {
    const pmd = new PerMessageDeflate(params, 'server', { zlibInflateOptions: { chunkSize: 1024 } });
    await assert.rejects(decompress(pmd, bomb(64), true, 100_000), isTooBig);
    assert.ok(inflated > 100_000 && inflated <= 100_000 + 1024, `inflated ${inflated} bytes`);
    pmd.close();
  });

  it('a bomb of a few KB inflating to 4 MiB stops at a 64 KiB limit', async () => {
    const payload = bomb(4);
    assert.ok(payload.length < 5 * 1024);
    const pmd = new PerMessageDeflate(params, 'client');
    await assert.rejects(decompress(pmd, payload, true, 64 * 1024), isTooBig);
    assert.ok(inflated <= 64 * 1024 + 16 * 1024, `inflated ${inflated} bytes`);
    pmd.close();
  });

  it('a bomb split across fragments is counted across them and stops in the fragment that crosses', async () => {
    const payload = bomb(256);
    const pmd = new PerMessageDeflate(params, 'server');
    const size = Math.ceil(payload.length / 100);
    let failedAt = -1;
    for (let i = 0; i * size < payload.length; i++) {
      const fin = (i + 1) * size >= payload.length;
      try {
        await decompress(pmd, payload.subarray(i * size, (i + 1) * size), fin, 2 * MiB);
      } catch (error) {
        assert.ok(isTooBig(error));
        if (failedAt < 0) failedAt = i;
      }
    }
    // Each fragment inflates to ~2.5 MiB, so the first one already crosses 2 MiB.
    assert.equal(failedAt, 0);
    // Later fragments are refused without inflating anything.
    assert.ok(inflated <= 2 * MiB + 16 * 1024, `inflated ${inflated} bytes`);
    pmd.close();
  });

  it('a message exactly at the limit is delivered', async () => {
    const pmd = new PerMessageDeflate(params, 'server');
    const out = await decompress(pmd, bomb(2), true, 2 * MiB);
    assert.equal(out.length, 2 * MiB);
    pmd.close();
  });
});
