// One connection as the harness sees it: raw frames out, decoded frames in, TCP state.
import type { Socket } from 'node:net';
import type { DeflateParams } from './deflate-codec.js';
import { closePayload, encodeFrame, FrameReader, type FrameSpec, OP, type ReceivedFrame } from './frames.js';

export type Outcome = 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'UNIMPLEMENTED' | 'FAILED';
export interface CaseResult {
  outcome: Outcome;
  reason: string;
}

export interface Message {
  opcode: number;
  data: Buffer;
  /** RSV1 was set on the first frame (permessage-deflate). */
  compressed?: boolean;
}

/** What the peer did, reassembled. */
export interface PeerView {
  messages: Message[];
  pongs: Buffer[];
  pings: Buffer[];
  /** The peer's close frame: code (1005 when empty) and reason; undefined if none. */
  close: { code: number; reason: Buffer } | undefined;
  tcpClosed: boolean;
  /** A framing rule the peer itself broke (masking direction, bad fragmentation), if any. */
  violation: string | undefined;
}

export class Session {
  readonly reader = new FrameReader();
  tcpClosed = false;
  /** Negotiated permessage-deflate parameters, when the handshake agreed on them. */
  deflate: DeflateParams | undefined;
  private waiters: Array<() => void> = [];
  private closeSent = false;

  constructor(
    readonly socket: Socket,
    /** The harness's role: as 'client' it masks what it sends and expects unmasked frames. */
    readonly role: 'client' | 'server',
    leftover?: Buffer,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.tcpClosed = true;
      this.notify();
    });
    if (leftover && leftover.length > 0) this.reader.push(leftover);
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Sends frames; `chop` splits the bytes into writes of that size (with a tick between). */
  async send(frames: FrameSpec | FrameSpec[], options: { chop?: number } = {}): Promise<void> {
    const list = Array.isArray(frames) ? frames : [frames];
    for (const f of list) if (f.opcode === OP.CLOSE) this.closeSent = true;
    const bytes = Buffer.concat(list.map((f) => encodeFrame(f, this.role === 'client')));
    if (this.tcpClosed || this.socket.destroyed) return;
    if (!options.chop) {
      this.socket.write(bytes);
      return;
    }
    for (let i = 0; i < bytes.length; i += options.chop) {
      if (this.socket.destroyed) return;
      this.socket.write(bytes.subarray(i, i + options.chop));
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Resolves true once `predicate` holds, false after `ms`. */
  async until(predicate: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!predicate()) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  private cached: { frames: number; tcpClosed: boolean; view: PeerView } | undefined;

  /** What the peer did so far; recomputed only when frames arrived or TCP closed since the last call. */
  view(): PeerView {
    const c = this.cached;
    if (c && c.frames === this.reader.frames.length && c.tcpClosed === this.tcpClosed) return c.view;
    const view = this.computeView();
    this.cached = { frames: this.reader.frames.length, tcpClosed: this.tcpClosed, view };
    return view;
  }

  private computeView(): PeerView {
    const messages: Message[] = [];
    const pongs: Buffer[] = [];
    const pings: Buffer[] = [];
    let close: PeerView['close'];
    let violation: string | undefined;
    let open: { opcode: number; parts: Buffer[]; compressed: boolean } | undefined;
    for (const f of this.reader.frames) {
      if (f.masked !== (this.role === 'server')) {
        violation ??= this.role === 'server' ? 'client sent an unmasked frame' : 'server sent a masked frame';
      }
      if (close) {
        violation ??= 'peer sent a frame after its close frame';
        continue;
      }
      if (f.opcode >= 0x8) {
        if (!f.fin || f.payload.length > 125) violation ??= 'peer sent an invalid control frame';
        if (f.opcode === OP.PING) pings.push(f.payload);
        else if (f.opcode === OP.PONG) pongs.push(f.payload);
        else if (f.opcode === OP.CLOSE) {
          close =
            f.payload.length >= 2
              ? { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2) }
              : { code: 1005, reason: Buffer.alloc(0) };
        } else violation ??= `peer sent reserved opcode ${f.opcode}`;
        continue;
      }
      // RFC 7692 §6: with permessage-deflate, RSV1 marks a compressed message (first frame only).
      const compressedStart = this.deflate !== undefined && f.rsv === 4 && f.opcode !== OP.CONT;
      if (f.rsv !== 0 && !compressedStart) violation ??= 'peer set reserved bits';
      if (f.opcode === OP.CONT) {
        if (!open) {
          violation ??= 'peer sent a continuation without a message';
          continue;
        }
        open.parts.push(f.payload);
      } else {
        if (open) violation ??= 'peer started a message inside another';
        open = { opcode: f.opcode, parts: [f.payload], compressed: compressedStart };
      }
      if (f.fin && open) {
        messages.push({ opcode: open.opcode, data: Buffer.concat(open.parts), compressed: open.compressed });
        open = undefined;
      }
    }
    if (this.reader.error) violation ??= this.reader.error;
    return { messages, pongs, pings, close, tcpClosed: this.tcpClosed, violation };
  }

  /** Whether the peer closed (close frame received or TCP gone). */
  peerClosed(): boolean {
    const v = this.view();
    return v.close !== undefined || v.tcpClosed;
  }

  /**
   * Performs (or finishes) the closing handshake from the harness's side: sends a close frame
   * (unless one was sent), waits for the peer's, and, as a server, closes TCP after it.
   */
  async finishClose(code = 1000, waitMs = 3000): Promise<void> {
    if (!this.closeSent && !this.tcpClosed)
      await this.send({ opcode: OP.CLOSE, payload: closePayload(code) });
    await this.until(() => this.view().close !== undefined || this.tcpClosed, waitMs);
    if (this.role === 'server') this.socket.end();
    await this.until(() => this.tcpClosed, this.role === 'client' ? waitMs : 500);
    this.socket.destroy();
  }

  /** When the peer started the close: reply (as RFC 6455 requires) and end. */
  async answerClose(): Promise<void> {
    const v = this.view();
    if (v.close && !this.closeSent && !this.tcpClosed) {
      await this.send({
        opcode: OP.CLOSE,
        payload: closePayload(v.close.code === 1005 ? undefined : v.close.code),
      });
    }
    if (this.role === 'server') this.socket.end();
    await this.until(() => this.tcpClosed, 1000);
    this.socket.destroy();
  }

  frames(): ReceivedFrame[] {
    return this.reader.frames;
  }
}
