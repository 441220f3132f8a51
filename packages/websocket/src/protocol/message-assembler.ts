import { CloseCode } from './close-codes.js';
import { ErrorCode, WebSocketError } from './errors.js';
import { compressedBound, type Limits } from './limits.js';
import { Utf8Validator } from './utf8-validator.js';

/** Pieces smaller than this, or smaller than half their input chunk, are copied into blocks. */
const SMALL_PIECE_BYTES = 1024;
const BLOCK_BYTES = 16 * 1024;

/**
 * Collects the payload pieces of one message (all its frames) and enforces the message limits.
 *
 * Memory: a piece that is a large part of its input chunk is kept by reference (no copy); a
 * small piece is copied into a 16 KiB block, so a peer cannot make us retain a 64 KiB socket
 * chunk for every byte it sends, and the number of held buffers stays bounded.
 */
export class MessageAssembler {
  /** A message that is one owned piece (the common case) is held here, without `parts`. */
  private whole: Buffer | undefined;
  /** Created with the first piece that is not `whole`: an idle connection holds no array. */
  private parts: Buffer[] | undefined;
  private block: Buffer | undefined;
  private blockFill = 0;
  private bytes = 0;
  private frames = 0;
  /** Leading entries of `parts` that are already merged blocks. */
  private merged = 0;
  /** Created with the first uncompressed text message. */
  private utf8: Utf8Validator | undefined;
  private validateUtf8 = false;
  /** The message is compressed (RSV1): its bytes are checked against `compressedBound`. */
  private compressed = false;
  /** Declared payload bytes of the current frame not pushed yet. */
  private frameRemaining = 0;
  /** The message's own buffer, when the parser writes its payload there (see `target`). */
  private direct: Buffer | undefined;

  constructor(private readonly limits: Limits) {}

  /** Total payload bytes received so far for this message. */
  get size(): number {
    return this.bytes;
  }

  /** Starts a message. `validateUtf8` is set for uncompressed text; `compressed` when RSV1 is set. */
  start(validateUtf8: boolean, compressed = false): void {
    this.validateUtf8 = validateUtf8;
    this.compressed = compressed;
    if (validateUtf8) this.utf8 ??= new Utf8Validator();
    this.frames = 0;
  }

  /** Accounts for a new frame of `length` declared bytes; throws 1009 on any limit. */
  addFrame(length: number): void {
    this.frames++;
    this.frameRemaining = length;
    // Count empty frames too: a flood of empty fragments costs CPU and allocations.
    if (this.frames > this.limits.maxFragments) {
      throw new WebSocketError(
        ErrorCode.TOO_MANY_FRAGMENTS,
        `Message has more than maxFragments (${this.limits.maxFragments}) frames`,
        // As ws: a policy limit on parts (1008), not a size (1009).
        CloseCode.POLICY_VIOLATION,
      );
    }
    // A compressed message's inflated size is checked exactly by the decompressor; its
    // compressed bytes may exceed the limit by the worst-case deflate overhead (plus a flush
    // per fragment), so a message of exactly the limit that does not compress is accepted.
    const max = this.compressed
      ? compressedBound(this.limits.maxMessageBytes) + 16 * (this.frames - 1)
      : this.limits.maxMessageBytes;
    if (this.bytes + length > max) {
      throw new WebSocketError(
        ErrorCode.MESSAGE_TOO_BIG,
        `Message of at least ${this.bytes + length} bytes exceeds maxMessageBytes (${this.limits.maxMessageBytes})`,
        CloseCode.MESSAGE_TOO_BIG,
      );
    }
  }

  /**
   * Adds a piece of payload (already unmasked). `owned`: the piece is a copy made for us (see
   * FrameSink.framePayload), kept as is when it is a whole message. Throws 1007 at the first
   * invalid UTF-8 byte.
   */
  push(piece: Buffer, owned = false): void {
    if (this.validateUtf8 && !this.utf8!.push(piece)) {
      throw new WebSocketError(
        ErrorCode.INVALID_UTF8,
        'Text message is not valid UTF-8',
        CloseCode.INVALID_PAYLOAD,
      );
    }
    this.bytes += piece.length;
    // Already in place: the piece is a view into `direct`.
    if (this.direct !== undefined) return;
    const before = this.frameRemaining;
    this.frameRemaining = Math.max(0, before - piece.length);
    if (owned && this.whole === undefined && this.block === undefined && !this.parts?.length) {
      // The first (usually only) frame of a message, already copied: no second copy.
      this.whole = piece;
      return;
    }
    const parts = this.heldParts();
    if (this.whole !== undefined) {
      parts.push(this.whole);
      this.whole = undefined;
    }
    if (piece.length >= SMALL_PIECE_BYTES && piece.length * 2 >= piece.buffer.byteLength) {
      this.flushBlock();
      parts.push(piece);
      if (parts.length > this.limits.maxBufferedChunks) this.compact();
      return;
    }
    let offset = 0;
    while (offset < piece.length) {
      if (!this.block) {
        // A single-frame message gets a block of its declared size: a small message then costs
        // a small (pooled) allocation instead of a whole block. Fragmented messages share blocks.
        const declared = this.frames === 1 ? before - offset : BLOCK_BYTES;
        this.block = Buffer.allocUnsafe(Math.min(BLOCK_BYTES, Math.max(declared, piece.length - offset)));
        this.blockFill = 0;
      }
      const n = Math.min(piece.length - offset, this.block.length - this.blockFill);
      piece.copy(this.block, this.blockFill, offset, offset + n);
      this.blockFill += n;
      offset += n;
      if (this.blockFill === this.block.length) this.flushBlock();
    }
  }

  /**
   * A buffer of `length` bytes for a message that is one frame of that length, holding the
   * `filled` bytes pushed so far; the rest of the payload is written into it and pushed as views
   * of it (FrameSink.payloadTarget). Undefined when the message has other frames.
   */
  target(length: number, filled: number): Buffer | undefined {
    if (this.frames !== 1 || this.bytes !== filled || this.direct !== undefined) return undefined;
    const direct = Buffer.allocUnsafe(length);
    let at = 0;
    if (this.whole !== undefined) {
      direct.set(this.whole, 0);
      at = this.whole.length;
      this.whole = undefined;
    }
    for (const part of this.parts ?? []) {
      direct.set(part, at);
      at += part.length;
    }
    if (this.block !== undefined && this.blockFill > 0)
      direct.set(this.block.subarray(0, this.blockFill), at);
    if (this.parts !== undefined) this.parts.length = 0;
    this.block = undefined;
    this.blockFill = 0;
    this.merged = 0;
    this.direct = direct;
    return direct;
  }

  /** Ends the message: checks the UTF-8 ends on a code point and returns the payload. */
  finish(): Buffer {
    if (this.validateUtf8 && !this.utf8!.end()) {
      throw new WebSocketError(
        ErrorCode.INVALID_UTF8,
        'Text message ends inside a UTF-8 sequence',
        CloseCode.INVALID_PAYLOAD,
      );
    }
    const whole = this.whole ?? this.direct;
    if (whole !== undefined) {
      this.reset();
      return whole;
    }
    this.flushBlock();
    const parts = this.parts;
    const out =
      parts === undefined || parts.length === 0
        ? EMPTY
        : parts.length === 1
          ? parts[0]!
          : Buffer.concat(parts, this.bytes);
    this.reset();
    return out;
  }

  reset(): void {
    this.whole = undefined;
    this.direct = undefined;
    if (this.parts !== undefined && this.parts.length !== 0) this.parts.length = 0;
    this.block = undefined;
    this.blockFill = 0;
    this.bytes = 0;
    this.frames = 0;
    this.merged = 0;
    this.utf8?.reset();
  }

  /** The held pieces, created with the first one. */
  private heldParts(): Buffer[] {
    let parts = this.parts;
    if (parts === undefined) {
      parts = [];
      this.parts = parts;
    }
    return parts;
  }

  private flushBlock(): void {
    if (this.block && this.blockFill > 0) {
      const parts = this.heldParts();
      parts.push(this.block.subarray(0, this.blockFill));
      if (parts.length > this.limits.maxBufferedChunks) this.compact();
    }
    this.block = undefined;
    this.blockFill = 0;
  }

  /**
   * Too many held buffers: merge them into one. With the default limits this cannot happen
   * (16 MiB in pieces of 1 KiB or more is at most 16,384 buffers); it bounds overhead when maxMessageBytes is raised.
   */
  private compact(): void {
    // Merge only what came since the last compaction, so the total copy stays linear.
    const parts = this.parts!;
    const start = this.merged;
    const merged = Buffer.concat(parts.slice(start));
    parts.length = start;
    parts.push(merged);
    this.merged = start + 1;
  }
}

const EMPTY = Buffer.alloc(0);
