// The synchronous permessage-deflate path (docs/websocket.md, `syncBelowBytes`) relies on a
// node:zlib internal, the native handle's `writeSync`. These tests fail on a supported Node.js
// version where it disappears (scripts/test-node-versions.mjs runs them on 20, 22 and 24 in CI),
// and check that without it compression and inflation still work, in the thread pool.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { PerMessageDeflate } from '../../src/node/deflate.js';
import type { DeflateParams } from '../../src/protocol/permessage-deflate.js';

/** Node.js major versions documented (docs/websocket.md) to take the synchronous path. */
const SYNC_MAJORS = [20, 22, 24];
const major = Number(process.versions.node.split('.')[0]);

const params: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const message = Buffer.from(JSON.stringify({ type: 'chat', text: 'hello '.repeat(40) }));

interface Outcome {
  out: Buffer;
  /** The callback ran before the call returned. */
  sync: boolean;
}

function compress(pmd: PerMessageDeflate, data: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let returned = false;
    pmd.compress(data, true, (error, out) => {
      if (error) reject(error);
      else resolve({ out: out!, sync: !returned });
    });
    returned = true;
  });
}

function decompress(pmd: PerMessageDeflate, data: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let returned = false;
    pmd.decompress(data, true, 1 << 20, (error, out) => {
      if (error) reject(error);
      else resolve({ out: out!, sync: !returned });
    });
    returned = true;
  });
}

/** Hides the handle's `writeSync` on this stream, as a Node.js without it would. */
function removeWriteSync(stream: zlib.DeflateRaw | zlib.InflateRaw): void {
  const handle = (stream as unknown as { _handle: Record<string, unknown> })._handle;
  assert.ok(handle, 'the zlib stream has a native handle');
  Object.defineProperty(handle, 'writeSync', { value: undefined, configurable: true });
}

const internals = (pmd: PerMessageDeflate) =>
  pmd as unknown as { getDeflater(): zlib.DeflateRaw; getInflater(): zlib.InflateRaw };

describe('permessage-deflate synchronous path', { timeout: 10_000 }, () => {
  it(`is taken on Node.js ${SYNC_MAJORS.join(', ')} (zlib handle writeSync present)`, async (t) => {
    const server = new PerMessageDeflate(params, 'server');
    const client = new PerMessageDeflate(params, 'client');
    try {
      const compressed = await compress(server, message);
      const inflated = await decompress(client, compressed.out);
      assert.deepEqual(inflated.out, message);
      if (SYNC_MAJORS.includes(major)) {
        assert.equal(compressed.sync, true, `Node.js ${process.version}: compress should run synchronously`);
        assert.equal(inflated.sync, true, `Node.js ${process.version}: decompress should run synchronously`);
      } else {
        t.diagnostic(
          `Node.js ${process.version} is not in the documented list; synchronous path: ${compressed.sync && inflated.sync}`,
        );
      }
    } finally {
      server.close();
      client.close();
    }
  });

  it('falls back to the thread pool, with the same bytes and context, when writeSync is missing', async () => {
    const server = new PerMessageDeflate(params, 'server');
    const client = new PerMessageDeflate(params, 'client');
    const reference = zlib.createInflateRaw();
    try {
      removeWriteSync(internals(server).getDeflater());
      removeWriteSync(internals(client).getInflater());
      // Two messages: the second refers back to the first (context takeover survives the fallback).
      for (let i = 0; i < 2; i++) {
        const compressed = await compress(server, message);
        assert.equal(compressed.sync, false, 'compress must go to the thread pool');
        const inflated = await decompress(client, compressed.out);
        assert.equal(inflated.sync, false, 'decompress must go to the thread pool');
        assert.deepEqual(inflated.out, message);
        // An independent inflater with the same history agrees.
        const check = await new Promise<Buffer>((resolve, reject) => {
          reference.write(Buffer.concat([compressed.out, TAIL]));
          reference.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            const chunks: Buffer[] = [];
            let chunk: Buffer | null = reference.read() as Buffer | null;
            while (chunk !== null) {
              chunks.push(chunk);
              chunk = reference.read() as Buffer | null;
            }
            resolve(Buffer.concat(chunks));
          });
          reference.once('error', reject);
        });
        assert.deepEqual(check, message);
      }
    } finally {
      server.close();
      client.close();
      reference.close();
    }
  });
});
