// RFC 6455 §5.3 masking: every code path of unmaskInPlace (byte loop, 32-bit words, WebAssembly
// SIMD in 64 KiB slices) must equal the definition, octet i XOR key octet (phase + i) mod 4.
import assert from 'node:assert/strict';
import { it, describe as suite } from 'node:test';
import { unmaskInPlace, xorInto } from '../../src/protocol/mask.js';

/** The definition, one octet at a time. */
function reference(data: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  return data.map((b, i) => b ^ key[(phase + i) & 3]!);
}

let seed = 12345;
function random(): number {
  // xorshift32: deterministic, so a failure can be reproduced.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x100000000;
}
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => (random() * 256) | 0);

suite('RFC 6455 §5.3 masking (unmaskInPlace)', () => {
  const sizes = [
    0, 1, 3, 4, 31, 32, 33, 63, 64, 255, 256, 257, 319, 1000, 4096, 65535, 65536, 65600, 200_000,
  ];
  for (const size of sizes) {
    it(`equals the octet-by-octet definition for ${size} bytes at every alignment and key phase`, () => {
      for (let offset = 0; offset < 4; offset++) {
        for (const phase of [0, 1, 2, 3, 7]) {
          const key = randomBytes(4);
          const backing = randomBytes(size + offset);
          const data = backing.subarray(offset);
          const expected = reference(data, key, phase);
          unmaskInPlace(data, key, phase);
          assert.deepEqual(data, expected, `size ${size}, offset ${offset}, phase ${phase}`);
        }
      }
    });
  }

  for (const size of [0, 5, 63, 64, 256, 1000, 65536, 70_000]) {
    it(`xorInto copies and unmasks ${size} bytes into another buffer at an offset, source untouched`, () => {
      for (const phase of [0, 3]) {
        const key = randomBytes(4);
        const source = randomBytes(size);
        const before = Uint8Array.from(source);
        const target = randomBytes(size + 10);
        const around = Uint8Array.from(target);
        xorInto(source, key, phase, target, 7);
        assert.deepEqual(target.subarray(7, 7 + size), reference(source, key, phase));
        assert.deepEqual(source, before, 'the source is not modified');
        assert.deepEqual(target.subarray(0, 7), around.subarray(0, 7));
        assert.deepEqual(target.subarray(7 + size), around.subarray(7 + size));
      }
    });
  }

  it('leaves the bytes around a view untouched', () => {
    const backing = randomBytes(70_000);
    const copy = Uint8Array.from(backing);
    unmaskInPlace(backing.subarray(5, 69_995), Uint8Array.of(1, 2, 3, 4), 0);
    assert.deepEqual(backing.subarray(0, 5), copy.subarray(0, 5));
    assert.deepEqual(backing.subarray(69_995), copy.subarray(69_995));
  });

  it('masking twice gives the original back', () => {
    const data = randomBytes(100_000);
    const original = Uint8Array.from(data);
    const key = randomBytes(4);
    unmaskInPlace(data, key, 2);
    assert.notDeepEqual(data, original);
    unmaskInPlace(data, key, 2);
    assert.deepEqual(data, original);
  });
});
