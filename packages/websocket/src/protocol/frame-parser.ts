import { CloseCode } from './close-codes.js';
import { ErrorCode, protocolError, WebSocketError } from './errors.js';
import { unmaskInPlace, xorInto } from './mask.js';
import { isControlOpcode } from './opcodes.js';

/** A parsed frame header (RFC 6455 §5.2). */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** Payload length in bytes, already checked against `maxFrameBytes`. */
  length: number;
}

/**
 * Receives what the parser finds. Methods may throw a WebSocketError to fail the connection;
 * the parser then discards all further input.
 */
export interface FrameSink {
  /** A complete header was read. Payload pieces (if any) follow, then `frameEnd`. */
  frameHeader(header: FrameHeader): void;
  /**
   * The next piece of the current frame's payload, already unmasked. `owned` false: a view into
   * the input chunk (no copy), keep it only if you own that chunk's lifetime. `owned` true: the
   * whole payload of a small frame, copied out of the chunk (unmasked on the way): keep it as is.
   */
  framePayload(piece: Buffer, owned: boolean): void;
  frameEnd(): void;
  /**
   * Optional: a buffer of `length` bytes (the frame's payload length) for the parser to write the
   * rest of this frame's payload into, unmasking on the way, instead of unmasking it in place in
   * the input chunks. Asked once per frame, only for a frame of at least 16 KiB that spans input
   * chunks and of which at least a sixteenth has arrived (so no more than 16 bytes are allocated
   * per byte received). The first `filled` bytes were passed to `framePayload` already; the sink
   * puts them in place. Afterwards each piece passed to `framePayload` is a view into the buffer.
   * Return undefined to keep receiving views into the input chunks.
   */
  payloadTarget?(length: number, filled: number): Buffer | undefined;
}

export interface FrameParserOptions {
  /** RFC 6455 §5.1: a server MUST fail on unmasked frames; a client MUST fail on masked ones. */
  expectMasked: boolean;
  /** Largest payload accepted in one frame, in bytes. Exceeded: close 1009. */
  maxFrameBytes: number;
}

enum Stage {
  HEADER,
  PAYLOAD,
  FAILED,
}

/**
 * A frame whose whole payload is in one input chunk, and is smaller than this or than half of
 * the chunk's memory, is copied out of the chunk (and unmasked) in one pass: the assembler would
 * copy such a piece anyway, so that a small message does not keep a large chunk alive.
 */
const COPY_OUT_BYTES = 1024;
/** Below this many bytes a byte loop beats a typed-array copy plus a word-wise unmask. */
const BYTE_LOOP_BYTES = 64;
/** Frames from this size on may be written into a buffer of their own (FrameSink.payloadTarget). */
const TARGET_MIN_BYTES = 16 * 1024;
/** A payload target is asked for once 1/16 of the frame has arrived: it allocates at most 16x that. */
const TARGET_AMPLIFICATION = 16;

/**
 * Streaming frame parser: correct under any chunking, zero-copy for payload bytes, and it
 * checks the declared length against the limit before buffering any payload.
 *
 * Input chunks are unmasked in place: the caller hands over ownership of each chunk.
 */
export class FrameParser {
  private stage = Stage.HEADER;
  /** Payload bytes of the current frame still to come, and how many came already (mask phase). */
  private remaining = 0;
  private phase = 0;
  /**
   * Bytes of an incomplete header, at most 14: allocated the first time a header is split
   * across chunks (from the shared pool: no backing store of its own), not for every parser.
   */
  private headerBytes: Buffer | undefined;
  private headerFill = 0;
  /** The current frame's masking key, bytes 0-3 little-endian (an int32: no Buffer per parser). */
  private maskBits = 0;
  private masked = false;
  /** The buffer the current frame's payload goes into; undefined: not asked yet, null: declined. */
  private target: Buffer | null | undefined;
  private readonly sink: FrameSink;
  private readonly expectMasked: boolean;
  private readonly maxFrameBytes: number;

  constructor(sink: FrameSink, options: FrameParserOptions) {
    this.sink = sink;
    this.expectMasked = options.expectMasked;
    this.maxFrameBytes = options.maxFrameBytes;
  }

  /** The shared key buffer, holding this parser's masking key. */
  private key(): Buffer {
    if (keyOwner !== this) {
      KEY.writeInt32LE(this.maskBits, 0);
      keyOwner = this;
    }
    return KEY;
  }

  /** Parses `chunk`. Throws the sink's or the parser's WebSocketError; afterwards input is ignored. */
  push(chunk: Buffer): void {
    let offset = 0;
    const len = chunk.length;
    try {
      while (offset < len) {
        const stage = this.stage;
        if (stage === Stage.PAYLOAD) {
          const remaining = this.remaining;
          if (
            this.phase === 0 &&
            remaining <= len - offset &&
            (remaining < COPY_OUT_BYTES || remaining * 2 < chunk.buffer.byteLength)
          ) {
            this.sink.framePayload(this.copyOut(chunk, offset, remaining), true);
            offset += remaining;
            this.remaining = 0;
            this.endFrame();
            continue;
          }
          const take = Math.min(remaining, len - offset);
          const phase = this.phase;
          let piece = chunk.subarray(offset, offset + take);
          let target = this.target;
          if (
            target === undefined &&
            take < remaining &&
            phase + remaining >= TARGET_MIN_BYTES &&
            (phase + take) * TARGET_AMPLIFICATION >= phase + remaining
          ) {
            target = this.sink.payloadTarget?.(phase + remaining, phase) ?? null;
            this.target = target;
          }
          if (target) {
            // Unmasked while copied into the message's buffer: one pass fewer than unmasking in
            // place and concatenating the pieces at the end.
            if (this.masked) xorInto(piece, this.key(), phase, target, phase);
            else target.set(piece, phase);
            piece = target.subarray(phase, phase + take);
          } else if (this.masked) {
            unmaskInPlace(piece, this.key(), phase);
          }
          offset += take;
          this.remaining = remaining - take;
          this.phase = phase + take;
          this.sink.framePayload(piece, false);
          if (this.remaining === 0) this.endFrame();
        } else if (stage === Stage.HEADER) {
          offset = this.readHeader(chunk, offset);
        } else {
          return;
        }
      }
    } catch (error) {
      this.stage = Stage.FAILED;
      this.target = undefined;
      throw error;
    }
  }

  /** Whether the parser stopped at a frame boundary (no partial frame is pending). */
  get atFrameBoundary(): boolean {
    return this.stage === Stage.HEADER && this.headerFill === 0;
  }

  /** Stops parsing: all further input is discarded (after a close or a failure). */
  stop(): void {
    this.stage = Stage.FAILED;
    this.target = undefined;
  }

  private endFrame(): void {
    this.stage = Stage.HEADER;
    this.target = undefined;
    this.sink.frameEnd();
  }

  /** A new buffer with `n` payload bytes of `chunk` from `offset`, unmasked. */
  private copyOut(chunk: Buffer, offset: number, n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    if (n < BYTE_LOOP_BYTES) {
      if (this.masked) {
        const key = this.key();
        for (let i = 0; i < n; i++) out[i] = chunk[offset + i]! ^ key[i & 3]!;
      } else {
        for (let i = 0; i < n; i++) out[i] = chunk[offset + i]!;
      }
    } else if (this.masked) {
      xorInto(chunk.subarray(offset, offset + n), this.key(), 0, out, 0);
    } else {
      chunk.copy(out, 0, offset, offset + n);
    }
    return out;
  }

  /** Reads header bytes from `chunk` at `offset`; returns the new offset. */
  private readHeader(chunk: Buffer, offset: number): number {
    let buf: Buffer;
    let at: number;
    let avail: number;
    if (this.headerFill === 0) {
      buf = chunk;
      at = offset;
      avail = chunk.length - offset;
    } else {
      // Complete a header split across chunks in the 14-byte scratch buffer.
      const need = Math.min(14 - this.headerFill, chunk.length - offset);
      buf = this.headerBytes!;
      chunk.copy(buf, this.headerFill, offset, offset + need);
      at = 0;
      avail = this.headerFill + need;
    }
    const size = headerSize(buf, at, avail);
    if (size === 0 || avail < size) {
      // Not enough bytes yet: stash what we have (never more than 14 bytes).
      if (this.headerFill === 0) {
        this.headerBytes ??= Buffer.allocUnsafe(14);
        chunk.copy(this.headerBytes, 0, offset);
        this.headerFill = chunk.length - offset;
      } else {
        this.headerFill = avail;
      }
      return chunk.length;
    }
    const consumedFromChunk = size - this.headerFill;
    this.headerFill = 0;
    this.parseHeader(buf, at);
    return offset + consumedFromChunk;
  }

  private parseHeader(buf: Buffer, at: number): void {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    if (masked !== this.expectMasked) {
      throw this.expectMasked
        ? protocolError(ErrorCode.EXPECTED_MASK, 'RFC 6455 §5.1: a client MUST mask every frame it sends')
        : protocolError(ErrorCode.UNEXPECTED_MASK, 'RFC 6455 §5.1: a server MUST NOT mask frames it sends');
    }
    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented.
      if (length > 125) {
        throw protocolError(
          ErrorCode.INVALID_CONTROL_PAYLOAD_LENGTH,
          'Control frame payload is longer than 125 bytes',
        );
      }
      if (!fin) throw protocolError(ErrorCode.EXPECTED_FIN, 'Control frames must not be fragmented');
    }
    let p = at + 2;
    if (length === 126) {
      length = buf.readUInt16BE(p);
      p += 2;
      // RFC 6455 §5.2: the minimal number of bytes MUST be used to encode the length.
      if (length < 126)
        throw protocolError(ErrorCode.INVALID_LENGTH, 'Frame length is not minimally encoded');
    } else if (length === 127) {
      const hi = buf.readUInt32BE(p);
      const lo = buf.readUInt32BE(p + 4);
      p += 8;
      // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
      if (hi & 0x80000000)
        throw protocolError(ErrorCode.INVALID_LENGTH, '64-bit frame length has its top bit set');
      if (hi === 0 && lo < 65536) {
        throw protocolError(ErrorCode.INVALID_LENGTH, 'Frame length is not minimally encoded');
      }
      // Lengths above 2^53 - 1 cannot be represented exactly (ws fails them the same way).
      if (hi > 0x1fffff) {
        throw new WebSocketError(
          ErrorCode.UNSUPPORTED_DATA_PAYLOAD_LENGTH,
          'Frame payload length is above 2^53 - 1',
          CloseCode.MESSAGE_TOO_BIG,
        );
      }
      length = hi * 0x100000000 + lo;
    }
    if (length > this.maxFrameBytes) throw frameTooBig(length, this.maxFrameBytes);
    this.masked = masked;
    if (masked) {
      KEY[0] = buf[p]!;
      KEY[1] = buf[p + 1]!;
      KEY[2] = buf[p + 2]!;
      KEY[3] = buf[p + 3]!;
      this.maskBits = KEY.readInt32LE(0);
      keyOwner = this;
    }
    this.sink.frameHeader({
      fin,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode,
      masked,
      length,
    });
    if (length === 0) {
      this.sink.frameEnd();
    } else {
      this.stage = Stage.PAYLOAD;
      this.remaining = length;
      this.phase = 0;
    }
  }
}

/** The error for a frame whose declared length is over the limit: close 1009. */
export function frameTooBig(length: number, maxFrameBytes: number): WebSocketError {
  return new WebSocketError(
    ErrorCode.FRAME_TOO_BIG,
    `Frame payload of ${length} bytes exceeds maxFrameBytes (${maxFrameBytes})`,
    CloseCode.MESSAGE_TOO_BIG,
  );
}

/**
 * The masking key of the frame being unmasked, shared by all parsers (parsing never nests):
 * `keyOwner` is the parser whose key it holds; another parser rewrites it from its `maskBits`.
 */
const KEY = Buffer.alloc(4);
let keyOwner: FrameParser | undefined;

/** Total header size given the first bytes, or 0 if fewer than 2 bytes are available. */
function headerSize(buf: Buffer, at: number, avail: number): number {
  if (avail < 2) return 0;
  const b1 = buf[at + 1]!;
  const len7 = b1 & 0x7f;
  let size = 2 + ((b1 & 0x80) !== 0 ? 4 : 0);
  if (len7 === 126) size += 2;
  else if (len7 === 127) size += 8;
  return size;
}
