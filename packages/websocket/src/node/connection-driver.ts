import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/close-codes.js';
import { encodeClosePayload } from '../protocol/close-frame.js';
import type { Connection, ProtocolEvent, SendOptions } from '../protocol/connection.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';

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
   * Bytes the socket may hold unsent (`bufferedAmount`) before the peer is considered to have
   * stopped reading. Default 64 MiB. Exceeded: the send's callback and an `error` event get
   * WS_ERR_PEER_NOT_READING (close code 1008) and the connection is terminated (a close frame
   * could not reach a peer that does not read). Nothing is dropped silently.
   */
  maxBufferedBytes: number;
  /** The negotiated compression extension, if any. */
  compressor?: MessageCompressor | undefined;
}

export const DEFAULT_DRIVER_OPTIONS: Readonly<DriverOptions> = Object.freeze({
  closeTimeoutMs: 30_000,
  maxBufferedBytes: 64 * 1024 * 1024,
});

type WriteCallback = (error?: Error | null) => void;

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
  private paused = false;
  /** A compressed message is being inflated: later events wait for it (order is kept). */
  private inflating = false;
  /** The socket closed while inflating: finish closing once the message is delivered. */
  private closeAfterInflate = false;
  /** Sends waiting behind a compression in progress, in order. */
  private sendQueue: Array<() => void> = NO_JOBS;
  private compressing = false;
  /** nextSend() is running: a job asking for the next one just returns, the loop goes on. */
  private sendLoop = false;
  private dispatching = false;
  /** `failAndDeliver` ran: the connection failed from the driver, parsed events are dropped. */
  private failedInDriver = false;
  /** In `waiting`: output waits for the end of the input chunk being handled (see `flush`). */
  private isWaiting = false;
  /** Callbacks of the writes that wait (created on first use). */
  private waitCallbacks: WriteCallback[] | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private peerCode: number = CloseCode.ABNORMAL_CLOSURE;
  private peerReason = '';
  private closed = false;
  private ended = false;

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
    socket.setTimeout(0);
    socket.setNoDelay(true);
    // Shared listeners that find the driver on the socket: no closures per connection.
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    if (head && head.length > 0) {
      // Parse the handshake's leftover bytes on the next tick, so the owner can attach its
      // message listeners first ('open' / 'connection' are emitted right after start()).
      socket.pause();
      const leftover = Buffer.from(head);
      process.nextTick(() => {
        if (this.closed) return;
        this.onData(leftover);
        if (!this.paused) socket.resume();
      });
    } else if (socket.isPaused() && !this.paused) {
      socket.resume();
    }
  }

  get bufferedAmount(): number {
    return this.socket.writableLength + this.connection.bytesToSend;
  }

  get isPaused(): boolean {
    return this.paused;
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
  }

  /** @internal */
  onEnd(): void {
    this.connection.receiveEof();
    this.enqueue(this.connection.eventsReceived());
    // The peer will send nothing more: finish our side too. Sockets from an http.Server are
    // half-open capable (allowHalfOpen), so Node would not do it for us.
    this.flush();
    if (!this.ended) {
      this.ended = true;
      this.socket.end();
      this.startCloseTimer();
    }
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
    // Deliver what was parsed before the close, even if the user paused us (the compressor is
    // still open: a compressed message held by pause() is inflated and delivered too).
    this.paused = false;
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
    if (this.pending.length === 0 && !this.paused && !this.inflating && !this.dispatching) {
      // Fast path: dispatch straight from the core's array, no copying.
      this.dispatching = true;
      try {
        for (let i = 0; i < events.length; i++) {
          // A message inflated synchronously failed (failAndDeliver): the events after it are
          // dropped, and its error, now in `pending`, is delivered below.
          if (this.failedInDriver) break;
          if (this.paused || this.inflating) {
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
      while (!this.paused && !this.inflating && this.pendingIndex < this.pending.length) {
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
      this.listener[kOnMessage](out, binary);
    }
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
      this.flushNow(callbacks.length === 1 ? callbacks[0] : (error) => runAll(callbacks, error));
    }
  }

  private flushNow(callback: WriteCallback | undefined): void {
    const conn = this.connection;
    const out = conn.dataToSend();
    const socket = this.socket;
    if (socket.destroyed || this.closed) {
      if (callback) process.nextTick(callback, notOpenError());
    } else if (out.length !== 0) {
      writeAll(socket, out, callback);
      if (socket.writableLength > this.options.maxBufferedBytes) this.peerNotReading();
    } else if (callback) {
      process.nextTick(callback);
    }
    if (conn.shouldCloseTransport && !this.ended) {
      this.ended = true;
      socket.end();
      this.startCloseTimer();
    } else if (conn.closeExpected() || (conn.closeFrameSent && conn.closeFrameReceived)) {
      // Waiting for the peer's close frame, or (a client) for the server to close the TCP
      // connection after the close handshake (RFC 6455 §7.1.1): not forever.
      this.startCloseTimer();
    }
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
        this.enqueueSend(() =>
          this.sendCompressed(compressor, bytes, options.binary ?? typeof data !== 'string', callback),
        );
        return;
      }
    }
    this.sendingFragmented = !fin;
    if (this.compressing || this.sendQueue.length !== 0) {
      this.enqueueSend(() => {
        this.sendNow(data, options, callback);
        this.nextSend();
      });
      return;
    }
    this.sendNow(data, options, callback);
  }

  private sendingFragmented = false;

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
    });
  }

  sendPrepared(frames: readonly Buffer[], callback?: WriteCallback): void {
    if (this.compressing || this.sendQueue.length !== 0) {
      // Keep call order behind a compression in progress.
      this.enqueueSend(() => {
        try {
          this.connection.sendPrepared(frames);
          this.flush(callback);
        } catch (error) {
          if (callback) process.nextTick(callback, error as Error);
        }
        this.nextSend();
      });
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
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.closed) this.socket.resume();
    this.drain();
  }
}

/** Nesting depth of `onData` calls in progress, over all connections of the process. */
let inputDepth = 0;
/** Drivers whose output waits for `inputDepth` to reach 0, in the order they first wrote. */
let waiting: ConnectionDriver[] = [];

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

/**
 * Frames that add up to less than 4 KiB are copied into one buffer (one `write`); that size
 * still comes from Node's shared buffer pool. Larger output goes out as one corked `writev`:
 * copying it into a fresh buffer cost more than it saved (1 KiB echo: 2.73 vs 2.47 µs of
 * server CPU per message, bench/scripts/profile.ts).
 */
const COALESCE_BYTES = 4 * 1024 - 1;

/**
 * Writes several buffers: a few small ones copied into one buffer (cheaper for the kernel and
 * for Node than a `writev` of many small pieces), otherwise corked into one `writev`, uncopied.
 */
function writeAll(socket: Socket, out: Buffer[], callback: WriteCallback | undefined): void {
  if (out.length === 1) {
    socket.write(out[0]!, callback);
    return;
  }
  let total = 0;
  for (let i = 0; i < out.length; i++) total += out[i]!.length;
  if (total <= COALESCE_BYTES) {
    socket.write(Buffer.concat(out, total), callback);
    return;
  }
  socket.cork();
  const last = out.length - 1;
  for (let i = 0; i < last; i++) socket.write(out[i]!);
  socket.write(out[last]!, callback);
  socket.uncork();
}

function runAll(callbacks: WriteCallback[], error?: Error | null): void {
  for (const callback of callbacks) callback(error);
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function notOpenError(): WebSocketError {
  return new WebSocketError(ErrorCode.INVALID_STATE, 'The connection is closed', CloseCode.ABNORMAL_CLOSURE);
}
