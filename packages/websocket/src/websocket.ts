import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type CloseEventLike, DualEventTarget, type WebSocketEvent } from './event-target.js';
import { BlobSends } from './node/blob-sends.js';
import { type ClientHandshake, type ClientOptions, openClientHandshake } from './node/client-handshake.js';
import {
  ConnectionDriver,
  type DriverListener,
  type DriverOptions,
  kOnClosed,
  kOnCloseFrame,
  kOnError,
  kOnMessage,
  kOnPing,
  kOnPong,
  type MessageCompressor,
} from './node/connection-driver.js';
import { compressOnce, PerMessageDeflate } from './node/deflate.js';
import { randomFill } from './node/random.js';
import { CloseCode } from './protocol/close-codes.js';
import { encodeClosePayload } from './protocol/close-frame.js';
import { Connection, prepareMessage, type Role } from './protocol/connection.js';
import { argumentError, ErrorCode, stateError, WebSocketError } from './protocol/errors.js';
import type { Limits } from './protocol/limits.js';
import type { createWebSocketStream } from './stream.js';
import type { WebSocketServer } from './websocket-server.js';

export type { ClientOptions } from './node/client-handshake.js';

/** How binary messages are delivered: ws's `nodebuffer` (default), `arraybuffer`, `fragments`, or `blob`. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
export type ReadyState = 0 | 1 | 2 | 3;
export type SendCallback = (error?: Error | null) => void;

export interface WebSocketSendOptions {
  /** Send as binary (default: binary for bytes, text for strings). */
  binary?: boolean;
  /** Last fragment of the message (default true). */
  fin?: boolean;
  /**
   * Compress this message when permessage-deflate was negotiated (default true; messages under
   * the `threshold` are never compressed). Ignored otherwise.
   */
  compress?: boolean;
  /** Accepted for ws compatibility: clients always mask and servers never do (RFC 6455 §5.1). */
  mask?: boolean;
}

/** Options shared by server-side and client-side connections. */
export interface ConnectionSettings {
  limits: Partial<Limits>;
  closeTimeoutMs: number;
  maxBufferedBytes: number;
  autoPong: boolean;
  /** See `WebSocketConnectionOptions.skipUTF8Validation`. Default false. */
  skipUTF8Validation?: boolean;
  /** Client only: fills each 4-byte masking key (ws's `generateMask`). Default: crypto random. */
  maskKeyFill?: (key: Uint8Array) => void;
  /** See `WebSocketConnectionOptions.allowSynchronousEvents`. */
  allowSynchronousEvents: boolean;
}

/**
 * A message encoded once (see `WebSocketServer.prepare`); send it with `sendPrepared`. With
 * permessage-deflate, connections that negotiated server_no_context_takeover get a compressed
 * copy, compressed once per window size and cached here; others get the uncompressed frames.
 */
export interface PreparedMessage {
  readonly frames: readonly Buffer[];
  readonly byteLength: number;
  /** @internal the payload, kept to compress once on first use. */
  readonly data?: Uint8Array;
  readonly binary?: boolean;
  /** Whether compressed copies may be sent (default true). */
  readonly compress?: boolean;
  /** @internal compressed frames by window bits. */
  readonly compressed?: Map<number, readonly Buffer[]>;
}

/** What a `message` listener receives for binary messages, by `binaryType` (text: always a Buffer). */
export type RawData = Buffer | ArrayBuffer | Buffer[] | Blob;

type AnyListener = (...args: never[]) => void;

/** Typed listener signatures for the ws-style events (like @types/ws). */
export interface WebSocket {
  on(event: 'open', listener: (this: WebSocket) => void): this;
  on(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  on(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  on(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  on(event: 'upgrade', listener: (this: WebSocket, response: IncomingMessage) => void): this;
  on(event: 'redirect', listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
  on(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void,
  ): this;
  on(event: string | symbol, listener: AnyListener): this;
  once(event: 'open', listener: (this: WebSocket) => void): this;
  once(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  once(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  once(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  once(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  once(event: string | symbol, listener: AnyListener): this;
  off(event: string | symbol, listener: AnyListener): this;
  addListener(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  addListener(event: string | symbol, listener: AnyListener): this;
  removeListener(event: string | symbol, listener: AnyListener): this;
}

const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

// Bits of `flags`.
const W_CLOSE_FRAME_RECEIVED = 1;
const W_CLOSE_FRAME_SENT = 2;
const W_ERROR_EMITTED = 4;
const W_USER_PAUSED = 8;
const W_SYNC_EVENTS = 16;
const W_ALIVE = 32;
/** `readyState` (0-3) is held in bits 6 and 7. */
const W_STATE_SHIFT = 6;
const W_STATE = 3 << W_STATE_SHIFT;

/**
 * A WebSocket connection: the `ws` 8 API (an EventEmitter with `message`, `close`, `error`,
 * `ping`, `pong`, `open` events) and the WHATWG API (`onmessage`, `addEventListener`, ...).
 * Create clients with `new WebSocket(url, protocols?, options?)`; servers create theirs.
 */
export class WebSocket extends DualEventTarget implements DriverListener {
  // The ready-state constants are defined below the class, as ws defines them: enumerable,
  // read-only and non-configurable, on the class and on the prototype.
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  // ws 8's statics (`WebSocket.Server`, `WebSocket.createWebSocketStream`, ...): set in
  // index.ts, which can import the server without an import cycle.
  declare static Server: typeof WebSocketServer;
  declare static WebSocketServer: typeof WebSocketServer;
  declare static WebSocket: typeof WebSocket;
  declare static createWebSocketStream: typeof createWebSocketStream;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  private _url = '';
  private _protocol = '';
  private _extensions = '';
  private _binaryType: BinaryType = 'nodebuffer';
  private driver: ConnectionDriver | undefined;
  private handshake: ClientHandshake | undefined;
  /** Bytes given to send/ping/pong once not OPEN (WHATWG: they still count in bufferedAmount). */
  private bytesAfterClose = 0;
  /** Sends in call order while Blobs are read (created by the first Blob sent). */
  private blobs: BlobSends | undefined;
  /** With `allowSynchronousEvents: false`: the macrotask after which the next event may come. */
  private eventYield: NodeJS.Immediate | undefined;
  /** @internal the server's `clients` set, which this connection leaves when it closes. */
  _clients: Set<WebSocket> | undefined;
  /**
   * Boolean state, one bit each, and the ready state (`W_*`): one field instead of seven, less
   * memory per connection.
   */
  private flags = W_SYNC_EVENTS | W_ALIVE;
  private get _readyState(): ReadyState {
    return ((this.flags & W_STATE) >>> W_STATE_SHIFT) as ReadyState;
  }
  private set _readyState(state: ReadyState) {
    this.flags = (this.flags & ~W_STATE) | (state << W_STATE_SHIFT);
  }
  /** `allowSynchronousEvents` of the settings this connection was attached with. */
  private get syncEvents(): boolean {
    return (this.flags & W_SYNC_EVENTS) !== 0;
  }
  private set syncEvents(on: boolean) {
    this.flags = on ? this.flags | W_SYNC_EVENTS : this.flags & ~W_SYNC_EVENTS;
  }
  /** @internal used by the server's heartbeat. */
  get _alive(): boolean {
    return (this.flags & W_ALIVE) !== 0;
  }
  set _alive(on: boolean) {
    this.flags = on ? this.flags | W_ALIVE : this.flags & ~W_ALIVE;
  }
  private get closeFrameReceived(): boolean {
    return (this.flags & W_CLOSE_FRAME_RECEIVED) !== 0;
  }
  private set closeFrameReceived(on: boolean) {
    this.flags = on ? this.flags | W_CLOSE_FRAME_RECEIVED : this.flags & ~W_CLOSE_FRAME_RECEIVED;
  }
  private get closeFrameSent(): boolean {
    return (this.flags & W_CLOSE_FRAME_SENT) !== 0;
  }
  private set closeFrameSent(on: boolean) {
    this.flags = on ? this.flags | W_CLOSE_FRAME_SENT : this.flags & ~W_CLOSE_FRAME_SENT;
  }
  private get errorEmitted(): boolean {
    return (this.flags & W_ERROR_EMITTED) !== 0;
  }
  private set errorEmitted(on: boolean) {
    this.flags = on ? this.flags | W_ERROR_EMITTED : this.flags & ~W_ERROR_EMITTED;
  }
  /** `pause()` is in effect (reading may also stop for a moment to space events out). */
  private get userPaused(): boolean {
    return (this.flags & W_USER_PAUSED) !== 0;
  }
  private set userPaused(on: boolean) {
    this.flags = on ? this.flags | W_USER_PAUSED : this.flags & ~W_USER_PAUSED;
  }

  /**
   * Opens a client connection. `address`: a ws:, wss:, http: or https: URL without a fragment,
   * or `ws+unix:/path/to/socket:/request/path`. `protocols`: subprotocols to offer, in preference
   * order. Throws WS_ERR_INVALID_ARGUMENT at once for a bad URL, protocol list or option;
   * handshake failures arrive as an `error` event, then `close` with 1006.
   */
  constructor(
    address: string | URL | null,
    protocols?: string | string[] | ClientOptions,
    options?: ClientOptions,
  ) {
    super();
    if (address === null) return;
    let opts = options;
    let list = protocols;
    // As in ws, `null` is a (bad) subprotocol, not an options object.
    if (typeof protocols === 'object' && protocols !== null && !Array.isArray(protocols)) {
      opts = protocols;
      list = undefined;
    }
    const offered = list === undefined ? [] : Array.isArray(list) ? list : [list as string];
    this.handshake = openClientHandshake(address, offered, opts ?? {}, {
      target: this,
      onRedirect: (url, req) => {
        this._url = url;
        this.emit('redirect', url, req);
      },
      redirectListened: () => this.listenerCount('redirect') > 0,
      onUpgrade: (socket, head, result, settings) => {
        this.handshake = undefined;
        this.emit('upgrade', result.response);
        // close() or terminate() in an 'upgrade' listener: the connection never opens.
        if (this._readyState !== 0) {
          socket.destroy();
          return;
        }
        this.attach('client', socket, head, settings, {
          protocol: result.protocol,
          extensions: result.extensions,
          ...(result.compressor ? { compressor: result.compressor } : {}),
        });
        this._readyState = 1;
        this.emit('open');
      },
      onUnexpectedResponse: (req, res) => {
        if (this.listenerCount('unexpected-response') > 0) {
          this.emit('unexpected-response', req, res);
          return true;
        }
        return false;
      },
      onFailure: (error) => {
        this.handshake = undefined;
        this._readyState = 2;
        this.emitError(error);
        this.finish(CloseCode.ABNORMAL_CLOSURE, '');
      },
    });
    this._url = this.handshake.url;
  }

  /** @internal Attaches an upgraded socket (server side, or client after its handshake). */
  attach(
    role: Role,
    socket: Socket,
    head: Buffer | undefined,
    settings: ConnectionSettings,
    negotiated: { protocol?: string; extensions?: string; compressor?: MessageCompressor } = {},
  ): void {
    if (negotiated.protocol !== undefined) this._protocol = negotiated.protocol;
    if (negotiated.extensions !== undefined) this._extensions = negotiated.extensions;
    this.syncEvents = settings.allowSynchronousEvents;
    const connection = new Connection({
      role,
      limits: settings.limits,
      autoPong: settings.autoPong,
      skipUTF8Validation: settings.skipUTF8Validation === true,
      deferFailureClose: true,
      // RFC 7692 §6: permessage-deflate claims RSV1.
      allowRsv1: negotiated.compressor !== undefined,
      ...(role === 'client' ? { randomFill: settings.maskKeyFill ?? randomFill } : {}),
    });
    // Without a compressor the (shared) settings serve as the driver's options: no object per connection.
    const driverOptions: DriverOptions = negotiated.compressor
      ? {
          closeTimeoutMs: settings.closeTimeoutMs,
          maxBufferedBytes: settings.maxBufferedBytes,
          compressor: negotiated.compressor,
        }
      : settings;
    this.driver = new ConnectionDriver(socket, connection, this, driverOptions);
    if (role === 'server') this._readyState = 1;
    this.driver.start(head);
  }

  // ---- DriverListener: the driver reports here (methods on the prototype, keyed by symbols) --

  /** @internal */
  [kOnMessage](data: Buffer, binary: boolean): void {
    this._alive = true;
    this.emit('message', binary ? this.convertBinary(data) : data, binary);
    if (!this.syncEvents) this.yieldAfterEvent();
  }
  /** @internal */
  [kOnPing](data: Buffer): void {
    this._alive = true;
    this.emit('ping', data);
    if (!this.syncEvents) this.yieldAfterEvent();
  }
  /** @internal */
  [kOnPong](data: Buffer): void {
    this._alive = true;
    this.emit('pong', data);
    if (!this.syncEvents) this.yieldAfterEvent();
  }
  /** @internal */
  [kOnCloseFrame](): void {
    this.closeFrameReceived = true;
    this.closeFrameSent = true; // the core replied if we had not closed yet
    this._readyState = 2;
  }
  /** @internal */
  [kOnError](error: WebSocketError): void {
    this._readyState = 2;
    this.emitError(error);
  }
  /** @internal */
  [kOnClosed](code: number, reason: string): void {
    this.finish(code, reason);
  }

  /** `allowSynchronousEvents: false`: holds the next event (and reading) until the next macrotask. */
  private yieldAfterEvent(): void {
    if (this.eventYield !== undefined) return;
    this.driver!.pause();
    this.eventYield = setImmediate(() => {
      this.eventYield = undefined;
      if (!this.userPaused) this.driver!.resume();
    });
  }

  private emitError(error: Error): void {
    if (this.errorEmitted) return;
    this.errorEmitted = true;
    // An 'error' event without listeners would throw from EventEmitter and crash the process.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private finish(code: number, reason: string): void {
    if (this._readyState === 3) return;
    this._readyState = 3;
    this._clients?.delete(this);
    this.emit('close', code, Buffer.from(reason));
  }

  private convertBinary(data: Buffer): unknown {
    switch (this._binaryType) {
      case 'arraybuffer':
        return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? data.buffer
          : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      case 'fragments':
        return [data];
      case 'blob':
        return new Blob([data]);
      default:
        return data;
    }
  }

  protected toEvent(type: string, args: unknown[]): WebSocketEvent | undefined {
    switch (type) {
      case 'open':
        return { type, target: this };
      case 'message': {
        const [data, binary] = args as [Buffer, boolean];
        return { type, target: this, data: binary ? data : data.toString() } as WebSocketEvent;
      }
      case 'close': {
        const [code, reason] = args as [number, Buffer];
        const event: CloseEventLike = {
          type,
          target: this,
          code,
          reason: reason.toString(),
          wasClean: this.closeFrameReceived && this.closeFrameSent,
        };
        return event;
      }
      case 'error': {
        const [error] = args as [Error];
        return { type, target: this, error, message: error.message } as WebSocketEvent;
      }
      default:
        return undefined;
    }
  }

  // ---- state ------------------------------------------------------------------------------

  get readyState(): ReadyState {
    return this._readyState;
  }
  /** The URL this client connected to, after redirects ('' on the server side). */
  get url(): string {
    return this._url;
  }
  /** The subprotocol the server selected ('' when none). */
  get protocol(): string {
    return this._protocol;
  }
  /** The negotiated extensions, as a `Sec-WebSocket-Extensions` value ('' when none). */
  get extensions(): string {
    return this._extensions;
  }
  get binaryType(): BinaryType {
    return this._binaryType;
  }
  /** Other values are ignored, as in ws and browsers. */
  set binaryType(type: BinaryType) {
    if (BINARY_TYPES.includes(type)) this._binaryType = type;
  }
  /**
   * Bytes queued and not yet sent: in the socket, waiting to be compressed, in Blobs being read,
   * and (as WHATWG says) given to send() after the connection stopped being OPEN.
   */
  get bufferedAmount(): number {
    return (this.driver?.bufferedAmount ?? 0) + (this.blobs?.bytes ?? 0) + this.bytesAfterClose;
  }
  /** Whether `pause()` is in effect. As in ws, it keeps its last value once CLOSED. */
  get isPaused(): boolean {
    return this.userPaused;
  }
  /** The underlying socket (undefined before the handshake). */
  get rawSocket(): Socket | undefined {
    return this.driver?.socket;
  }

  // ---- actions ----------------------------------------------------------------------------

  private checkCanSend(callback: SendCallback | undefined, data?: unknown): boolean {
    if (this._readyState === 0) {
      throw stateError('WebSocket is not open: readyState 0 (CONNECTING). Wait for the open event.');
    }
    // The peer may have ended the connection (EOF, close frame) before the socket closed.
    if (this._readyState === 1 && !this.driver!.connection.canSend) this._readyState = 2;
    if (this._readyState !== 1) {
      // WHATWG: data sent once the connection is no longer open still counts in bufferedAmount.
      if (data) this.bytesAfterClose += byteLengthOf(data);
      // Like ws: not an exception, but the callback learns it was not sent.
      if (callback) process.nextTick(callback, notOpenError(this._readyState));
      return false;
    }
    return true;
  }

  /**
   * Sends a message: a string as text; bytes (Buffer, TypedArray, ArrayBuffer, DataView, an
   * array of byte values) or a Blob as binary; nothing (`send()`) as an empty binary message.
   * A Blob is read first; later sends, pings, pongs and close wait for it, in call order (as ws).
   * The callback runs once the data is handed to the OS, or with an error.
   * Throws while CONNECTING (like ws and browsers).
   */
  send(data?: unknown, options?: WebSocketSendOptions | SendCallback, callback?: SendCallback): void {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (typeof data === 'number') data = String(data);
    if (!this.checkCanSend(callback, data)) return;
    const binary = options?.binary ?? typeof data !== 'string';
    // The common calls, send(data) and send(data, { binary }): shared options, nothing allocated.
    const sendOptions =
      options === undefined || (options.fin === undefined && options.compress === undefined)
        ? binary
          ? SEND_BINARY
          : SEND_TEXT
        : {
            binary,
            fin: options.fin ?? true,
            ...(options.compress !== undefined ? { compress: options.compress } : {}),
          };
    if (typeof data !== 'string' && data instanceof Blob) {
      this.sendBlob(data, callback, (bytes) => this.driver!.send(bytes, sendOptions, callback));
      return;
    }
    const payload = data ? toSendable(data) : EMPTY;
    if (this.blobsWaiting) {
      this.afterBlobs(callback, () => this.driver!.send(payload, sendOptions, callback));
      return;
    }
    this.driver!.send(payload, sendOptions, callback);
  }

  /**
   * Reads a Blob, then `write`s its bytes; until then, sends made later wait (ws 8.18+ semantics).
   * The socket closed meanwhile: the callback gets an error. Reading failed: the callback and an
   * `error` event get the error, and the connection is terminated.
   */
  private sendBlob(blob: Blob, callback: SendCallback | undefined, write: (bytes: Uint8Array) => void): void {
    if (this.blobs === undefined) this.blobs = new BlobSends();
    this.blobs.read(
      blob,
      (bytes) => this.ifStillSendable(callback, () => write(bytes)),
      (error) => {
        if (callback) callback(error);
        if (this._readyState < 2) this._readyState = 2;
        this.emitError(error);
        this.driver!.terminate();
      },
    );
  }

  /** Whether sends must wait behind a Blob being read. */
  private get blobsWaiting(): boolean {
    return this.blobs?.waiting === true;
  }

  /** Queues a send behind the Blobs being read. */
  private afterBlobs(callback: SendCallback | undefined, run: () => void): void {
    this.blobs!.push(() => this.ifStillSendable(callback, run));
  }

  /** Runs a send delayed by a Blob, or fails its callback if the connection closed meanwhile (ws's messages). */
  private ifStillSendable(callback: SendCallback | undefined, run: () => void): void {
    const driver = this.driver!;
    if (driver.socket.destroyed) {
      if (callback) callback(new Error(BLOB_SOCKET_CLOSED));
    } else if (!driver.connection.canSend) {
      if (callback) callback(notOpenError(this._readyState));
    } else {
      run();
    }
  }

  /** Sends a message prepared once for many connections (`WebSocketServer.prepare`). Server side only. */
  sendPrepared(message: PreparedMessage, callback?: SendCallback): void {
    if (!this.checkCanSend(callback)) return;
    const frames = this.framesFor(message);
    if (this.blobsWaiting) this.afterBlobs(callback, () => this.driver!.sendPrepared(frames, callback));
    else this.driver!.sendPrepared(frames, callback);
  }

  /** The compressed copy of a prepared message when this connection can take it, else the plain frames. */
  private framesFor(message: PreparedMessage): readonly Buffer[] {
    const compressor = this.driver?.compressor;
    if (!(compressor instanceof PerMessageDeflate)) return message.frames;
    const params = compressor.params;
    const data = message.data;
    if (!params.serverNoContextTakeover || message.compress === false || !data || !message.compressed) {
      return message.frames;
    }
    if (data.length < compressor.threshold) return message.frames;
    const bits = params.serverMaxWindowBits;
    let frames = message.compressed.get(bits);
    if (!frames) {
      const shared = { ...params, serverNoContextTakeover: true };
      // RFC 7692 §7.2.3: the opcode stays text or binary; only the payload is compressed (RSV1).
      frames = prepareMessage(compressOnce(data, shared), {
        binary: message.binary ?? true,
        compressed: true,
      });
      message.compressed.set(bits, frames);
    }
    return frames;
  }

  /**
   * Sends a ping (payload at most 125 bytes; none by default). As in ws: `ping(callback)`,
   * `ping(data, callback)` and `ping(data, mask, callback)`; `mask` is ignored (see `send`).
   * Throws while CONNECTING; once closing or closed, the callback gets an error.
   */
  ping(data?: unknown, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.sendControl(true, data, mask, callback);
  }

  /** Sends an unsolicited pong; arguments as for `ping`. */
  pong(data?: unknown, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.sendControl(false, data, mask, callback);
  }

  private sendControl(
    ping: boolean,
    data: unknown,
    mask: boolean | SendCallback | undefined,
    callback: SendCallback | undefined,
  ): void {
    if (typeof data === 'function') {
      callback = data as SendCallback;
      data = undefined;
    } else if (typeof mask === 'function') {
      callback = mask;
    }
    if (typeof data === 'number') data = String(data);
    if (!this.checkCanSend(callback, data)) return;
    const driver = this.driver!;
    const write = (bytes: Uint8Array): void =>
      ping ? driver.ping(bytes, callback) : driver.pong(bytes, callback);
    const size = data instanceof Blob ? data.size : undefined;
    const payload = data instanceof Blob ? undefined : data ? toBytes(data) : EMPTY;
    // RFC 6455 §5.5: checked now, even when the frame waits behind a Blob.
    if ((size ?? payload!.byteLength) > 125) {
      throw argumentError('Control frame payload must be 125 bytes or less');
    }
    if (payload === undefined) this.sendBlob(data as Blob, callback, write);
    else if (this.blobsWaiting) this.afterBlobs(callback, () => write(payload));
    else write(payload);
  }

  /**
   * Starts the closing handshake. `code`: 1000 or 3000-4999 (omit to send no code);
   * `reason`: at most 123 UTF-8 bytes. Throws WS_ERR_INVALID_ARGUMENT otherwise. Closing a
   * client that is still connecting aborts its handshake: then, as in ws, `error` and `close`
   * (1006) follow on the next tick. A client whose handshake failed has nothing to close.
   */
  close(code?: number, reason?: string | Buffer): void {
    const text = reason === undefined ? undefined : reason.toString();
    // Any code valid on the wire is accepted, as in ws (RFC 6455 §7.4); the core throws for others.
    if (this._readyState === 3) return;
    if (this._readyState === 0) {
      this.abortHandshake();
      return;
    }
    if (this.closeFrameSent || !this.driver) return;
    if (this.blobsWaiting) {
      // Validate now (throws for a bad code or reason); the frame follows the queued sends.
      encodeClosePayload(code, text);
      this.blobs!.push(() => this.driver!.close(code, text));
    } else {
      this.driver.close(code, text);
    }
    this.closeFrameSent = true;
    this._readyState = 2;
  }

  /** Destroys the connection at once, without a closing handshake (the peer sees 1006). */
  terminate(): void {
    if (this._readyState === 3) return;
    if (this._readyState === 0) {
      this.abortHandshake();
      return;
    }
    if (!this.driver) return;
    this._readyState = 2;
    this.driver.terminate();
  }

  /** close() or terminate() while CONNECTING: stop the handshake; 'error' and one 'close' follow. */
  private abortHandshake(): void {
    this.handshake?.abort();
    this.handshake = undefined;
    this._readyState = 2;
    process.nextTick(() => {
      this.emitError(
        new WebSocketError(
          ErrorCode.HANDSHAKE,
          'WebSocket was closed before the connection was established',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      this.finish(CloseCode.ABNORMAL_CLOSURE, '');
    });
  }

  /**
   * Stops reading from the peer (TCP backpressure) and holds events until `resume()`.
   * Does nothing while CONNECTING or once CLOSED (as in ws).
   */
  pause(): void {
    if (this._readyState === 0 || this._readyState === 3 || !this.driver) return;
    this.userPaused = true;
    this.driver.pause();
  }

  /** Resumes reading and delivers held events in order. Does nothing while CONNECTING or once CLOSED. */
  resume(): void {
    if (this._readyState === 0 || this._readyState === 3 || !this.driver) return;
    this.userPaused = false;
    if (this.eventYield === undefined) this.driver.resume();
  }
}

/**
 * Types reachable through the class, as ws's typings name them (`WebSocket.Server`,
 * `WebSocket.RawData`, `WebSocket.ServerOptions`, ...), so type annotations written for ws
 * keep compiling. Types only: the values are the statics set in index.ts.
 */
export declare namespace WebSocket {
  type Server = import('./websocket-server.js').WebSocketServer;
  type WebSocketServer = import('./websocket-server.js').WebSocketServer;
  type ServerOptions = import('./websocket-server.js').ServerOptions;
  type ClientOptions = import('./node/client-handshake.js').ClientOptions;
  type RawData = import('./websocket.js').RawData;
  type Data = string | Buffer | ArrayBuffer | Buffer[];
}

// ws 8's property shapes, which code may inspect (for...in, Object.keys, descriptors): the
// ready-state constants are enumerable and read-only on the class and its prototype; the
// attributes are enumerable accessors of WebSocket.prototype (class getters are not enumerable).
// Only descriptors change: property access costs the same.
for (const [name, value] of [
  ['CONNECTING', 0],
  ['OPEN', 1],
  ['CLOSING', 2],
  ['CLOSED', 3],
] as const) {
  Object.defineProperty(WebSocket, name, { value, enumerable: true });
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
for (const name of [
  'binaryType',
  'bufferedAmount',
  'extensions',
  'isPaused',
  'protocol',
  'readyState',
  'url',
]) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
// The WHATWG handler attributes live on the base class: ws has them on WebSocket.prototype itself.
for (const name of ['onopen', 'onerror', 'onclose', 'onmessage']) {
  const inherited = Object.getOwnPropertyDescriptor(DualEventTarget.prototype, name)!;
  Object.defineProperty(WebSocket.prototype, name, { ...inherited, enumerable: true });
}

const EMPTY = new Uint8Array(0);
/** Driver options of a whole message without a compression override (see `send`). */
const SEND_BINARY = Object.freeze({ binary: true, fin: true });
const SEND_TEXT = Object.freeze({ binary: false, fin: true });
const BINARY_TYPES: readonly unknown[] = ['nodebuffer', 'arraybuffer', 'fragments', 'blob'];
/** What the callbacks of a Blob send, and of the sends queued behind it, get if the socket closed meanwhile. */
const BLOB_SOCKET_CLOSED = 'The socket was closed while the blob was being read';

function notOpenError(state: ReadyState): WebSocketError {
  return new WebSocketError(
    ErrorCode.INVALID_STATE,
    `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`,
    CloseCode.ABNORMAL_CLOSURE,
  );
}

/** Converts send/ping/pong data to bytes as ws does; throws WS_ERR_INVALID_ARGUMENT otherwise. */
function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  try {
    // What else ws accepts (Buffer.from): arrays of byte values, SharedArrayBuffers, ...
    return Buffer.from(data as Uint8Array);
  } catch {
    throw argumentError('Data must be a string, Buffer, TypedArray, ArrayBuffer, DataView or Blob');
  }
}

function toSendable(data: unknown): string | Uint8Array {
  if (typeof data === 'string') return data;
  return toBytes(data);
}

function byteLengthOf(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof Blob) return data.size;
  return toBytes(data).byteLength;
}

/** @internal */
export type ClientUpgradeResult = {
  protocol: string;
  extensions: string;
  response: IncomingMessage;
  compressor?: MessageCompressor;
};
