import { argumentError } from './errors.js';
import { maskInto, unmaskInPlace } from './mask.js';

/** Options for one frame. */
export interface FrameOptions {
  /** Final fragment of the message. Default true. */
  fin?: boolean;
  /** RSV1, set by permessage-deflate on the first frame of a compressed message. */
  rsv1?: boolean;
  /** 4-byte masking key: required for frames a client sends (RFC 6455 §5.3), absent for a server. */
  maskKey?: Uint8Array | undefined;
}

/**
 * Below this size the payload is copied behind the header so the frame is a single buffer
 * (one write); above it the payload buffer is written as is, without a copy.
 */
const COPY_THRESHOLD = 16 * 1024;

/** Size of the header for a payload of `length` bytes (RFC 6455 §5.2). */
export function frameHeaderSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

function writeHeader(target: Buffer, opcode: number, length: number, options: FrameOptions): number {
  const fin = options.fin ?? true;
  target[0] = (fin ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0) | opcode;
  const maskBit = options.maskKey ? 0x80 : 0;
  let p: number;
  if (length < 126) {
    target[1] = maskBit | length;
    p = 2;
  } else if (length < 65536) {
    target[1] = maskBit | 126;
    target.writeUInt16BE(length, 2);
    p = 4;
  } else {
    target[1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    target.writeUInt32BE(length >>> 0, 6);
    p = 10;
  }
  if (options.maskKey) {
    target.set(options.maskKey.subarray(0, 4), p);
    p += 4;
  }
  return p;
}

/**
 * Encodes one frame. Returns one buffer, or a header and the caller's payload buffer
 * (unmasked large payloads are never copied; do not modify them until written).
 * Masked frames always get a fresh buffer: the caller's payload is never modified.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, options: FrameOptions = {}): Buffer[] {
  const out: Buffer[] = [];
  writeFrame(out, opcode, payload, options);
  return out;
}

/** `encodeFrame`, appending the buffers to `target` (no intermediate array). */
export function writeFrame(
  target: Buffer[],
  opcode: number,
  payload: Uint8Array,
  options: FrameOptions,
): void {
  const length = payload.length;
  const masked = options.maskKey !== undefined;
  if (masked && options.maskKey!.length !== 4) throw argumentError('maskKey must be exactly 4 bytes');
  const headerSize = frameHeaderSize(length, masked);
  if (!masked && length > COPY_THRESHOLD) {
    const header = Buffer.allocUnsafe(headerSize);
    writeHeader(header, opcode, length, options);
    target.push(
      header,
      Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length),
    );
    return;
  }
  const frame = Buffer.allocUnsafe(headerSize + length);
  const p = writeHeader(frame, opcode, length, options);
  if (masked) maskInto(payload, options.maskKey!, frame, p);
  else frame.set(payload, p);
  target.push(frame);
}

/** Encodes a text frame from a string, writing the UTF-8 bytes straight into the frame buffer. */
export function encodeTextFrame(text: string, options: FrameOptions = {}): Buffer[] {
  const out: Buffer[] = [];
  writeTextFrame(out, text, options);
  return out;
}

/** `encodeTextFrame`, appending the frame to `target`. */
export function writeTextFrame(target: Buffer[], text: string, options: FrameOptions): void {
  const length = Buffer.byteLength(text);
  const masked = options.maskKey !== undefined;
  const headerSize = frameHeaderSize(length, masked);
  const frame = Buffer.allocUnsafe(headerSize + length);
  const p = writeHeader(frame, 0x1, length, options);
  frame.write(text, p, 'utf8');
  if (masked) unmaskInPlace(frame.subarray(p), options.maskKey!, 0);
  target.push(frame);
}
