// A WebSocket peer written by hand on a TCP socket: it does exactly what an attacker's script
// would (never reads, floods control frames, offers deflate and then stalls), which a
// well-behaved client library would not let us do.
import net from 'node:net';
import type { Rng } from './rng.js';

export const Opcode = { text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One masked client frame (RFC 6455 §5.2), unfragmented. */
export function clientFrame(opcode: number, payload: Buffer | string, rng: Rng): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = data.length;
  const head = len < 126 ? 2 : len < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = rng.bytes(4);
  mask.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = data[i]! ^ mask[i & 3]!;
  return frame;
}

/** A realtime protocol message as one masked text frame. */
export const jsonFrame = (message: unknown, rng: Rng) =>
  clientFrame(Opcode.text, JSON.stringify(message), rng);

export interface UpgradeOptions {
  port: number;
  path?: string;
  /** Subprotocol offered. Default `ieum.v1.json`. */
  protocol?: string;
  /**
   * Offer permessage-deflate; `'no-context-takeover'` also asks the server not to keep its
   * compression context between messages (RFC 7692 §7.1.1.1).
   */
  deflate?: boolean | 'no-context-takeover';
  timeoutMs?: number;
}

/**
 * Opens a TCP connection and performs the opening handshake. Resolves with the socket once the
 * server answered 101 (rejects otherwise); the caller decides whether to ever read again.
 */
export function upgrade(o: UpgradeOptions, rng: Rng): Promise<{ socket: net.Socket; extensions: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(o.port, '127.0.0.1');
    let head = '';
    const timer = setTimeout(() => fail(new Error('handshake timed out')), o.timeoutMs ?? 5000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.on('error', fail);
    socket.on('connect', () => {
      const lines = [
        `GET ${o.path ?? '/realtime'} HTTP/1.1`,
        `Host: 127.0.0.1:${o.port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${rng.bytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Protocol: ${o.protocol ?? 'ieum.v1.json'}`,
        ...(o.deflate
          ? [
              `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits${o.deflate === 'no-context-takeover' ? '; server_no_context_takeover' : ''}`,
            ]
          : []),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16_384) fail(new Error('handshake response too long'));
        return;
      }
      socket.off('data', onData);
      socket.pause();
      if (!head.startsWith('HTTP/1.1 101')) return fail(new Error(head.split('\r\n')[0]));
      clearTimeout(timer);
      socket.off('error', fail);
      const extensions = /\r\nsec-websocket-extensions: *([^\r]*)/i.exec(head)?.[1] ?? '';
      resolve({ socket, extensions });
    };
    socket.on('data', onData);
  });
}

/**
 * Counts the server's frames on a socket that reads (and otherwise discards) them; `onText`, while
 * set, gets each text frame's payload. Handles frames split across chunks; server frames are
 * never masked.
 */
export class FrameCounter {
  frames = 0;
  bytes = 0;
  onText: ((text: string) => void) | undefined;
  private rest: Buffer | undefined;

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let len = buf[at + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = Number(buf.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (buf.length - at < head + len) break;
      this.frames++;
      if (this.onText && (buf[at]! & 0x0f) === Opcode.text) {
        this.onText(buf.toString('utf8', at + head, at + head + len));
      }
      at += head + len;
    }
    if (at < buf.length) {
      buf = buf.subarray(at);
      // Keep a copy of the partial frame only, never the whole chunk it came in.
      this.rest = Buffer.from(buf);
    }
  }
}

/** Resolves once `counter` saw a text frame for which `match` holds (rejects after `ms`). */
export function waitForText(
  counter: FrameCounter,
  match: (text: string) => boolean,
  ms = 5000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      counter.onText = undefined;
      reject(new Error('timed out waiting for a server message'));
    }, ms);
    counter.onText = (text) => {
      if (!match(text)) return;
      clearTimeout(timer);
      counter.onText = undefined;
      resolve(text);
    };
  });
}
