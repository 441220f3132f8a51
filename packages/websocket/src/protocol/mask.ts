/**
 * RFC 6455 §5.3 masking: octet i of the payload is XORed with octet (i mod 4) of the key.
 * Masking and unmasking are the same operation.
 *
 * Why words: a byte loop costs ~4x more than XORing aligned 32-bit words, and the payload
 * hot path of a server is unmasking. The aligned middle is processed through a Uint32Array
 * view, so no native addon is needed.
 */

const WORD_THRESHOLD = 32;
/** From this many bytes on, the WebAssembly SIMD loop is used (when the runtime has it). */
const SIMD_THRESHOLD = 256;

/**
 * XORs `data` in place with the 4-byte `key`, starting at key phase `phase` (the number of
 * payload bytes of this frame already processed, for payloads that arrive in pieces).
 */
export function unmaskInPlace(data: Uint8Array, key: Uint8Array, phase = 0): void {
  const len = data.length;
  if (useSimd(len)) {
    simdInto(data, key, phase, data, 0);
    return;
  }
  let i = 0;
  if (len >= WORD_THRESHOLD) {
    // Bytes before the first 4-byte-aligned address.
    const head = (4 - (data.byteOffset & 3)) & 3;
    for (; i < head; i++) data[i]! ^= key[(phase + i) & 3]!;
    const words = (len - i) >>> 2;
    if (words > 0) {
      const p = phase + i;
      // Little-endian word: byte k of the word is the key byte for payload position p + k.
      const k0 = key[p & 3]!;
      const k1 = key[(p + 1) & 3]!;
      const k2 = key[(p + 2) & 3]!;
      const k3 = key[(p + 3) & 3]!;
      const word = isLittleEndian
        ? (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) >>> 0
        : ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3) >>> 0;
      const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
      for (let w = 0; w < words; w++) view[w]! ^= word;
      i += words << 2;
    }
  }
  for (; i < len; i++) data[i]! ^= key[(phase + i) & 3]!;
}

/** Writes `source` XOR `key` into `target` at `offset` (client frames: copy and mask in one pass). */
export function maskInto(source: Uint8Array, key: Uint8Array, target: Uint8Array, offset: number): void {
  xorInto(source, key, 0, target, offset);
}

/**
 * Writes `source` XOR `key` (from key phase `phase`) into `target` at `offset`: a copy and an
 * unmask in one pass, e.g. a payload out of an input chunk into a buffer of its own.
 */
export function xorInto(
  source: Uint8Array,
  key: Uint8Array,
  phase: number,
  target: Uint8Array,
  offset: number,
): void {
  const len = source.length;
  if (useSimd(len)) {
    simdInto(source, key, phase, target, offset);
    return;
  }
  target.set(source, offset);
  unmaskInPlace(
    offset === 0 && len === target.length ? target : target.subarray(offset, offset + len),
    key,
    phase,
  );
}

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * 128-bit SIMD XOR in WebAssembly: about 8x the word loop above for 64 KiB pieces (35 vs 4 GB/s
 * on the benchmark machine, copies in and out included), with no native addon. The module is
 * the one below, assembled with wabt (154 bytes); it exports its memory (one 64 KiB page) and
 * `xor(ptr, len, key)`, which XORs `len` bytes (a multiple of 64) with the key repeated.
 *
 *   (module
 *     (memory (export "memory") 1)
 *     (func (export "xor") (param $ptr i32) (param $len i32) (param $key i32)
 *       (local $k v128) (local $end i32)
 *       (local.set $k (i32x4.splat (local.get $key)))
 *       (local.set $end (i32.add (local.get $ptr) (local.get $len)))
 *       (block $done
 *         (loop $loop
 *           (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
 *           ;; four times, at offset=0, 16, 32 and 48:
 *           (v128.store offset=0 (local.get $ptr)
 *             (v128.xor (v128.load offset=0 (local.get $ptr)) (local.get $k)))
 *           (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
 *           (br $loop)))))
 *
 * Where WebAssembly or its SIMD instructions are missing (or forbidden, as by a browser's CSP),
 * loading fails once and the word loop is used.
 */
const SIMD_MODULE =
  'AGFzbQEAAAABBwFgA39/fwADAgEABQMBAAEHEAIGbWVtb3J5AgADeG9yAAAKbAFqAgF7AX8gAv0RIQMgACABaiEEAkADQCAAIARPDQEgACAA/QAEACAD/VH9CwQAIAAgAP0ABBAgA/1R/QsEECAAIAD9AAQgIAP9Uf0LBCAgACAA/QAEMCAD/VH9CwQwIABBwABqIQAMAAsLCw==';
/** Bytes XORed per call: the module's one page. */
const SIMD_SLICE = 65536;

interface Simd {
  memory: Uint8Array;
  xor: (ptr: number, len: number, key: number) => void;
}

/** undefined: not tried yet; null: not available. */
let simd: Simd | null | undefined;

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: { buffer: ArrayBuffer }; xor: Simd['xor'] } };
}

function loadSimd(): Simd | null {
  simd = null;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm) return null;
    const bytes = Uint8Array.from(atob(SIMD_MODULE), (c) => c.charCodeAt(0));
    const { exports } = new wasm.Instance(new wasm.Module(bytes));
    simd = { memory: new Uint8Array(exports.memory.buffer), xor: exports.xor };
  } catch {
    simd = null;
  }
  return simd;
}

/** Whether `len` bytes go through the SIMD routine (loaded on first use). */
function useSimd(len: number): boolean {
  return len >= SIMD_THRESHOLD && simd !== null && (simd !== undefined || loadSimd() !== null);
}

function simdInto(
  source: Uint8Array,
  key: Uint8Array,
  phase: number,
  target: Uint8Array,
  offset: number,
): void {
  const { memory, xor } = simd!;
  const len = source.length;
  // WebAssembly memory is little-endian: byte k of the word is the key byte for offset k.
  const word =
    key[phase & 3]! |
    (key[(phase + 1) & 3]! << 8) |
    (key[(phase + 2) & 3]! << 16) |
    (key[(phase + 3) & 3]! << 24);
  const whole = len - (len & 63);
  // Slices are multiples of 64 bytes, so every slice starts at the same key phase.
  for (let at = 0; at < whole; at += SIMD_SLICE) {
    const n = Math.min(SIMD_SLICE, whole - at);
    memory.set(at === 0 && n === len ? source : source.subarray(at, at + n), 0);
    xor(0, n, word);
    target.set(n === SIMD_SLICE ? memory : memory.subarray(0, n), offset + at);
  }
  for (let i = whole; i < len; i++) target[offset + i] = source[i]! ^ key[(phase + i) & 3]!;
}
