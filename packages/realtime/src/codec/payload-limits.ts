// The bounds every stored payload keeps, checked once at publish for every codec: a message that
// is stored must encode with each of them, on every live delivery and every replay. (A payload too
// deep for one codec used to be stored, then fail on each delivery: a poison message.)
import { ExtData } from '@msgpack/msgpack';
import { BINARY_MARKER, isBinaryMarker } from './binary.js';
import { ErrorCodes } from './messages.js';

export interface PayloadLimits {
  /**
   * Deepest nesting of arrays and objects in a published payload (`1` is `1`, `{}` and `[]` are
   * 1, `{ a: [] }` is 2). Default 32; at most 90, since MessagePack encodes 100 levels and the
   * message around the payload takes some. Deeper: the publish fails with `payload-too-deep`.
   */
  maxPayloadDepth: number;
  /**
   * Largest published payload, in bytes of its JSON form (the larger one: binary data counts as
   * its base64 text), estimated: strings by their UTF-8 length, numbers as 12. Default
   * `maxMessageBytes` (1 MiB). Larger: the publish fails with `payload-too-large`.
   */
  maxPayloadBytes: number;
}

/** Deepest `maxPayloadDepth` accepted (see `PayloadLimits`). */
export const MAX_PAYLOAD_DEPTH = 90;
export const DEFAULT_PAYLOAD_DEPTH = 32;

export type PayloadCheck =
  | { ok: true; bytes: number }
  | { ok: false; code: string; message: string; bytes: number };

const unsupported = (what: string, bytes: number): PayloadCheck => ({
  ok: false,
  code: ErrorCodes.UNSUPPORTED_PAYLOAD,
  message: `the payload holds ${what}, which not every codec carries alike`,
  bytes,
});

const tooLarge = (limits: PayloadLimits, bytes: number): PayloadCheck => ({
  ok: false,
  code: ErrorCodes.PAYLOAD_TOO_LARGE,
  message: `the payload is larger than ${limits.maxPayloadBytes} bytes`,
  bytes,
});

/**
 * Walks `value` once (iteratively: any depth, no recursion) and returns its estimated size, or
 * why it may not be stored: deeper than `maxPayloadDepth`, larger than `maxPayloadBytes` (the
 * walk stops there, so its cost is bounded by the limit), or holding a value the codecs would
 * carry differently or not at all (see `ErrorCodes.UNSUPPORTED_PAYLOAD`). A cycle is too deep.
 */
export function checkPayload(value: unknown, limits: PayloadLimits): PayloadCheck {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  let bytes = 0;
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (bytes > limits.maxPayloadBytes) return tooLarge(limits, bytes);
    switch (typeof v) {
      case 'string':
        bytes += Buffer.byteLength(v) + 2;
        continue;
      case 'number':
        if (!Number.isFinite(v)) return unsupported(String(v), bytes);
        bytes += 12;
        continue;
      case 'boolean':
      case 'undefined':
        bytes += 5;
        continue;
      case 'object':
        break;
      default:
        return unsupported(`a ${typeof v}`, bytes);
    }
    if (v === null) {
      bytes += 5;
      continue;
    }
    if (v instanceof Uint8Array) {
      bytes += Math.ceil(v.byteLength / 3) * 4 + BINARY_MARKER.length + 6;
      continue;
    }
    if (v instanceof Date) {
      // A MessagePack timestamp beyond a Date's range: JSON would carry null, MessagePack 1970.
      if (Number.isNaN(v.getTime())) return unsupported('an invalid Date', bytes);
      bytes += 30;
      continue;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      return unsupported('binary data other than a Uint8Array', bytes);
    }
    if (v instanceof ExtData || v instanceof Map || v instanceof Set) {
      return unsupported(`a ${v.constructor.name}`, bytes);
    }
    if (depth + 1 > limits.maxPayloadDepth) {
      return {
        ok: false,
        code: ErrorCodes.PAYLOAD_TOO_DEEP,
        message: `the payload nests deeper than ${limits.maxPayloadDepth} levels`,
        bytes,
      };
    }
    if (Array.isArray(v)) {
      bytes += 2 + v.length;
      if (bytes > limits.maxPayloadBytes) continue; // refused at the top of the loop
      for (let i = v.length - 1; i >= 0; i--) {
        values.push(v[i]);
        depths.push(depth + 1);
      }
      continue;
    }
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      return unsupported('an object with toJSON', bytes);
    }
    if (isBinaryMarker(v))
      return unsupported(`an object whose only key is ${BINARY_MARKER} (reserved)`, bytes);
    bytes += 2;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      bytes += Buffer.byteLength(k) + 4;
      if (bytes > limits.maxPayloadBytes) break;
      values.push((v as Record<string, unknown>)[k]);
      depths.push(depth + 1);
    }
  }
  if (bytes > limits.maxPayloadBytes) return tooLarge(limits, bytes);
  return { ok: true, bytes };
}

/** Estimated bytes of `value` (as `checkPayload` counts them), for accounting stored history. */
export function payloadBytes(value: unknown): number {
  return checkPayload(value, { maxPayloadDepth: 1000, maxPayloadBytes: Number.MAX_SAFE_INTEGER }).bytes;
}
