import { isUtf8 } from 'node:buffer';

/**
 * Incremental UTF-8 validation (RFC 6455 §8.1, RFC 3629) that fails as soon as the bytes seen
 * so far cannot begin a valid text, not only at the end of the message: a message that turns
 * invalid in its second fragment (or in the middle of a frame) is rejected when those bytes
 * arrive.
 *
 * Complete code points are checked with Node's native `isUtf8`; only an incomplete sequence at
 * the end of a piece (at most 3 bytes) is carried to the next piece, after checking that it is a
 * valid prefix.
 */
export class Utf8Validator {
  /** The carried bytes (at most 3), byte i in bits 8i..8i+7: a number, not a buffer per validator. */
  private carryBits = 0;
  private carried = 0;

  /** Validates the next piece. Returns false as soon as the text can no longer be valid. */
  push(piece: Uint8Array): boolean {
    let start = 0;
    if (this.carried > 0) {
      // Complete the carried sequence from the front of this piece.
      const carry = SCRATCH;
      const bits = this.carryBits;
      carry[0] = bits & 0xff;
      carry[1] = (bits >>> 8) & 0xff;
      carry[2] = (bits >>> 16) & 0xff;
      const need = sequenceLength(carry[0]!) - this.carried;
      const take = Math.min(need, piece.length);
      for (let i = 0; i < take; i++) carry[this.carried + i] = piece[i]!;
      const have = this.carried + take;
      if (take < need) {
        this.carried = have;
        this.carryBits = carry[0]! | (carry[1]! << 8) | (carry[2]! << 16);
        return isValidPrefix(carry, have);
      }
      if (!isUtf8(carry.subarray(0, have))) return false;
      this.carried = 0;
      start = take;
    }
    const end = piece.length;
    if (start === end) return true;
    // Find an incomplete sequence at the end: scan back over continuation bytes (at most 3).
    let tail = end;
    for (let i = end - 1; i >= start && i >= end - 3; i--) {
      const b = piece[i]!;
      if ((b & 0xc0) !== 0x80) {
        if (b >= 0xc0 && i + sequenceLength(b) > end) tail = i;
        break;
      }
    }
    if (tail > start && !isUtf8(start === 0 && tail === end ? piece : piece.subarray(start, tail)))
      return false;
    if (tail < end) {
      const n = end - tail;
      const carry = SCRATCH;
      let bits = 0;
      for (let i = 0; i < n; i++) {
        carry[i] = piece[tail + i]!;
        bits |= piece[tail + i]! << (8 * i);
      }
      this.carryBits = bits;
      this.carried = n;
      return isValidPrefix(carry, n);
    }
    return true;
  }

  /** Whether the text ends on a complete code point. Call at the end of the message. */
  end(): boolean {
    const complete = this.carried === 0;
    this.carried = 0;
    return complete;
  }

  reset(): void {
    this.carried = 0;
  }
}

/** Scratch for the carried sequence while it is checked, shared by all validators (never nested). */
const SCRATCH = new Uint8Array(4);

/** Length of the sequence a lead byte starts (0 for a byte that cannot start one). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Whether `bytes[0..n)` (an incomplete sequence) can still become a valid code point
 * (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF).
 */
function isValidPrefix(bytes: Uint8Array, n: number): boolean {
  const lead = bytes[0]!;
  const len = sequenceLength(lead);
  if (len < 2 || n >= len) return false;
  if (n >= 2) {
    const b1 = bytes[1]!;
    let lo = 0x80;
    let hi = 0xbf;
    if (lead === 0xe0) lo = 0xa0;
    else if (lead === 0xed) hi = 0x9f;
    else if (lead === 0xf0) lo = 0x90;
    else if (lead === 0xf4) hi = 0x8f;
    if (b1 < lo || b1 > hi) return false;
  }
  for (let i = 2; i < n; i++) if ((bytes[i]! & 0xc0) !== 0x80) return false;
  return true;
}
