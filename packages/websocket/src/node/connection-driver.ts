import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/close-codes.js';
import { encodeClosePayload } from '../protocol/close-frame.js';
import type { Connection, ProtocolEvent, SendOptions } from '../protocol/connection.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';
import { CoalescedOutput, combine, type WriteCallback, writeCoalesced } from './coalesced-output.js';

// The listener's methods are keyed by symbols, so the public object that owns the driver can
// implement them itself (no per-connection listener object or closures) without exposing them
// under names an application could shadow (`ws.onError = ...`).
export const kOnMessage: unique symbol = Symbol('ieum.onMessage');
export const kOnPing: unique symbol = Symbol('ieum.onPing');
export const kOnPong: unique symbol = Symbol('ieum.onPong');
export const kOnCloseFrame: unique symbol = Symbol('ieum.onCloseFrame');
export const kOnError: unique symbol = Symbol('ieum.onError');
export const kOnClosed: unique symbol = Symbol('ieum.onClosed');

/** What the driver reports to the public API object that owns it. Called in wire order. */
export interface DriverListener {
  [kOnMessage](data: Buffer, binary: boolean): void;
  [kOnPing](data: Buffer): void;
  [kOnPong](data: Buffer): void;
  /** The peer's close frame arrived (the reply, if one was due, is already queued). */
  [kOnCloseFrame](code: number, reason: string): void;
  /** The peer broke the protocol or a limit was hit; the connection is being failed. */
  [kOnError](error: WebSocketError): void;
  /** The transport is closed. `code` is the peer's close code, or 1006 without a close frame. */
  [kOnClosed](code: number, reason: string): void;
}

/**
 * A per-message compression extension as the driver uses it (permessage-deflate, RFC 7692).
 * Callbacks must run in call order. A successful operation may call back before the call
 * returns; a failure must be reported asynchronously.
 */
export interface MessageCompressor {
  /** Messages smaller than this many bytes are sent uncompressed. */
  readonly threshold: number;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, out?: Buffer) => void): void;
  /** Inflates one whole message; fails with a 1009 error as soon as `maxBytes` is crossed. */
  decompress(
    data: Buffer,
    fin: boolean,
    maxBytes: number,
    callback: (error: WebSocketError | null, out?: Buffer) => void,
  ): void;
  /** Releases the zlib contexts. */
  close(): void;
}

export interface DriverOptions {
  /**
   * Milliseconds to wait for the peer's close frame (after ours) or for the TCP close after the
   * close handshake, before the socket is destroyed. Default 30,000.
   */
  closeTimeoutMs: number;
  /**
   * Bytes that may wait to be sent (`bufferedAmount`: held by the socket or the driver, or
   * waiting for compression) before the peer is considered to have stopped reading. Default
   * 64 MiB. Exceeded: an `error` event gets WS_ERR_PEER_NOT_READING (close code 1008) and the
   * connection is terminated (a close frame could not reach a peer that does not read); the
   * callbacks of what was not written get an error. Nothing is dropped silently.
   */
  maxBufferedBytes: number;
  /** The negotiated compression extension, if any. */
  compressor?: MessageCompressor | undefined;
}

export const DEFAULT_DRIVER_OPTIONS: Readonly<DriverOptions> = Object.freeze({
  closeTimeoutMs: 30_000,
  maxBufferedBytes: 64 * 1024 * 1024,
});

/**
 * Inflated bytes a connection may deliver before it lets the event loop turn (a setImmediate)
 * ahead of its next compressed message, so a peer sending small compressed messages that
 * inflate to much more cannot hold the loop (or fill memory) at other connections' expense.
 */
const INFLATE_BYTES_PER_TURN = 256 * 1024;

// Bits of `flags`.
const F_PAUSED = 1;
const F_INFLATING = 2;
const F_CLOSE_AFTER_INFLATE = 4;
const F_COMPRESSING = 8;
const F_SEND_LOOP = 16;
const F_DISPATCHING = 32;
const F_FAILED_IN_DRIVER = 64;
const F_IS_WAITING = 128;
const F_TRACKING = 256;
const F_END_AFTER_HELD = 512;
const F_OUTPUT_BLOCKED = 1024;
const F_READING_STOPPED = 2048;
const F_YIELDING = 4096;
const F_CLOSED = 8192;
const F_ENDED = 16384;
const F_SENDING_FRAGMENTED = 32768;

/**
 * Drives a sans-I/O `Connection` over a Node socket: feeds it what arrives, writes what it
 * produces (writes made while handling one input chunk leave in one write), runs the
 * close timer, and reports events to its listener in order, honouring pause/resume.
 */
export class ConnectionDriver {
  readonly connection: Connection;
  readonly socket: Socket;
  private readonly listener: DriverListener;
  private readonly options: DriverOptions;
  /** Events held while paused (or queued during dispatch), read from `pendingIndex`. */
  private pending: ProtocolEvent[] = NO_EVENTS;
  private pendingIndex = 0;
  /** Sends waiting behind a compression in progress, in order. */
  private sendQueue: Array<() => void> = NO_JOBS;
  /** Callbacks of the writes that wait (created on first use). */
  private waitCallbacks: WriteCallback[] | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /** Output waiting for the socket to take the write in progress (see `write`). */
  private held: CoalescedOutput | undefined;
  /** Bytes of sends waiting behind a compression, or being compressed (see `bufferedAmount`). */
  private queuedSendBytes = 0;
  /** Inflated bytes delivered since the last turn of the event loop we gave way to. */
  private inflatedSinceYield = 0;
  /** Deadline of the message being received (`messageAssemblyTimeoutMs`). */
  private assemblyTimer: NodeJS.Timeout | undefined;
  /** `connection.messagesReceived` when the deadline was set: a new message restarts it. */
  private assemblyMark = 0;
  private peerCode: number = CloseCode.ABNORMAL_CLOSURE;
  private peerReason = '';
  /** Boolean state, one bit each (`F_*`): one field instead of 16, less memory per connection. */
  private flags = 0;
  private get paused(): boolean {
    return (this.flags & F_PAUSED) !== 0;
  }
  private set paused(on: boolean) {
    this.flags = on ? this.flags | F_PAUSED : this.flags & ~F_PAUSED;
  }
  /** A compressed message is being inflated: later events wait for it (order is kept). */
  private get inflating(): boolean {
    return (this.flags & F_INFLATING) !== 0;
  }
  private set inflating(on: boolean) {
    this.flags = on ? this.flags | F_INFLATING : this.flags & ~F_INFLATING;
  }
  /** The socket closed while inflating: finish closing once the message is delivered. */
  private get closeAfterInflate(): boolean {
    return (this.flags & F_CLOSE_AFTER_INFLATE) !== 0;
  }
  private set closeAfterInflate(on: boolean) {
    this.flags = on ? this.flags | F_CLOSE_AFTER_INFLATE : this.flags & ~F_CLOSE_AFTER_INFLATE;
  }
  private get compressing(): boolean {
    return (this.flags & F_COMPRESSING) !== 0;
  }
  private set compressing(on: boolean) {
    this.flags = on ? this.flags | F_COMPRESSING : this.flags & ~F_COMPRESSING;
  }
  /** nextSend() is running: a job asking for the next one just returns, the loop goes on. */
  private get sendLoop(): boolean {
    return (this.flags & F_SEND_LOOP) !== 0;
  }
  private set sendLoop(on: boolean) {
    this.flags = on ? this.flags | F_SEND_LOOP : this.flags & ~F_SEND_LOOP;
  }
  private get dispatching(): boolean {
    return (this.flags & F_DISPATCHING) !== 0;
  }
  private set dispatching(on: boolean) {
    this.flags = on ? this.flags | F_DISPATCHING : this.flags & ~F_DISPATCHING;
  }
  /** `failAndDeliver` ran: the connection failed from the driver, parsed events are dropped. */
  private get failedInDriver(): boolean {
    return (this.flags & F_FAILED_IN_DRIVER) !== 0;
  }
  private set failedInDriver(on: boolean) {
    this.flags = on ? this.flags | F_FAILED_IN_DRIVER : this.flags & ~F_FAILED_IN_DRIVER;
  }
  /** In `waiting`: output waits for the end of the input chunk being handled (see `flush`). */
  private get isWaiting(): boolean {
    return (this.flags & F_IS_WAITING) !== 0;
  }
  private set isWaiting(on: boolean) {
    this.flags = on ? this.flags | F_IS_WAITING : this.flags & ~F_IS_WAITING;
  }
  /** A write with a callback of ours is in the socket: output is held until it is taken. */
  private get tracking(): boolean {
    return (this.flags & F_TRACKING) !== 0;
  }
  private set tracking(on: boolean) {
    this.flags = on ? this.flags | F_TRACKING : this.flags & ~F_TRACKING;
  }
  /** The transport is to be ended once the held output is written. */
  private get endAfterHeld(): boolean {
    return (this.flags & F_END_AFTER_HELD) !== 0;
  }
  private set endAfterHeld(on: boolean) {
    this.flags = on ? this.flags | F_END_AFTER_HELD : this.flags & ~F_END_AFTER_HELD;
  }
  /** Output is backed up past `readPauseBytes`: reading and delivery stop until it drains. */
  private get outputBlocked(): boolean {
    return (this.flags & F_OUTPUT_BLOCKED) !== 0;
  }
  private set outputBlocked(on: boolean) {
    this.flags = on ? this.flags | F_OUTPUT_BLOCKED : this.flags & ~F_OUTPUT_BLOCKED;
  }
  /** Whether we stopped the socket's reading (see `updateReading`). */
  private get readingStopped(): boolean {
    return (this.flags & F_READING_STOPPED) !== 0;
  }
  private set readingStopped(on: boolean) {
    this.flags = on ? this.flags | F_READING_STOPPED : this.flags & ~F_READING_STOPPED;
  }
  /** Delivery waits for a setImmediate (an inflation budget was spent, or output drained). */
  private get yielding(): boolean {
    return (this.flags & F_YIELDING) !== 0;
  }
  private set yielding(on: boolean) {
    this.flags = on ? this.flags | F_YIELDING : this.flags & ~F_YIELDING;
  }
  private get closed(): boolean {
    return (this.flags & F_CLOSED) !== 0;
  }
  private set closed(on: boolean) {
    this.flags = on ? this.flags | F_CLOSED : this.flags & ~F_CLOSED;
  }
  private get ended(): boolean {
    return (this.flags & F_ENDED) !== 0;
  }
  private set ended(on: boolean) {
    this.flags = on ? this.flags | F_ENDED : this.flags & ~F_ENDED;
  }
  private get sendingFragmented(): boolean {
    return (this.flags & F_SENDING_FRAGMENTED) !== 0;
  }
  private set sendingFragmented(on: boolean) {
    this.flags = on ? this.flags | F_SENDING_FRAGMENTED : this.flags & ~F_SENDING_FRAGMENTED;
  }

  constructor(socket: Socket, connection: Connection, listener: DriverListener, options: DriverOptions) {
    this.socket = socket;
    this.connection = connection;
    this.listener = listener;
    this.options = options;
    (socket as DriverSocket)[kDriver] = this;
  }

  /** The negotiated compression extension, if any. */
  get compressor(): MessageCompressor | undefined {
    return this.options.compressor;
  }

  /** Starts reading. `head` holds bytes that arrived with the handshake: they are parsed first. */
  start(head?: Buffer): void {
    const socket = this.socket;
    // Any Duplex may carry a connection (`handleUpgrade`, as in ws); only a net.Socket has these.
    socket.setTimeout?.(0);
    socket.setNoDelay?.(true);
    // Shared listeners that find the driver on the socket: no closures per connection.
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    socket.on('drain', socketOnDrain);
    if (head && head.length > 0) {
      // Parse the handshake's leftover bytes on the next tick, so the owner can attach its
      // message listeners first ('open' / 'connection' are emitted right after start()).
      socket.pause();
      this.readingStopped = true;
      const leftover = Buffer.from(head);
      process.nextTick(() => {
        if (this.closed) return;
        this.onData(leftover);
        this.updateReading();
      });
    } else if (socket.isPaused() && !this.paused) {
      socket.resume();
    }
  }

  /**
   * Bytes waiting to be sent: held by the socket, held by the driver while the socket takes an
   * earlier write, queued in the core, and (with compression) waiting to be compressed.
   */
  get bufferedAmount(): number {
    const held = this.held;
    return (
      this.socket.writableLength +
      this.connection.bytesToSend +
      this.queuedSendBytes +
      (held === undefined ? 0 : held.bytes)
    );
  }

  // ---- input ------------------------------------------------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    const conn = this.connection;
    conn.receiveData(chunk);
    const events = conn.eventsReceived();
    // What handlers of this chunk's messages send, to this connection or any other (a
    // broadcast), is written when the chunk is handled: one write per connection however many
    // messages the chunk held (see `flush`).
    inputDepth++;
    try {
      this.wait(undefined);
      if (events.length !== 0) this.enqueue(events);
    } finally {
      endInput();
    }
    if (this.assemblyTimer !== undefined || conn.receivingMessage) this.checkAssembly();
    // Events still waiting (an inflation, a paused application): read no more until they are
    // delivered, so what a peer sends in the meantime waits in its own socket, not in our memory.
    if (this.readingStopped || this.holding || this.pending.length !== 0) this.updateReading();
  }

  /** @internal */
  onEnd(): void {
    this.connection.receiveEof();
    this.enqueue(this.connection.eventsReceived());
    // Events still wait (paused, inflating): our side ends now, so a close frame held for
    // them (see deferFailureClose) goes out now or never.
    if (this.pendingIndex < this.pending.length) this.connection.releaseFailureClose();
    // The peer will send nothing more: finish our side too. Sockets from an http.Server are
    // half-open capable (allowHalfOpen), so Node would not do it for us.
    this.flush();
    if (!this.ended) this.endTransport();
  }

  /** @internal */
  onSocketError(): void {
    // Transport errors (ECONNRESET, EPIPE) end the connection with 1006; they are not
    // protocol errors, so, like ws, no 'error' event is emitted for them.
    this.socket.destroy();
  }

  /** @internal */
  onSocketClose(): void {
    if (this.closed) return;
    if (this.inflating) {
      this.closeAfterInflate = true;
      return;
    }
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    if (this.assemblyTimer) clearTimeout(this.assemblyTimer);
    this.assemblyTimer = undefined;
    // What waited for the socket is dropped at once, with one error for all its callbacks
    // (teardown costs the same however many frames were held).
    if (this.held !== undefined) this.held.discard(notOpenError());
    // Deliver what was parsed before the close, even if the user paused us or the output was
    // backed up (the compressor is still open: a compressed message held by pause() is
    // inflated and delivered too).
    this.paused = false;
    this.outputBlocked = false;
    this.yielding = false;
    this.drain();
    // A compressed message is being inflated: 'close' comes after it (see inflate).
    if (this.inflating) this.closeAfterInflate = true;
    else this.finishClose();
  }

  private finishClose(): void {
    this.options.compressor?.close();
    this.listener[kOnClosed](this.peerCode, this.peerReason);
  }

  private enqueue(events: ProtocolEvent[]): void {
    if (this.pending.length === 0 && !this.holding && !this.dispatching) {
      // Fast path: dispatch straight from the core's array, no copying.
      this.dispatching = true;
      try {
        for (let i = 0; i < events.length; i++) {
          // A message inflated synchronously failed (failAndDeliver): the events after it are
          // dropped, and its error, now in `pending`, is delivered below.
          if (this.failedInDriver) break;
          if (this.holding) {
            this.pending = events.slice(i);
            this.pendingIndex = 0;
            return;
          }
          this.dispatch(events[i]!);
        }
      } finally {
        this.dispatching = false;
      }
      // Events queued by handlers during dispatch (re-entrancy) are delivered now, in order.
      if (this.pending.length !== 0) this.drain();
      return;
    }
    if (this.pending === NO_EVENTS) this.pending = [];
    for (const e of events) this.pending.push(e);
    this.drain();
  }

  private drain(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (!this.holding && this.pendingIndex < this.pending.length) {
        const event = this.pending[this.pendingIndex++]!;
        this.dispatch(event);
      }
      if (this.pendingIndex >= this.pending.length) {
        this.pending = NO_EVENTS;
        this.pendingIndex = 0;
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Whether parsed events must wait (pause(), an inflation, backed-up output, a yield). */
  private get holding(): boolean {
    return this.paused || this.inflating || this.outputBlocked || this.yielding;
  }

  private dispatch(event: ProtocolEvent): void {
    switch (event.type) {
      case 'message':
        if (event.compressed) this.inflate(event.data, event.binary);
        else this.listener[kOnMessage](event.data, event.binary);
        break;
      case 'ping':
        this.listener[kOnPing](event.data);
        break;
      case 'pong':
        this.listener[kOnPong](event.data);
        break;
      case 'close':
        this.peerCode = event.code;
        this.peerReason = event.reason;
        // The reply was held until the messages before the close frame were handled, so that
        // what their handlers sent goes out first (as in ws 8).
        this.connection.releaseFailureClose();
        this.listener[kOnCloseFrame](event.code, event.reason);
        this.flush();
        break;
      case 'error':
        this.connection.releaseFailureClose();
        this.listener[kOnError](event.error);
        this.flush();
        break;
    }
  }

  private inflate(data: Buffer, binary: boolean): void {
    const compressor = this.options.compressor;
    if (!compressor) {
      // The core only accepts RSV1 when an extension was negotiated; this cannot happen.
      this.failAndDeliver(
        new WebSocketError(
          ErrorCode.UNEXPECTED_RSV,
          'Compressed message without an extension',
          CloseCode.PROTOCOL_ERROR,
        ),
      );
      return;
    }
    this.inflating = true;
    let returned = false;
    compressor.decompress(data, true, this.connection.limits.maxMessageBytes, (error, out) => {
      // Handled like an input chunk (see onData): what handlers send leaves at the end, together.
      inputDepth++;
      try {
        this.deliverInflated(error, out, binary);
        // Inflated before decompress() returned: the dispatch loop that called us goes on with
        // the next events, and its caller flushes, as for an uncompressed message.
        if (!returned) return;
        this.wait(undefined);
        this.drain();
      } finally {
        endInput();
      }
      if (this.closeAfterInflate && !this.inflating) {
        this.closeAfterInflate = false;
        if (this.closed) this.finishClose();
        else this.onSocketClose();
      } else if (returned) {
        this.updateReading();
      }
    });
    returned = true;
  }

  private deliverInflated(error: WebSocketError | null, out: Buffer | undefined, binary: boolean): void {
    this.inflating = false;
    if (error || !out) {
      this.failAndDeliver(
        error ??
          new WebSocketError(ErrorCode.INVALID_COMPRESSED_DATA, 'Inflate failed', CloseCode.INVALID_PAYLOAD),
      );
    } else if (!binary && !this.connection.skipUTF8Validation && !isUtf8(out)) {
      // RFC 6455 §8.1: text must be valid UTF-8 (checked after inflating, RFC 7692 §6).
      this.failAndDeliver(
        new WebSocketError(
          ErrorCode.INVALID_UTF8,
          'Invalid UTF-8 in a compressed text message',
          CloseCode.INVALID_PAYLOAD,
        ),
      );
    } else {
      this.inflatedSinceYield += out.length;
      // Pace inflation: past the budget, the next message waits for a turn of the event loop.
      if (this.inflatedSinceYield >= INFLATE_BYTES_PER_TURN && !this.closed) this.yieldTurn();
      this.listener[kOnMessage](out, binary);
    }
  }

  /** Holds delivery until a setImmediate, then delivers what waits (see `holding`). */
  private yieldTurn(): void {
    if (this.yielding) return;
    this.yielding = true;
    setImmediate(resumeAfterYield, this);
  }

  /** @internal */
  resumeAfterYield(): void {
    this.yielding = false;
    this.inflatedSinceYield = 0;
    if (this.closed) return;
    this.deliverPending();
  }

  /** Delivers held events as one input (their handlers' sends leave together), then reads on. */
  private deliverPending(): void {
    if (this.pendingIndex < this.pending.length && !this.dispatching) {
      inputDepth++;
      try {
        this.wait(undefined);
        this.drain();
      } finally {
        endInput();
      }
    }
    this.updateReading();
  }

  /**
   * Stops or restarts the socket's reading: stopped while the application paused us, while
   * parsed events wait (an inflation in progress), and while our output is backed up.
   */
  private updateReading(): void {
    if (this.closed) return;
    const stop = this.holding || this.pendingIndex < this.pending.length;
    if (stop === this.readingStopped) return;
    this.readingStopped = stop;
    if (stop) this.socket.pause();
    else this.socket.resume();
  }

  // ---- message deadline (messageAssemblyTimeoutMs) ------------------------------------------

  /** Starts, restarts or stops the deadline of the message being received. */
  private checkAssembly(): void {
    const conn = this.connection;
    if (!conn.receivingMessage || this.closed) {
      if (this.assemblyTimer !== undefined) {
        clearTimeout(this.assemblyTimer);
        this.assemblyTimer = undefined;
      }
      return;
    }
    const ms = conn.limits.messageAssemblyTimeoutMs;
    if (ms === 0) return;
    const mark = conn.messagesReceived;
    if (this.assemblyTimer === undefined) {
      this.assemblyTimer = setTimeout(assemblyTimedOut, ms, this);
      this.assemblyTimer.unref();
    } else if (mark !== this.assemblyMark) {
      this.assemblyTimer.refresh();
    }
    this.assemblyMark = mark;
  }

  /** @internal */
  onAssemblyTimeout(): void {
    this.assemblyTimer = undefined;
    if (this.closed || !this.connection.receivingMessage) return;
    // Not the peer's doing: the application paused us, or we stopped reading to inflate.
    if (this.paused || this.inflating || this.yielding) {
      this.checkAssembly();
      return;
    }
    const ms = this.connection.limits.messageAssemblyTimeoutMs;
    // A failure is delivered even if our output is backed up.
    this.outputBlocked = false;
    inputDepth++;
    try {
      this.wait(undefined);
      this.failAndDeliver(
        new WebSocketError(
          ErrorCode.MESSAGE_TIMEOUT,
          `A message took longer than messageAssemblyTimeoutMs (${ms} ms) to arrive`,
          CloseCode.POLICY_VIOLATION,
        ),
      );
      this.drain();
    } finally {
      endInput();
    }
    // Read again (input is now discarded), so the peer's end of the connection is seen.
    this.updateReading();
  }

  /** Fails the connection from the driver (inflate errors): later parsed events are dropped. */
  private failAndDeliver(error: WebSocketError): void {
    this.failedInDriver = true;
    this.pending = [];
    this.pendingIndex = 0;
    this.connection.failWith(error);
    for (const e of this.connection.eventsReceived()) this.pending.push(e);
  }

  // ---- output -----------------------------------------------------------------------------

  /**
   * Writes everything the connection queued; then closes the transport if it is time. While any
   * connection's input chunk is being handled this waits until that is done, so that the
   * messages sent meanwhile leave together (see `onData`).
   */
  flush(callback?: WriteCallback): void {
    // Already waiting (user code run by `flushWaiting`, e.g. an 'error' handler, sends here
    // before this driver's turn): join the wait, so earlier callbacks still run first.
    if (inputDepth > 0 || this.isWaiting) this.wait(callback);
    else this.flushNow(callback);
  }

  private wait(callback: WriteCallback | undefined): void {
    if (callback) {
      if (this.waitCallbacks === undefined) this.waitCallbacks = [callback];
      else this.waitCallbacks.push(callback);
    }
    if (!this.isWaiting) {
      this.isWaiting = true;
      waiting.push(this);
    }
  }

  /** Called by `flushWaiting`. */
  flushWaited(): void {
    this.isWaiting = false;
    const callbacks = this.waitCallbacks;
    if (callbacks === undefined) {
      this.flushNow(undefined);
    } else {
      this.waitCallbacks = undefined;
      this.flushNow(combine(callbacks));
    }
  }

  private flushNow(callback: WriteCallback | undefined): void {
    const conn = this.connection;
    const out = conn.dataToSend();
    const socket = this.socket;
    if (socket.destroyed || this.closed || (this.ended && out.length !== 0)) {
      if (callback) process.nextTick(callback, notOpenError());
    } else if (out.length !== 0) {
      this.write(out, callback);
      this.outputChanged();
    } else if (callback) {
      process.nextTick(callback);
    }
    if (conn.shouldCloseTransport && !this.ended) {
      this.endTransport();
    } else if (conn.closeExpected() || (conn.closeFrameSent && conn.closeFrameReceived)) {
      // Waiting for the peer's close frame, or (a client) for the server to close the TCP
      // connection after the close handshake (RFC 6455 §7.1.1): not forever.
      this.startCloseTimer();
    }
  }

  /**
   * Hands output to the socket. While the socket still holds an earlier write (the peer or the
   * network is slower than us), one write carries a callback of ours and what follows is held,
   * merged into blocks, until that write is taken: the socket never holds more than a couple
   * of writes, however many frames are sent, so its bookkeeping stays proportional to the bytes
   * counted and destroying it costs the same whatever it held.
   */
  private write(out: readonly Buffer[], callback: WriteCallback | undefined): void {
    if (this.tracking) {
      if (this.held === undefined) this.held = new CoalescedOutput();
      this.held.add(out, callback);
      return;
    }
    const socket = this.socket;
    if (socket.writableLength === 0) {
      writeCoalesced(socket, out, callback);
      return;
    }
    this.tracking = true;
    writeCoalesced(socket, out, (error) => this.afterTrackedWrite(error, callback));
  }

  private afterTrackedWrite(error: Error | null | undefined, callback: WriteCallback | undefined): void {
    this.tracking = false;
    const held = this.held;
    if (held !== undefined && !held.empty && !error && !this.socket.destroyed) {
      const taken = held.take();
      this.write(taken.buffers, taken.callback);
    }
    if (this.endAfterHeld && !this.tracking && !this.socket.destroyed) {
      this.endAfterHeld = false;
      this.socket.end();
    }
    if (callback) callback(error);
    this.outputChanged();
  }

  /** @internal The socket's buffer emptied after it had passed its high-water mark. */
  onDrain(): void {
    this.outputChanged();
  }

  /**
   * Checks what waits to be sent after it grew or shrank: past `maxBufferedBytes` the peer is
   * not reading (terminated); past `readPauseBytes` we stop reading it, until it drains.
   */
  private outputChanged(): void {
    if (this.closed || this.socket.destroyed) return;
    const backlog = this.bufferedAmount;
    if (backlog > this.options.maxBufferedBytes) {
      this.peerNotReading();
      return;
    }
    // Never below the socket's high-water mark: past it, the socket emits 'drain' once it has
    // sent what it holds, which is what lets us read again.
    const threshold = Math.max(this.connection.limits.readPauseBytes, this.socket.writableHighWaterMark);
    const blocked = backlog > threshold;
    if (blocked === this.outputBlocked) return;
    this.outputBlocked = blocked;
    if (blocked) this.updateReading();
    // Deliver what waited on a later turn: this may run inside a send() or a write callback.
    else this.yieldTurn();
  }

  /** Ends our side of the transport once everything queued is written; starts the close timer. */
  private endTransport(): void {
    this.ended = true;
    if (this.tracking) this.endAfterHeld = true;
    else this.socket.end();
    this.startCloseTimer();
  }

  private peerNotReading(): void {
    const error = new WebSocketError(
      ErrorCode.PEER_NOT_READING,
      `The peer stopped reading: more than ${this.options.maxBufferedBytes} bytes are waiting to be sent (maxBufferedBytes)`,
      CloseCode.POLICY_VIOLATION,
    );
    this.listener[kOnError](error);
    this.terminate();
  }

  private startCloseTimer(): void {
    if (this.closeTimer || this.closed) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.options.closeTimeoutMs);
    this.closeTimer.unref?.();
  }

  /**
   * Sends a message. With a compressor, whole messages of at least its threshold are compressed
   * (unless `compress` is false); sends stay in call order while a compression runs.
   */
  send(
    data: string | Uint8Array,
    options: SendOptions & { compress?: boolean },
    callback?: WriteCallback,
  ): void {
    const compressor = this.options.compressor;
    const fin = options.fin ?? true;
    if (compressor && options.compress !== false && fin && !this.sendingFragmented) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
      if (bytes.length >= compressor.threshold) {
        // Counted in bufferedAmount from now until the compressed frame is queued.
        this.queuedSendBytes += bytes.length;
        this.enqueueSend(() =>
          this.sendCompressed(compressor, bytes, options.binary ?? typeof data !== 'string', callback),
        );
        this.outputChanged();
        return;
      }
    }
    this.sendingFragmented = !fin;
    if (this.compressing || this.sendQueue.length !== 0) {
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      this.queuedSendBytes += size;
      this.enqueueSend(() => {
        this.queuedSendBytes -= size;
        this.sendNow(data, options, callback);
        this.nextSend();
      });
      this.outputChanged();
      return;
    }
    this.sendNow(data, options, callback);
  }

  private sendNow(data: string | Uint8Array, options: SendOptions, callback?: WriteCallback): void {
    try {
      this.connection.send(data, {
        binary: options.binary ?? typeof data !== 'string',
        fin: options.fin ?? true,
      });
    } catch (error) {
      if (callback) process.nextTick(callback, error as Error);
      return;
    }
    this.flush(callback);
  }

  private enqueueSend(job: () => void): void {
    if (this.sendQueue === NO_JOBS) this.sendQueue = [];
    this.sendQueue.push(job);
    if (!this.compressing && this.sendQueue.length === 1) this.nextSend();
  }

  /** Runs queued sends until one waits for a compression; a loop, since compressions may finish at once. */
  private nextSend(): void {
    if (this.sendLoop) return;
    this.sendLoop = true;
    try {
      // (The queue may be the shared frozen empty array: check its length before shift().)
      while (!this.compressing && this.sendQueue.length !== 0) {
        const job = this.sendQueue.shift()!;
        job();
      }
    } finally {
      this.sendLoop = false;
    }
  }

  private sendCompressed(
    compressor: MessageCompressor,
    bytes: Buffer,
    binary: boolean,
    callback?: WriteCallback,
  ): void {
    this.compressing = true;
    compressor.compress(bytes, true, (error, out) => {
      this.compressing = false;
      this.queuedSendBytes -= bytes.length;
      if (error || !out) {
        if (callback) callback(error ?? new Error('Compression failed'));
      } else if (!this.closed) {
        try {
          this.connection.send(out, { binary, compressed: true });
          this.flush(callback);
        } catch (sendError) {
          if (callback) callback(sendError as Error);
        }
      } else if (callback) {
        callback(notOpenError());
      }
      this.nextSend();
      // Compressing less than before may let us read again (see outputChanged).
      if (this.outputBlocked) this.outputChanged();
    });
  }

  sendPrepared(frames: readonly Buffer[], callback?: WriteCallback): void {
    if (this.compressing || this.sendQueue.length !== 0) {
      // Keep call order behind a compression in progress.
      let size = 0;
      for (const frame of frames) size += frame.length;
      this.queuedSendBytes += size;
      this.enqueueSend(() => {
        this.queuedSendBytes -= size;
        try {
          this.connection.sendPrepared(frames);
          this.flush(callback);
        } catch (error) {
          if (callback) process.nextTick(callback, error as Error);
        }
        this.nextSend();
      });
      this.outputChanged();
      return;
    }
    this.connection.sendPrepared(frames);
    this.flush(callback);
  }

  ping(data: Uint8Array, callback?: WriteCallback): void {
    this.connection.sendPing(data);
    this.flush(callback);
  }

  pong(data: Uint8Array, callback?: WriteCallback): void {
    this.connection.sendPong(data);
    this.flush(callback);
  }

  /** Starts the closing handshake (validated by the core; throws on a bad code or reason). */
  close(code?: number, reason?: string): void {
    if (this.compressing || this.sendQueue.length !== 0) {
      // Validate now (throws for a bad code or reason), send after the queued messages.
      encodeClosePayload(code, reason);
      this.enqueueSend(() => {
        this.connection.sendClose(code, reason);
        this.flush();
        this.nextSend();
      });
      return;
    }
    this.connection.sendClose(code, reason);
    this.flush();
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(): void {
    this.socket.destroy();
  }

  pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.updateReading();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.drain();
    this.updateReading();
  }
}

/** Nesting depth of `onData` calls in progress, over all connections of the process. */
let inputDepth = 0;
/** Drivers whose output waits for `inputDepth` to reach 0, in the order they first wrote. */
let waiting: ConnectionDriver[] = [];

/**
 * Runs `fn` as if it handled an input chunk: what it sends, to any connection, waits until it
 * returns, then leaves in one write per connection (see `onData`). Nested in an input chunk's
 * handling, the chunk's end writes it. Rethrows what `fn` throws, after writing.
 */
export function batchOutput<T>(fn: () => T): T {
  inputDepth++;
  try {
    return fn();
  } finally {
    endInput();
  }
}

/** Ends the handling of one input (see `onData`): the outermost writes what waited. */
function endInput(): void {
  if (--inputDepth === 0) flushWaiting();
}

/** Writes what every waiting driver queued. Writing can run user code that sends again. */
function flushWaiting(): void {
  let failure: unknown;
  while (waiting.length !== 0) {
    const drivers = waiting;
    waiting = [];
    for (const driver of drivers) {
      try {
        driver.flushWaited();
      } catch (error) {
        failure ??= error;
      }
    }
  }
  if (failure !== undefined) throw failure;
}

/** The empty `pending` / `sendQueue` of every driver (shared, never written to: see enqueue). */
const NO_EVENTS: ProtocolEvent[] = Object.freeze([]) as unknown as ProtocolEvent[];
const NO_JOBS: Array<() => void> = Object.freeze([]) as unknown as Array<() => void>;

const kDriver = Symbol('ieum.driver');
type DriverSocket = Socket & { [kDriver]: ConnectionDriver };

function socketOnData(this: Socket, chunk: Buffer): void {
  (this as DriverSocket)[kDriver].onData(chunk);
}
function socketOnEnd(this: Socket): void {
  (this as DriverSocket)[kDriver].onEnd();
}
function socketOnClose(this: Socket): void {
  (this as DriverSocket)[kDriver].onSocketClose();
}
function socketOnError(this: Socket): void {
  (this as DriverSocket)[kDriver].onSocketError();
}
function socketOnDrain(this: Socket): void {
  (this as DriverSocket)[kDriver].onDrain();
}
function resumeAfterYield(driver: ConnectionDriver): void {
  driver.resumeAfterYield();
}
function assemblyTimedOut(driver: ConnectionDriver): void {
  driver.onAssemblyTimeout();
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function notOpenError(): WebSocketError {
  return new WebSocketError(ErrorCode.INVALID_STATE, 'The connection is closed', CloseCode.ABNORMAL_CLOSURE);
}
