// Shared helpers for protocol-core tests: hex, frame building, feeding, event summaries.
import { Connection, type ProtocolEvent } from '../../src/protocol/index.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
export const fixedMask = (target: Uint8Array): void => target.set([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame (masked with key 37 fa 21 3d) as a server receives it. */
export function clientFrame(
  opcode: number,
  payload: Buffer | string,
  opts: { fin?: boolean; rsv?: number } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = data.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + 4);
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode;
  head[1] = 0x80 | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  const key = [0x37, 0xfa, 0x21, 0x3d];
  head.set(key, 2 + ext);
  const body = Buffer.from(data.map((b, i) => b ^ key[i & 3]!));
  return Buffer.concat([head, body]);
}

export function server(options: ConstructorParameters<typeof Connection>[0] | object = {}): Connection {
  return new Connection({ role: 'server', ...options });
}

/** Feeds a copy of `bytes` (the core unmasks in place) and returns the events. */
export function feed(conn: Connection, ...chunks: Buffer[]): ProtocolEvent[] {
  for (const c of chunks) conn.receiveData(Buffer.from(c));
  return conn.eventsReceived();
}

/** A compact, comparable description of events. */
export function describe(events: ProtocolEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case 'message':
        return `${e.binary ? 'binary' : 'text'}:${e.binary ? e.data.toString('hex') : e.data.toString()}`;
      case 'ping':
      case 'pong':
        return `${e.type}:${e.data.toString('hex')}`;
      case 'close':
        return `close:${e.code}:${e.reason}`;
      default:
        return `error:${e.error.code}:${e.error.closeCode}`;
    }
  });
}

/** The close frame a server sends for `code` (unmasked, no reason), as hex. */
export const closeHex = (code: number): string => `8802${code.toString(16).padStart(4, '0')}`;
