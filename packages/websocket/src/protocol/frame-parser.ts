import { CloseCode } from './close-codes.js';
import { ErrorCode, protocolError, WebSocketError } from './errors.js';
import { unmaskInPlace } from './mask.js';
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
   * The next piece of the current frame's payload, already unmasked. It is a view into the
   * input chunk (no copy): keep it only if you own that chunk's lifetime.
   */
  framePayload(piece: Buffer): void;
  frameEnd(): void;
}

export interface FrameParserOptions {
  /** RFC 6455 §5.1: a server MUST fail on unmasked frames; a client MUST fail on masked ones. */
  expectMasked: boolean;
  /** Largest payload accepted in one frame, in bytes. Exceeded: close 1009. */
  maxFrameBytes: number;
}

type State = { kind: 'header' } | { kind: 'payload'; remaining: number; phase: number } | { kind: 'failed' };

const HEADER_STATE: State = { kind: 'header' };
const FAILED_STATE: State = { kind: 'failed' };

/**
 * Streaming frame parser: correct under any chunking, zero-copy for payload bytes, and it
 * checks the declared length against the limit before buffering any payload.
 *
 * Input chunks are unmasked in place: the caller hands over ownership of each chunk.
 */
export class FrameParser {
  private state: State = HEADER_STATE;
  /** Bytes of an incomplete header, at most 14. */
  // From the shared pool (allocUnsafe below 4 KiB): no backing store of its own per connection.
  private readonly headerBytes = Buffer.allocUnsafe(14);
  private headerFill = 0;
  private readonly maskKey = Buffer.allocUnsafe(4);
  private masked = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly options: FrameParserOptions,
  ) {}

  /** Parses `chunk`. Throws the sink's or the parser's WebSocketError; afterwards input is ignored. */
  push(chunk: Buffer): void {
    let offset = 0;
    const len = chunk.length;
    try {
      while (offset < len) {
        const state = this.state;
        if (state.kind === 'payload') {
          const take = Math.min(state.remaining, len - offset);
          const piece = chunk.subarray(offset, offset + take);
          if (this.masked) unmaskInPlace(piece, this.maskKey, state.phase);
          offset += take;
          state.remaining -= take;
          state.phase += take;
          this.sink.framePayload(piece);
          if (state.remaining === 0) this.endFrame();
        } else if (state.kind === 'header') {
          offset = this.readHeader(chunk, offset);
        } else {
          return;
        }
      }
    } catch (error) {
      this.state = FAILED_STATE;
      throw error;
    }
  }

  /** Whether the parser stopped at a frame boundary (no partial frame is pending). */
  get atFrameBoundary(): boolean {
    return this.state.kind === 'header' && this.headerFill === 0;
  }

  /** Stops parsing: all further input is discarded (after a close or a failure). */
  stop(): void {
    this.state = FAILED_STATE;
  }

  private endFrame(): void {
    this.state = HEADER_STATE;
    this.sink.frameEnd();
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
      chunk.copy(this.headerBytes, this.headerFill, offset, offset + need);
      buf = this.headerBytes;
      at = 0;
      avail = this.headerFill + need;
    }
    const size = headerSize(buf, at, avail);
    if (size === 0 || avail < size) {
      // Not enough bytes yet: stash what we have (never more than 14 bytes).
      if (this.headerFill === 0) {
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
    if (masked !== this.options.expectMasked) {
      throw this.options.expectMasked
        ? protocolError(ErrorCode.EXPECTED_MASK, 'RFC 6455 §5.1: a client MUST mask every frame it sends')
        : protocolError(ErrorCode.UNEXPECTED_MASK, 'RFC 6455 §5.1: a server MUST NOT mask frames it sends');
    }
    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented.
      if (length > 125) {
        throw protocolError(
          ErrorCode.INVALID_CONTROL_FRAME,
          'Control frame payload is longer than 125 bytes',
        );
      }
      if (!fin) throw protocolError(ErrorCode.INVALID_CONTROL_FRAME, 'Control frames must not be fragmented');
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
      // Lengths above 2^53 cannot be represented exactly; they are far beyond any limit anyway.
      length = hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + lo;
    }
    if (length > this.options.maxFrameBytes) {
      throw new WebSocketError(
        ErrorCode.FRAME_TOO_BIG,
        `Frame payload of ${length} bytes exceeds maxFrameBytes (${this.options.maxFrameBytes})`,
        CloseCode.MESSAGE_TOO_BIG,
      );
    }
    this.masked = masked;
    if (masked) buf.copy(this.maskKey, 0, p, p + 4);
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
      this.state = { kind: 'payload', remaining: length, phase: 0 };
    }
  }
}

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
