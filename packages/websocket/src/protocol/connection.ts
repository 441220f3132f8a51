import { CloseCode } from './close-codes.js';
import { decodeClosePayload, encodeClosePayload } from './close-frame.js';
import { argumentError, ErrorCode, protocolError, stateError, WebSocketError } from './errors.js';
import {
  encodeFrame,
  encodeTextFrame,
  type FrameOptions,
  writeFrame,
  writeTextFrame,
} from './frame-encoder.js';
import { type FrameHeader, FrameParser, type FrameSink, frameTooBig } from './frame-parser.js';
import { compressedBound, type Limits, resolveLimits } from './limits.js';
import { MessageAssembler } from './message-assembler.js';
import { isControlOpcode, isKnownOpcode, Opcode } from './opcodes.js';

export type Role = 'server' | 'client';

/** What the peer did, in order. Drain with `eventsReceived()`. */
export type ProtocolEvent =
  /** A complete data message. `compressed`: RSV1 was set (permessage-deflate); inflate it. */
  | { type: 'message'; data: Buffer; binary: boolean; compressed: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** The peer's close frame (code 1005 when it carried none). A reply was queued if needed. */
  | { type: 'close'; code: number; reason: string }
  /** The peer broke the protocol or a limit: a close frame with `error.closeCode` was queued. */
  | { type: 'error'; error: WebSocketError };

/** Connection state (RFC 6455 §4.1, §7). */
export type ConnectionState = 'open' | 'closing' | 'closed';

export interface ConnectionOptions {
  role: Role;
  limits?: Partial<Limits>;
  /**
   * Fills a buffer with random bytes: required for the client role (masking keys,
   * RFC 6455 §5.3). Injected so the core stays deterministic in tests.
   */
  randomFill?: (target: Uint8Array) => void;
  /** Reply to pings automatically with a pong carrying the same payload. Default true. */
  autoPong?: boolean;
  /**
   * Do not check that text messages and close reasons are valid UTF-8. Default false.
   * UNSAFE: RFC 6455 §8.1 requires failing the connection with 1007 on invalid UTF-8.
   */
  skipUTF8Validation?: boolean;
  /**
   * An extension (permessage-deflate) claims RSV1 on the first frame of data messages.
   * Default false: any reserved bit fails the connection with 1002.
   */
  allowRsv1?: boolean;
  /**
   * When the peer breaks the protocol, or sends a close frame that needs a reply, hold our
   * close frame until `releaseFailureClose()` is called, so a driver can deliver the messages
   * that arrived before (in the same input chunk) and let the application answer them first,
   * as a peer reading frame by frame would (ws 8 does). Default false: the close frame is
   * queued at once.
   */
  deferFailureClose?: boolean;
}

export interface SendOptions {
  /** Binary (true) or text (false) frame. Default: text for strings, binary for bytes. */
  binary?: boolean;
  /** Last frame of the message. Default true; false starts or continues a fragmented message. */
  fin?: boolean;
  /** Payload is already compressed by permessage-deflate: set RSV1 on the first frame. */
  compressed?: boolean;
}

// Bits of `flags`.
const C_CLOSE_SENT = 1;
const C_CLOSE_RECEIVED = 2;
const C_FAILED = 4;
const C_EOF = 8;
const C_MESSAGE_COMPRESSED = 16;
const C_SENDING_FRAGMENTED = 32;
// Options, set once by the constructor.
const C_AUTO_PONG = 64;
const C_SKIP_UTF8 = 128;
const C_ALLOW_RSV1 = 256;
const C_DEFER_FAILURE_CLOSE = 512;

/**
 * One WebSocket connection's protocol state, without I/O (sans-I/O): feed it bytes with
 * `receiveData`, read what happened with `eventsReceived`, and write what `dataToSend` returns.
 */
export class Connection implements FrameSink {
  readonly role: Role;
  readonly limits: Limits;
  private readonly parser: FrameParser;
  /** Created with the first data frame: a connection that never receives a message holds none. */
  private assembler: MessageAssembler | undefined;
  private readonly randomFill: ((target: Uint8Array) => void) | undefined;
  private heldClose: Buffer[] | undefined;
  // Created when the first event / frame is queued (so an idle connection holds no arrays).
  private events: ProtocolEvent[] | undefined;
  private output: Buffer[] | undefined;
  /** Bytes of `output[0..outputCounted)`, as last counted by `bytesToSend`. */
  private outputBytes = 0;
  private outputCounted = 0;
  // Receive side: the frame being read and the message it belongs to.
  private frame: FrameHeader | undefined;
  private controlPayload: Buffer[] | undefined;
  private messageOpcode = 0;
  private dataMessages = 0;
  /** Boolean state, one bit each (`C_*`): one field instead of 10, less memory per connection. */
  private flags = 0;
  private get closeSent(): boolean {
    return (this.flags & C_CLOSE_SENT) !== 0;
  }
  private set closeSent(on: boolean) {
    this.flags = on ? this.flags | C_CLOSE_SENT : this.flags & ~C_CLOSE_SENT;
  }
  private get closeReceived(): boolean {
    return (this.flags & C_CLOSE_RECEIVED) !== 0;
  }
  private set closeReceived(on: boolean) {
    this.flags = on ? this.flags | C_CLOSE_RECEIVED : this.flags & ~C_CLOSE_RECEIVED;
  }
  private get failed(): boolean {
    return (this.flags & C_FAILED) !== 0;
  }
  private set failed(on: boolean) {
    this.flags = on ? this.flags | C_FAILED : this.flags & ~C_FAILED;
  }
  private get eof(): boolean {
    return (this.flags & C_EOF) !== 0;
  }
  private set eof(on: boolean) {
    this.flags = on ? this.flags | C_EOF : this.flags & ~C_EOF;
  }
  private get messageCompressed(): boolean {
    return (this.flags & C_MESSAGE_COMPRESSED) !== 0;
  }
  private set messageCompressed(on: boolean) {
    this.flags = on ? this.flags | C_MESSAGE_COMPRESSED : this.flags & ~C_MESSAGE_COMPRESSED;
  }
  /** Send side: a fragmented message is open. */
  private get sendingFragmented(): boolean {
    return (this.flags & C_SENDING_FRAGMENTED) !== 0;
  }
  private set sendingFragmented(on: boolean) {
    this.flags = on ? this.flags | C_SENDING_FRAGMENTED : this.flags & ~C_SENDING_FRAGMENTED;
  }

  /** Text and close reasons are not checked for UTF-8 (see ConnectionOptions); read by drivers that inflate text. */
  get skipUTF8Validation(): boolean {
    return (this.flags & C_SKIP_UTF8) !== 0;
  }
  private get autoPong(): boolean {
    return (this.flags & C_AUTO_PONG) !== 0;
  }
  private get allowRsv1(): boolean {
    return (this.flags & C_ALLOW_RSV1) !== 0;
  }
  private get deferFailureClose(): boolean {
    return (this.flags & C_DEFER_FAILURE_CLOSE) !== 0;
  }

  constructor(options: ConnectionOptions) {
    this.role = options.role;
    this.limits = resolveLimits(options.limits);
    this.randomFill = options.randomFill;
    if (this.role === 'client' && !this.randomFill) {
      throw argumentError('A client Connection needs randomFill to generate masking keys');
    }
    this.flags =
      ((options.autoPong ?? true) ? C_AUTO_PONG : 0) |
      (options.skipUTF8Validation ? C_SKIP_UTF8 : 0) |
      (options.allowRsv1 ? C_ALLOW_RSV1 : 0) |
      (options.deferFailureClose ? C_DEFER_FAILURE_CLOSE : 0);
    this.parser = new FrameParser(this, {
      expectMasked: this.role === 'server',
      // With an extension, a compressed frame may be larger than maxFrameBytes by the deflate
      // overhead: the parser checks that bound, frameHeader the exact limit for other frames.
      maxFrameBytes: this.allowRsv1 ? compressedBound(this.limits.maxFrameBytes) : this.limits.maxFrameBytes,
    });
  }

  /** `open` until a close frame is sent; `closing` until the close handshake ends; then `closed`. */
  get state(): ConnectionState {
    if (this.failed || (this.closeSent && this.closeReceived) || this.eof) return 'closed';
    if (this.closeSent || this.closeReceived) return 'closing';
    return 'open';
  }

  /** Whether we sent a close frame and are waiting for the peer's (start a close timer). */
  closeExpected(): boolean {
    return this.closeSent && !this.closeReceived && !this.failed && !this.eof;
  }

  /**
   * Whether the transport should now be closed by this side: after a failure, or, for a
   * server, once the close handshake is complete (RFC 6455 §7.1.1: the server closes the TCP
   * connection first; the client waits for it, with a timeout).
   */
  get shouldCloseTransport(): boolean {
    if (this.failed) return this.heldClose === undefined;
    return this.role === 'server' && this.closeSent && this.closeReceived;
  }

  /** Whether a close frame was sent / received. */
  get closeFrameSent(): boolean {
    return this.closeSent;
  }
  get closeFrameReceived(): boolean {
    return this.closeReceived;
  }

  // ---- input ------------------------------------------------------------------------------

  /**
   * Feeds bytes from the transport. The chunk is unmasked in place: the connection takes
   * ownership of it. After a failure or a received close frame, input is discarded.
   */
  receiveData(chunk: Buffer): void {
    if (this.failed || this.closeReceived || this.eof) return;
    try {
      this.parser.push(chunk);
    } catch (error) {
      this.fail(error);
    }
  }

  /** The transport reached end of input. */
  receiveEof(): void {
    this.eof = true;
    this.parser.stop();
  }

  /** Returns and clears the events produced since the last call (a shared frozen array when none). */
  eventsReceived(): ProtocolEvent[] {
    const events = this.events;
    if (events === undefined) return NO_EVENTS;
    this.events = undefined;
    return events;
  }

  /** Returns and clears the bytes to write to the transport, in order (a shared frozen array when none). */
  dataToSend(): Buffer[] {
    const output = this.output;
    if (output === undefined) return NO_OUTPUT;
    this.output = undefined;
    this.outputBytes = 0;
    this.outputCounted = 0;
    return output;
  }

  /**
   * Bytes `dataToSend()` would return now. Counted incrementally (the queue only grows until
   * `dataToSend`), so checking it before every send stays linear, not quadratic.
   */
  get bytesToSend(): number {
    const output = this.output;
    if (output === undefined) return 0;
    let total = this.outputBytes;
    for (let i = this.outputCounted; i < output.length; i++) total += output[i]!.length;
    this.outputBytes = total;
    this.outputCounted = output.length;
    return total;
  }

  /**
   * Whether part of a frame or of a data message has arrived and the rest has not (false once
   * the connection failed or the peer closed). A driver bounds how long this may last.
   */
  get receivingMessage(): boolean {
    if (this.failed || this.closeReceived || this.eof) return false;
    return this.messageOpcode !== 0 || !this.parser.atFrameBoundary;
  }

  /** Data messages received whole so far (a driver restarts its per-message deadline on each). */
  get messagesReceived(): number {
    return this.dataMessages;
  }

  /** Whether `dataToSend()` has anything. */
  get hasDataToSend(): boolean {
    return this.output !== undefined && this.output.length !== 0;
  }

  // ---- FrameSink (called by the parser) ----------------------------------------------------

  frameHeader(header: FrameHeader): void {
    const { opcode } = header;
    if (!isKnownOpcode(opcode)) {
      throw protocolError(ErrorCode.INVALID_OPCODE, `Reserved opcode 0x${opcode.toString(16)}`);
    }
    // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defining them was negotiated.
    // RFC 7692 §6: permessage-deflate uses RSV1 on the first frame of a data message only.
    if (header.rsv2 || header.rsv3) throw protocolError(ErrorCode.UNEXPECTED_RSV_2_3, 'RSV2 or RSV3 is set');
    if (header.rsv1 && (!this.allowRsv1 || opcode === Opcode.CONTINUATION || isControlOpcode(opcode))) {
      throw protocolError(ErrorCode.UNEXPECTED_RSV_1, 'RSV1 is set but no extension claims it here');
    }
    this.frame = header;
    if (isControlOpcode(opcode)) {
      this.controlPayload = [];
      return;
    }
    if (opcode === Opcode.CONTINUATION) {
      // RFC 6455 §5.4: a continuation frame must follow an unfinished data frame.
      if (this.messageOpcode === 0) {
        throw protocolError(
          ErrorCode.UNEXPECTED_CONTINUATION,
          'Continuation frame without a message to continue',
        );
      }
    } else {
      if (this.messageOpcode !== 0) {
        throw protocolError(
          ErrorCode.EXPECTED_CONTINUATION,
          'New data frame while a fragmented message is open',
        );
      }
      this.messageOpcode = opcode;
      this.messageCompressed = header.rsv1;
      // Compressed text is validated after inflating, by the extension's driver.
      this.assembler ??= new MessageAssembler(this.limits);
      this.assembler.start(opcode === Opcode.TEXT && !header.rsv1 && !this.skipUTF8Validation, header.rsv1);
    }
    if (!this.messageCompressed && header.length > this.limits.maxFrameBytes) {
      throw frameTooBig(header.length, this.limits.maxFrameBytes);
    }
    this.assembler!.addFrame(header.length);
  }

  framePayload(piece: Buffer, owned: boolean): void {
    if (isControlOpcode(this.frame!.opcode)) this.controlPayload!.push(owned ? piece : Buffer.from(piece));
    else this.assembler!.push(piece, owned);
  }

  payloadTarget(length: number, filled: number): Buffer | undefined {
    const frame = this.frame!;
    // A whole message in one frame: its payload is the message.
    if (isControlOpcode(frame.opcode) || !frame.fin) return undefined;
    return this.assembler!.target(length, filled);
  }

  frameEnd(): void {
    const frame = this.frame!;
    this.frame = undefined;
    if (isControlOpcode(frame.opcode)) {
      const parts = this.controlPayload!;
      // Control payloads (at most 125 bytes) were copied out of the input chunk.
      const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      this.controlPayload = undefined;
      this.receiveControl(frame.opcode, data);
      return;
    }
    if (!frame.fin) return;
    const data = this.assembler!.finish();
    const binary = this.messageOpcode === Opcode.BINARY;
    const compressed = this.messageCompressed;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.dataMessages++;
    this.pushEvent({ type: 'message', data, binary, compressed });
  }

  private receiveControl(opcode: number, data: Buffer): void {
    if (opcode === Opcode.PING) {
      this.pushEvent({ type: 'ping', data });
      // RFC 6455 §5.5.2: respond with a pong as soon as practical (not after we sent close).
      if (this.autoPong && !this.closeSent) writeFrame(this.queue(), Opcode.PONG, data, this.frameOptions());
    } else if (opcode === Opcode.PONG) {
      this.pushEvent({ type: 'pong', data });
    } else {
      const { code, reason } = decodeClosePayload(data, !this.skipUTF8Validation);
      this.closeReceived = true;
      this.parser.stop();
      // RFC 6455 §5.5.1: reply with a close frame, echoing the status code, if none was sent.
      // An endpoint "MAY delay sending a Close frame until its current message is sent": with
      // deferFailureClose the reply waits until the messages before it have been answered.
      if (!this.closeSent && !this.heldClose) {
        // The reason is echoed too (as ws does), so a browser's CloseEvent shows the one it sent.
        const reply =
          code === CloseCode.NO_STATUS_RECEIVED ? Buffer.alloc(0) : encodeClosePayload(code, reason);
        if (this.deferFailureClose) {
          this.heldClose = encodeFrame(Opcode.CLOSE, reply, this.frameOptions());
        } else {
          this.closeSent = true;
          writeFrame(this.queue(), Opcode.CLOSE, reply, this.frameOptions());
        }
      }
      this.pushEvent({ type: 'close', code, reason });
    }
  }

  private pushEvent(event: ProtocolEvent): void {
    if (this.events === undefined) this.events = [event];
    else this.events.push(event);
  }

  /** _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): queue a close frame and stop reading. */
  private fail(error: unknown): void {
    const err =
      error instanceof WebSocketError
        ? error
        : new WebSocketError(ErrorCode.INVALID_STATE, String(error), CloseCode.INTERNAL_ERROR);
    this.failed = true;
    this.parser.stop();
    this.assembler?.reset();
    if (!this.closeSent && !this.heldClose) {
      const frames = encodeFrame(Opcode.CLOSE, encodeClosePayload(err.closeCode), this.frameOptions());
      if (this.deferFailureClose) {
        this.heldClose = frames;
      } else {
        this.closeSent = true;
        this.queue().push(...frames);
      }
    }
    this.pushEvent({ type: 'error', error: err });
  }

  /**
   * Queues the close frame held after a failure or a received close frame (see
   * `deferFailureClose`). Idempotent.
   */
  releaseFailureClose(): void {
    const frames = this.heldClose;
    if (!frames) return;
    this.heldClose = undefined;
    this.closeSent = true;
    const output = this.queue();
    for (const f of frames) output.push(f);
  }

  /** Whether data, pings and pongs may still be sent. */
  get canSend(): boolean {
    if (this.closeSent || this.eof) return false;
    return !this.failed || this.heldClose !== undefined;
  }

  /**
   * Fails the connection from outside the core, e.g. when the decompressor finds a message
   * too big (1009) or invalid (1007). Queues the close frame; read the error from events.
   */
  failWith(error: WebSocketError): void {
    if (this.failed) return;
    this.fail(error);
  }

  // ---- output -----------------------------------------------------------------------------

  /** The output queue, created when the first frame is queued. */
  private queue(): Buffer[] {
    let output = this.output;
    if (output === undefined) {
      output = [];
      this.output = output;
    }
    return output;
  }

  private frameOptions(): FrameOptions {
    if (this.role === 'server') return SERVER_FRAME;
    return { maskKey: this.maskKey() };
  }

  private maskKey(): Uint8Array | undefined {
    if (this.role === 'server') return undefined;
    const maskKey = new Uint8Array(4);
    this.randomFill!(maskKey);
    return maskKey;
  }

  private assertCanSendData(): void {
    if (!this.canSend) {
      throw stateError('Cannot send: the connection is closing or closed');
    }
  }

  /**
   * Queues a data message (or one fragment of it with `fin: false`).
   * Strings are sent as text; bytes as binary unless `binary: false`.
   * Throws WS_ERR_INVALID_STATE after a close frame was sent.
   */
  send(data: string | Uint8Array, options: SendOptions = {}): void {
    this.assertCanSendData();
    const fin = options.fin ?? true;
    const binary = options.binary ?? typeof data !== 'string';
    const opcode = this.sendingFragmented ? Opcode.CONTINUATION : binary ? Opcode.BINARY : Opcode.TEXT;
    const rsv1 = !this.sendingFragmented && options.compressed === true;
    const frameOptions: FrameOptions = { fin, rsv1, maskKey: this.maskKey() };
    this.sendingFragmented = !fin;
    // A string starting a text message is encoded straight into the frame; anything else as bytes.
    if (typeof data === 'string' && opcode === Opcode.TEXT) writeTextFrame(this.queue(), data, frameOptions);
    else writeFrame(this.queue(), opcode, typeof data === 'string' ? Buffer.from(data) : data, frameOptions);
  }

  /**
   * Queues frames encoded once for many connections (see `prepareMessage`). Server role only:
   * client frames need a fresh masking key each. Throws inside a fragmented send.
   */
  sendPrepared(frames: readonly Buffer[]): void {
    this.assertCanSendData();
    if (this.role !== 'server') throw stateError('Prepared (unmasked) frames can only be sent by a server');
    if (this.sendingFragmented)
      throw stateError('Cannot send a prepared message inside a fragmented message');
    const output = this.queue();
    for (const frame of frames) output.push(frame);
  }

  /** Queues a ping. Payload at most 125 bytes (RFC 6455 §5.5). */
  sendPing(data: Uint8Array = EMPTY): void {
    this.sendControl(Opcode.PING, data);
  }

  /** Queues a pong. Payload at most 125 bytes (RFC 6455 §5.5). */
  sendPong(data: Uint8Array = EMPTY): void {
    this.sendControl(Opcode.PONG, data);
  }

  private sendControl(opcode: number, data: Uint8Array): void {
    if (data.length > 125) throw argumentError('Control frame payload must be 125 bytes or less');
    this.assertCanSendData();
    writeFrame(this.queue(), opcode, data, this.frameOptions());
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2). Without a code, an empty close frame is
   * sent (the peer sees 1005). Does nothing if a close frame was already sent.
   * Throws WS_ERR_INVALID_ARGUMENT for a code that may not be sent or a reason over 123 bytes.
   */
  sendClose(code?: number, reason?: string): void {
    const payload = encodeClosePayload(code, reason);
    if (this.closeSent || this.failed || this.eof) return;
    this.closeSent = true;
    // Our own close frame replaces a held reply to the peer's (the handshake completes either way).
    this.heldClose = undefined;
    writeFrame(this.queue(), Opcode.CLOSE, payload, this.frameOptions());
  }
}

const EMPTY = new Uint8Array(0);
/** What `eventsReceived` / `dataToSend` return when there is nothing (shared, never written to). */
const NO_EVENTS: ProtocolEvent[] = Object.freeze([]) as unknown as ProtocolEvent[];
const NO_OUTPUT: Buffer[] = Object.freeze([]) as unknown as Buffer[];
/** Frame options of every frame a server sends outside `send` (no mask, final). */
const SERVER_FRAME: FrameOptions = Object.freeze({});

/**
 * Encodes a message once for sending to many server-side connections ("encode once, send to
 * many"): pass the result to `Connection.sendPrepared` (or `WebSocket.sendPrepared`).
 */
export function prepareMessage(
  data: string | Uint8Array,
  options: { binary?: boolean; compressed?: boolean } = {},
): Buffer[] {
  const binary = options.binary ?? typeof data !== 'string';
  const rsv1 = options.compressed === true;
  if (typeof data === 'string' && !binary) return encodeTextFrame(data, { rsv1 });
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return encodeFrame(binary ? Opcode.BINARY : Opcode.TEXT, bytes, { rsv1 });
}
