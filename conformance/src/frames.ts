// A minimal, independent RFC 6455 frame codec for the harness. It never imports the code under test.
import { randomFillSync } from 'node:crypto';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  rsv?: number; // 3 bits, RSV1 = 4
  /** Declared length override is not supported: lengths are always exact. */
}

/** Encodes one frame; `mask` is true when the harness plays the client. */
export function encodeFrame(spec: FrameSpec, mask: boolean): Buffer {
  const payload =
    typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const fin = spec.fin ?? true;
  const b0 = (fin ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  const len = payload.length;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + extra + (mask ? 4 : 0));
  head[0] = b0;
  head[1] = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  if (extra === 2) head.writeUInt16BE(len, 2);
  else if (extra === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomFillSync(Buffer.alloc(4));
  key.copy(head, 2 + extra);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, body]);
}

export interface ReceivedFrame {
  opcode: number;
  fin: boolean;
  rsv: number;
  masked: boolean;
  payload: Buffer;
}

/** Incremental frame decoder for what the peer sends. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);
  readonly frames: ReceivedFrame[] = [];
  /** Set when the peer sent something that is not a frame we can read (reported, not thrown). */
  error: string | undefined;

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(1 << 30)) {
          this.error = 'frame longer than 1 GiB';
          return;
        }
        len = Number(big);
        offset = 10;
      }
      const keyLen = masked ? 4 : 0;
      if (b.length < offset + keyLen + len) return;
      const payload = Buffer.from(b.subarray(offset + keyLen, offset + keyLen + len));
      if (masked) {
        const key = b.subarray(offset, offset + 4);
        for (let i = 0; i < len; i++) payload[i]! ^= key[i & 3]!;
      }
      this.frames.push({
        opcode: b[0]! & 0x0f,
        fin: (b[0]! & 0x80) !== 0,
        rsv: (b[0]! >> 4) & 7,
        masked,
        payload,
      });
      this.buffer = b.subarray(offset + keyLen + len);
    }
  }
}

/** Close frame payload: code and optional reason. */
export function closePayload(code?: number, reason: Buffer | string = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}
