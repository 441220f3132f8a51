// How binary crosses codecs. MessagePack carries a `Uint8Array` as its own `bin` type; JSON has
// none, so the JSON codec writes one as `{"$bin":"<base64>"}` and reads that back as a
// `Uint8Array`. An object whose only key is `$bin` is therefore reserved: the server refuses to
// store one as data. docs/realtime-protocol.md ("Binary data") is the normative text.
import { ProtocolViolation } from './messages.js';

/** The key of the JSON form of binary data: `{"$bin": "<base64, RFC 4648 §4, padded>"}`. */
export const BINARY_MARKER = '$bin';

type NodeBufferLike = {
  from(data: ArrayBufferLike, offset: number, length: number): { toString(encoding: 'base64'): string };
  from(data: string, encoding: 'base64'): Uint8Array;
};
// Node's Buffer when there is one (fast), else btoa/atob (browsers).
const NodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;
const g = globalThis as unknown as { btoa(s: string): string; atob(s: string): string };

// RFC 4648 §4 with padding, nothing else: lenient decoders would turn garbage into bytes.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return g.btoa(s);
}

function fromBase64(s: string): Uint8Array {
  if (!BASE64.test(s)) throw new ProtocolViolation(`${BINARY_MARKER} must hold base64 (RFC 4648 §4)`);
  if (NodeBuffer) {
    const b = NodeBuffer.from(s, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const raw = g.atob(s);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Whether `o` is the JSON form of binary data: a plain object whose only key is `$bin`. */
export function isBinaryMarker(o: object): boolean {
  if (Array.isArray(o)) return false;
  let n = 0;
  for (const k in o) {
    if (k !== BINARY_MARKER || ++n > 1) return false;
  }
  return n === 1;
}

/**
 * `value` with every `Uint8Array` (Buffers included) replaced by `{ $bin: base64 }`, for JSON.
 * Copies only the objects on the way to binary data; returns `value` itself when there is none.
 */
export function binaryToJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return { [BINARY_MARKER]: toBase64(value) };
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const w = binaryToJson(v);
      if (w !== v) {
        copy ??= value.slice();
        copy[i] = w;
      }
    }
    return copy ?? value;
  }
  // An object with toJSON (a Date) is left to JSON.stringify.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  let copy: Record<string, unknown> | undefined;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = (value as Record<string, unknown>)[k];
    const w = binaryToJson(v);
    if (w !== v) {
      copy ??= { ...(value as Record<string, unknown>) };
      setOwn(copy, k, w);
    }
  }
  return copy ?? value;
}

/**
 * Replaces, in place, every `{ $bin: base64 }` in freshly parsed JSON by its bytes. Iterative, so
 * any nesting JSON.parse accepted is walked without growing the call stack. Throws
 * `ProtocolViolation` for a marker that does not hold base64.
 */
export function binaryFromJson(root: unknown): unknown {
  if (typeof root !== 'object' || root === null) return root;
  if (isBinaryMarker(root)) return markerBytes(root);
  const stack: object[] = [root];
  while (stack.length > 0) {
    const o = stack.pop() as Record<string, unknown>;
    if (Array.isArray(o)) {
      // Indexes, not `for...in`: that makes a string key per element (3 times slower).
      for (let i = 0; i < o.length; i++) {
        const v: unknown = o[i];
        if (typeof v !== 'object' || v === null) continue;
        if (isBinaryMarker(v)) o[i] = markerBytes(v);
        else stack.push(v);
      }
      continue;
    }
    for (const k in o) {
      const v = o[k];
      if (typeof v !== 'object' || v === null) continue;
      if (isBinaryMarker(v)) setOwn(o, k, markerBytes(v));
      else stack.push(v);
    }
  }
  return root;
}

/** `o[k] = v`, except that a key named `__proto__` (JSON.parse makes it an own key) stays a key. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

function markerBytes(marker: object): Uint8Array {
  const s = (marker as Record<string, unknown>)[BINARY_MARKER];
  if (typeof s !== 'string') throw new ProtocolViolation(`${BINARY_MARKER} must hold a base64 string`);
  return fromBase64(s);
}

/**
 * Whether JSON text may hold a binary marker: `$bin` written out, or any `\u00XX` escape (which
 * could spell it). Lets the decoder skip the walk for the messages that cannot.
 */
export const mayHoldBinary = (text: string): boolean =>
  text.includes(BINARY_MARKER) || text.includes('\\u00');
