// The harness's own permessage-deflate (RFC 7692) codec, on node:zlib, independent of the code under test.
import zlib from 'node:zlib';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** Parses a `permessage-deflate; a; b=c` response into params (defaults: takeover, 15 bits). */
export function parseDeflateParams(header: string): DeflateParams | undefined {
  const first = header.split(',')[0]?.trim();
  if (!first?.startsWith('permessage-deflate')) return undefined;
  const p: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  for (const part of first.split(';').slice(1)) {
    const [k, v] = part
      .trim()
      .split('=')
      .map((x) => x.trim().replace(/^"|"$/g, ''));
    if (k === 'server_no_context_takeover') p.serverNoContextTakeover = true;
    else if (k === 'client_no_context_takeover') p.clientNoContextTakeover = true;
    else if (k === 'server_max_window_bits') p.serverMaxWindowBits = Number(v);
    else if (k === 'client_max_window_bits' && v) p.clientMaxWindowBits = Number(v);
  }
  return p;
}

/** One side's compressor and decompressor, honouring context takeover and window sizes. */
export class DeflateCodec {
  private deflater: zlib.DeflateRaw | undefined;
  private inflater: zlib.InflateRaw | undefined;

  constructor(
    private readonly params: DeflateParams,
    private readonly role: 'client' | 'server',
  ) {}

  private ownBits(): number {
    const b = this.role === 'server' ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits;
    return Math.max(9, b); // zlib cannot deflate with 8; 9 stays within an 8-bit window's reach
  }
  private ownNoTakeover(): boolean {
    return this.role === 'server' ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
  }
  private peerNoTakeover(): boolean {
    return this.role === 'server' ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
  }

  async compress(data: Buffer): Promise<Buffer> {
    if (!this.deflater || this.ownNoTakeover()) {
      this.deflater?.close();
      this.deflater = zlib.createDeflateRaw({ windowBits: this.ownBits() });
    }
    const d = this.deflater;
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    d.on('data', onData);
    d.write(data);
    await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    d.off('data', onData);
    const out = Buffer.concat(chunks);
    // RFC 7692 §7.2.1: remove the trailing 00 00 ff ff of the sync flush.
    return out.subarray(out.length - 4).equals(TAIL) ? out.subarray(0, out.length - 4) : out;
  }

  async decompress(data: Buffer): Promise<Buffer> {
    if (!this.inflater || this.peerNoTakeover()) {
      this.inflater?.close();
      // A 15-bit window inflates any stream made with a smaller one.
      this.inflater = zlib.createInflateRaw({ windowBits: 15 });
    }
    const inf = this.inflater;
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    let failure: Error | undefined;
    let onError: (e: Error) => void = () => {};
    try {
      inf.on('data', onData);
      // A stream that errors never calls the flush callback: settle on whichever comes first.
      await new Promise<void>((resolve) => {
        onError = (e: Error) => {
          failure = e;
          resolve();
        };
        inf.on('error', onError);
        // RFC 7692 §7.2.2: append 00 00 ff ff before inflating.
        inf.write(Buffer.concat([data, TAIL]));
        inf.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve());
      });
    } finally {
      inf.off('data', onData);
      inf.off('error', onError);
    }
    if (failure) {
      inf.close();
      this.inflater = undefined; // a failed stream cannot be reused
      throw failure;
    }
    return Buffer.concat(chunks);
  }

  close(): void {
    this.deflater?.close();
    this.inflater?.close();
  }
}
