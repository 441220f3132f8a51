import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/close-codes.js';
import { encodeClosePayload } from '../protocol/close-frame.js';
import type { Connection, ProtocolEvent, SendOptions } from '../protocol/connection.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';

/** What the driver reports to the public API object that owns it. Called in wire order. */
export interface DriverListener {
  onMessage(data: Buffer, binary: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** The peer's close frame arrived (the reply, if one was due, is already queued). */
  onCloseFrame(code: number, reason: string): void;
  /** The peer broke the protocol or a limit was hit; the connection is being failed. */
  onError(error: WebSocketError): void;
  /** The transport is closed. `code` is the peer's close code, or 1006 without a close frame. */
  onClosed(code: number, reason: string): void;
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
  private readonly socket: Socket;
  private readonly listener: DriverListener;
  private readonly options: DriverOptions;
  /** Events held while paused (or queued during dispatch), read from `pendingIndex`. */
  private pending: ProtocolEvent[] = [];
  private pendingIndex = 0;
  private paused = false;
  /** A compressed message is being inflated: later events wait for it (order is kept). */
  private inflating = false;
  /** The socket closed while inflating: finish closing once the message is delivered. */
  private closeAfterInflate = false;
  /** Sends waiting behind a compression in progress, in order. */
  private sendQueue: Array<() => void> = [];
  private compressing = false;
  private dispatching = false;
  /** Inside `onData`: writes wait until the chunk is handled (see `flush`). */
  private batching = false;
  private batchCallbacks: WriteCallback[] = [];
  private closeTimer: NodeJS.Timeout | undefined;
  private peerCode: number = CloseCode.ABNORMAL_CLOSURE;
  private peerReason = '';
  private closed = false;
  private ended = false;
  /** Set by the heartbeat: whether anything arrived since the last ping. */
  alive = true;

  constructor(socket: Socket, connection: Connection, listener: DriverListener, options: DriverOptions) {
    this.socket = socket;
    this.connection = connection;
    this.listener = listener;
    this.options = options;
  }

  /** Starts reading. `head` holds bytes that arrived with the handshake: they are parsed first. */
  start(head?: Buffer): void {
    const socket = this.socket;
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onSocketClose);
    socket.on('error', this.onSocketError);
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

  private readonly onData = (chunk: Buffer): void => {
    this.alive = true;
    const conn = this.connection;
    conn.receiveData(chunk);
    const events = conn.eventsReceived();
    // Replies made by handlers of this chunk's messages are written once, at the end, usually
    // as one buffer: one system call per input chunk however many messages it held.
    this.batching = true;
    try {
      if (events.length !== 0) this.enqueue(events);
    } finally {
      this.batching = false;
      const callbacks = this.batchCallbacks;
      if (callbacks.length === 0) this.flush();
      else {
        this.batchCallbacks = [];
        this.flush(callbacks.length === 1 ? callbacks[0] : (error) => runAll(callbacks, error));
      }
    }
  };

  private readonly onEnd = (): void => {
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
  };

  private readonly onSocketError = (): void => {
    // Transport errors (ECONNRESET, EPIPE) end the connection with 1006; they are not
    // protocol errors, so, like ws, no 'error' event is emitted for them.
    this.socket.destroy();
  };

  private readonly onSocketClose = (): void => {
    if (this.closed) return;
    if (this.inflating) {
      this.closeAfterInflate = true;
      return;
    }
    this.closed = true;
    this.options.compressor?.close();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    // Deliver what was parsed before the close, unless the user paused us.
    this.paused = false;
    this.drain();
    this.listener.onClosed(this.peerCode, this.peerReason);
  };

  private enqueue(events: ProtocolEvent[]): void {
    if (this.pending.length === 0 && !this.paused && !this.inflating && !this.dispatching) {
      // Fast path: dispatch straight from the core's array, no copying.
      this.dispatching = true;
      try {
        for (let i = 0; i < events.length; i++) {
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
        this.pending = [];
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
        else this.listener.onMessage(event.data, event.binary);
        break;
      case 'ping':
        this.listener.onPing(event.data);
        break;
      case 'pong':
        this.listener.onPong(event.data);
        break;
      case 'close':
        this.peerCode = event.code;
        this.peerReason = event.reason;
        this.listener.onCloseFrame(event.code, event.reason);
        this.flush();
        break;
      case 'error':
        this.connection.releaseFailureClose();
        this.listener.onError(event.error);
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
      this.inflating = false;
      if (error || !out) {
        this.failAndDeliver(
          error ??
            new WebSocketError(
              ErrorCode.INVALID_COMPRESSED_DATA,
              'Inflate failed',
              CloseCode.INVALID_PAYLOAD,
            ),
        );
      } else if (!binary && !isUtf8(out)) {
        // RFC 6455 §8.1: text must be valid UTF-8 (checked after inflating, RFC 7692 §6).
        this.failAndDeliver(
          new WebSocketError(
            ErrorCode.INVALID_UTF8,
            'Invalid UTF-8 in a compressed text message',
            CloseCode.INVALID_PAYLOAD,
          ),
        );
      } else {
        this.listener.onMessage(out, binary);
      }
      // Inflated before decompress() returned: the dispatch loop that called us goes on with
      // the next events, and its caller flushes, as for an uncompressed message.
      if (!returned) return;
      this.socket.cork();
      try {
        this.drain();
        this.flush();
      } finally {
        this.socket.uncork();
      }
      if (this.closeAfterInflate && !this.inflating) {
        this.closeAfterInflate = false;
        this.onSocketClose();
      }
    });
    returned = true;
  }

  /** Fails the connection from the driver (inflate errors): later parsed events are dropped. */
  private failAndDeliver(error: WebSocketError): void {
    this.pending = [];
    this.pendingIndex = 0;
    this.connection.failWith(error);
    for (const e of this.connection.eventsReceived()) this.pending.push(e);
  }

  // ---- output -----------------------------------------------------------------------------

  /**
   * Writes everything the connection queued; then closes the transport if it is time. While an
   * input chunk is being handled (`batching`) this waits: `onData` flushes once at its end.
   */
  flush(callback?: WriteCallback): void {
    if (this.batching) {
      if (callback) this.batchCallbacks.push(callback);
      return;
    }
    const conn = this.connection;
    const out = conn.dataToSend();
    const socket = this.socket;
    if (socket.destroyed || this.closed) {
      if (callback) process.nextTick(callback, notOpenError());
    } else if (out.length === 1) {
      socket.write(out[0]!, callback);
      if (socket.writableLength > this.options.maxBufferedBytes) this.peerNotReading();
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
    } else if (conn.closeExpected()) {
      this.startCloseTimer();
    }
  }

  private peerNotReading(): void {
    const error = new WebSocketError(
      ErrorCode.PEER_NOT_READING,
      `The peer stopped reading: more than ${this.options.maxBufferedBytes} bytes are waiting to be sent (maxBufferedBytes)`,
      CloseCode.POLICY_VIOLATION,
    );
    this.listener.onError(error);
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
    this.sendQueue.push(job);
    if (!this.compressing && this.sendQueue.length === 1) this.nextSend();
  }

  /** Runs queued sends until one waits for a compression; a loop, since compressions may finish at once. */
  private nextSend(): void {
    if (this.sendLoop) return;
    this.sendLoop = true;
    try {
      while (!this.compressing) {
        const job = this.sendQueue.shift();
        if (!job) break;
        job();
      }
    } finally {
      this.sendLoop = false;
    }
  }

  /** nextSend() is running: a job asking for the next one just returns, the loop goes on. */
  private sendLoop = false;

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

/** Frames that add up to at most this many bytes are copied into one buffer: one `write`. */
const COALESCE_BYTES = 16 * 1024;

/**
 * Writes several buffers: small ones copied into one buffer (cheaper for the kernel and for
 * Node than a `writev` of many small pieces), large ones corked into one `writev`, uncopied.
 */
function writeAll(socket: Socket, out: Buffer[], callback: WriteCallback | undefined): void {
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
