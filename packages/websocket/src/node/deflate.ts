/**
 * permessage-deflate payload transformation (RFC 7692 §7.2) over node:zlib, for one connection:
 * raw DEFLATE, the `00 00 ff ff` tail removed after compressing and put back before inflating,
 * context takeover kept or reset as negotiated, inflating bounded by the message size limit,
 * and a process-wide bound on concurrent zlib operations. Negotiation is in
 * `protocol/permessage-deflate.ts`.
 */
import zlib from 'node:zlib';
import { CloseCode } from '../protocol/close-codes.js';
import { argumentError, ErrorCode, stateError, WebSocketError } from '../protocol/errors.js';
import {
  type DeflateOptions,
  type DeflateParams,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from '../protocol/permessage-deflate.js';
import type { MessageCompressor } from './connection-driver.js';
import { Lane, limiterFor, type Op } from './zlib-limiter.js';

/** Which end of the connection this endpoint is: it picks which negotiated parameters apply. */
export type DeflateRole = 'server' | 'client';

/** RFC 7692 §7.2.1 / §7.2.2: the empty stored block's LEN/NLEN, removed and appended again. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * RFC 7692 §7.2.3.6: a single 0x00 (a stored block header whose tail was removed) is the
 * compressed form of an empty message on a byte-aligned stream.
 */
const EMPTY_BLOCK = 0x00;
/**
 * Input a peer may leave after a final (BFINAL) block: RFC 7692 §7.2.3.4 shows one 0x00 byte
 * after it, and we append the 4-byte tail ourselves. Anything longer is data after the end.
 */
const MAX_BYTES_AFTER_FINAL_BLOCK = 1 + TAIL.length;

/**
 * zlib window size for a negotiated one. zlib refuses a raw deflate window of 2^8 (since 1.2.9),
 * so 8 becomes 9. That keeps the agreement: zlib never emits a distance larger than its window
 * minus 262 bytes of lookahead (deflate.h `MAX_DIST`), 250 bytes with 2^9, which fits the 256-byte
 * window the peer inflates with. Inflating uses at least 2^9 too, which accepts a peer that
 * compressed with zlib the same way (a larger inflate window reads anything a smaller one does).
 */
function zlibWindowBits(negotiated: number): number {
  return Math.max(9, negotiated);
}

/**
 * permessage-deflate for one connection (RFC 7692 §7.2): compresses outgoing and inflates
 * incoming message payloads with the negotiated parameters. Implements the driver's
 * `MessageCompressor`.
 *
 * - Compression and decompression each run one operation at a time and call back in call order;
 *   the two directions are independent. Every operation in the thread pool also takes a slot of
 *   a process-wide limiter shared by all instances with the same `concurrencyLimit` (default 10).
 * - A payload smaller than `syncBelowBytes` (default 8 KiB) is handled on the calling thread when
 *   nothing is queued in its direction, and calls back before the call returns; so does inflating
 *   one that makes at most 64 KiB (up to 80 KiB; more goes on in the thread pool). Failures are always
 *   reported asynchronously.
 * - With context takeover off for a direction (`server_no_context_takeover` for the server's
 *   messages, `client_no_context_takeover` for the client's), that direction's zlib context is
 *   reset after each message (RFC 7692 §7.1.1).
 * - zlib contexts are created on first use and released by `close()`.
 */
export class PerMessageDeflate implements MessageCompressor {
  /** The negotiated parameters. */
  readonly params: DeflateParams;
  readonly role: DeflateRole;
  /** Messages smaller than this many bytes should be sent uncompressed. */
  readonly threshold: number;
  private readonly options: ResolvedDeflateOptions;
  private readonly deflateWindowBits: number;
  private readonly inflateWindowBits: number;
  private readonly resetDeflateAfterMessage: boolean;
  private readonly resetInflateAfterMessage: boolean;
  private readonly compressLane: Lane;
  private readonly decompressLane: Lane;
  private deflater: zlib.DeflateRaw | undefined;
  private inflater: zlib.InflateRaw | undefined;
  /** Bytes fed to the current inflater, to notice input it left unread (a final block). */
  private inflaterFed = 0;
  /** Inflated bytes of the message being decompressed so far (across fragments). */
  private messageBytes = 0;
  /** Set once inflating failed: the context is lost, so every later call fails the same way. */
  private inflateError: WebSocketError | undefined;
  private deflateError: WebSocketError | undefined;
  private closed = false;

  /**
   * @param params The negotiated parameters (`acceptDeflateOffer(...).params` on a server,
   *   `validateDeflateResponse(...)` on a client).
   * @param role Which end this is: a server compresses with the server parameters and inflates
   *   with the client ones, a client the other way round.
   * @param options The same options given to the negotiation (zlib tuning, threshold,
   *   concurrencyLimit are used here).
   * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` for invalid options, params or role.
   */
  constructor(
    params: DeflateParams,
    role: DeflateRole,
    options: true | DeflateOptions | ResolvedDeflateOptions = true,
  ) {
    if (role !== 'server' && role !== 'client') {
      throw argumentError(`role must be 'server' or 'client', got ${String(role)}`);
    }
    checkParams(params);
    this.params = Object.freeze({ ...params });
    this.role = role;
    this.options = isResolved(options) ? options : resolveDeflateOptions(options);
    this.threshold = this.options.threshold;
    const server = role === 'server';
    this.deflateWindowBits = zlibWindowBits(server ? params.serverMaxWindowBits : params.clientMaxWindowBits);
    this.inflateWindowBits = zlibWindowBits(server ? params.clientMaxWindowBits : params.serverMaxWindowBits);
    this.resetDeflateAfterMessage = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.resetInflateAfterMessage = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    const limiter = limiterFor(this.options.concurrencyLimit);
    this.compressLane = new Lane(limiter);
    this.decompressLane = new Lane(limiter);
  }

  /**
   * Compresses one message, or one fragment of it (RFC 7692 §7.2.1). `out` is the payload to
   * send with RSV1 set on the message's first frame. With `fin`, the trailing `00 00 ff ff` is
   * removed and, without context takeover, the context is reset; an empty message compresses
   * to the single byte `00`. Callbacks run in call order; for a payload under `syncBelowBytes`
   * with nothing queued, before this returns, otherwise asynchronously.
   */
  compress(data: Uint8Array, fin: boolean, callback: (error: Error | null, out?: Buffer) => void): void {
    if (this.closed) {
      this.failSoon(callback);
      return;
    }
    if (data.length < this.options.syncBelowBytes && this.compressLane.settled && !this.deflateError) {
      const out = this.compressSync(data, fin);
      if (out) {
        callback(null, out);
        return;
      }
      // Failed (deflateError is set), or zlib's synchronous entry point is missing: the
      // asynchronous path reports the failure, or does the work.
    }
    const op: Op = {
      settled: false,
      fail: (error) => settle(error),
      run: (done) => {
        if (this.deflateError) return this.later(() => settle(this.deflateError!, undefined, done));
        const deflater = this.getDeflater();
        const chunks: Buffer[] = [];
        let length = 0;
        const onData = (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
        };
        const onError = (error: Error) => {
          deflater.off('data', onData);
          this.deflateFailed(deflater, error);
          settle(this.deflateError!, undefined, done);
        };
        deflater.on('data', onData);
        deflater.once('error', onError);
        // The stream flushes every write (Z_SYNC_FLUSH): one trip to the thread pool.
        deflater.write(data, () => {
          deflater.off('data', onData);
          deflater.off('error', onError);
          if (op.settled) return done();
          const out = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
          settle(null, fin ? this.endDeflatedMessage(deflater, out) : out, done);
        });
      },
    };
    const settle = (error: WebSocketError | null, out?: Buffer, done?: () => void) => {
      if (op.settled) return done?.();
      op.settled = true;
      // Call back before the next operation starts, so callbacks keep call order even when
      // the next one settles at once.
      try {
        callback(error, out);
      } finally {
        done?.();
      }
    };
    this.compressLane.push(op);
  }

  /**
   * Compresses on this thread (small payloads, nothing queued in this direction). Returns
   * undefined when zlib failed (`deflateError` is set) or cannot run synchronously here.
   */
  private compressSync(data: Uint8Array, fin: boolean): Buffer | undefined {
    const deflater = this.getDeflater();
    const handle = syncHandleOf(deflater);
    if (!handle) return undefined;
    const r = zlibSync(
      deflater,
      handle,
      data,
      zlib.constants.Z_SYNC_FLUSH,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    );
    if (r.error) {
      this.deflateFailed(deflater, r.error);
      return undefined;
    }
    const out = r.chunks.length === 1 ? (r.chunks[0] as Buffer) : Buffer.concat(r.chunks, r.produced);
    return fin ? this.endDeflatedMessage(deflater, out) : out;
  }

  /** The end of a compressed message: tail removed, context reset without context takeover. */
  private endDeflatedMessage(deflater: zlib.DeflateRaw, out: Buffer): Buffer {
    // RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff that end the sync flush.
    let result = endsWithTail(out) ? out.subarray(0, out.length - TAIL.length) : out;
    if (result.length === 0) result = Buffer.from([EMPTY_BLOCK]);
    // RFC 7692 §7.1.1.1 / §7.1.1.2: without context takeover, start each message afresh.
    if (this.resetDeflateAfterMessage) {
      deflater.reset();
      this.armIdleRelease();
    }
    return result;
  }

  private deflateFailed(deflater: zlib.DeflateRaw, error: Error): void {
    deflater.close();
    if (this.deflater === deflater) this.deflater = undefined;
    this.deflateError = new WebSocketError(
      ErrorCode.INVALID_STATE,
      `Compression failed: ${error.message}`,
      CloseCode.INTERNAL_ERROR,
    );
  }

  /** Runs `fn` on the next tick: failures are never reported before the call returns. */
  private later(fn: () => void): void {
    process.nextTick(fn);
  }

  /**
   * Inflates one message, or one fragment of it (RFC 7692 §7.2.2); with `fin`, `00 00 ff ff` is
   * appended first. `out` holds the bytes inflated from this call's `data`.
   *
   * Fails with `WS_ERR_UNSUPPORTED_MESSAGE_LENGTH` (close 1009) as soon as the message's inflated size,
   * counted across its fragments, exceeds `maxBytes`: inflating stops within one zlib output
   * chunk (`zlibInflateOptions.chunkSize`, 16 KiB by default) of the limit, so a small bomb never
   * expands further. Fails with `WS_ERR_INVALID_COMPRESSED_DATA` (close 1007, the payload is
   * not what the frame says it is, RFC 6455 §7.4.1) on data zlib cannot inflate or data after
   * a final block. After a failure the context is gone, so later calls fail with the same error.
   * Callbacks run in call order; for a payload under `syncBelowBytes` with nothing queued that
   * inflates to at most 64 KiB (up to 80 KiB), before this returns; otherwise, and for every failure,
   * asynchronously.
   */
  decompress(
    data: Uint8Array,
    fin: boolean,
    maxBytes: number,
    callback: (error: WebSocketError | null, out?: Buffer) => void,
  ): void {
    if (this.closed) {
      this.failSoon(callback);
      return;
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw argumentError(`maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
    }
    if (data.length < this.options.syncBelowBytes && this.decompressLane.settled && !this.inflateError) {
      const r = this.decompressSync(data, fin, maxBytes);
      if (r) {
        if (r.out) {
          callback(null, r.out);
          return;
        }
        if (r.rest) {
          // More output than the synchronous path makes: the rest inflates in the thread pool.
          this.queueInflate(r.rest, false, fin, maxBytes, callback, r.chunks, r.produced);
          return;
        }
        // Failed: inflateError is set, and the queued operation reports it asynchronously.
      }
    }
    this.queueInflate(data, fin, fin, maxBytes, callback, [], 0);
  }

  /**
   * Inflates on this thread (small payloads, nothing queued in this direction). Returns `out`
   * when done, `rest` (the input zlib has not read yet, tail included) with the output so far
   * when the message inflates to more than {@link SYNC_INFLATE_MAX_OUTPUT}, or undefined when it
   * failed (`inflateError` is set) or zlib cannot run synchronously here.
   */
  private decompressSync(
    data: Uint8Array,
    fin: boolean,
    maxBytes: number,
  ): { out?: Buffer; rest?: Buffer; chunks: Buffer[]; produced: number } | undefined {
    const inflater = this.getInflater();
    const handle = syncHandleOf(inflater);
    if (!handle) return undefined;
    const input = fin ? withTail(data) : data;
    // One byte past the limit tells that the message is too big; zlib makes no more than that.
    const budget = maxBytes - this.messageBytes + 1;
    const r = zlibSync(inflater, handle, input, zlib.constants.Z_SYNC_FLUSH, budget, SYNC_INFLATE_MAX_OUTPUT);
    if (r.error) {
      this.inflateFailed(inflater, invalidData(r.error.message));
      return undefined;
    }
    // Kept as the asynchronous path counts, so both can run on one context.
    (inflater as { bytesWritten: number }).bytesWritten += r.consumed;
    this.inflaterFed += r.consumed;
    this.messageBytes += r.produced;
    if (this.messageBytes > maxBytes) {
      this.inflateFailed(inflater, tooBig(maxBytes));
      return undefined;
    }
    if (r.outputFull) {
      return {
        rest: Buffer.from(input.buffer, input.byteOffset + r.consumed, input.length - r.consumed),
        chunks: r.chunks,
        produced: r.produced,
      };
    }
    if (fin) {
      const unread = input.length - r.consumed;
      if (unread > MAX_BYTES_AFTER_FINAL_BLOCK) {
        this.inflateFailed(inflater, invalidData('data after the final DEFLATE block'));
        return undefined;
      }
      this.endInflatedMessage(inflater, unread);
    }
    const out = r.chunks.length === 1 ? (r.chunks[0] as Buffer) : Buffer.concat(r.chunks, r.produced);
    return { out, chunks: r.chunks, produced: r.produced };
  }

  /**
   * Queues an inflate in the thread pool: `data` then, with `appendTail`, the RFC 7692 tail.
   * `chunks` and `produced` are output already made for this call (by the synchronous path).
   */
  private queueInflate(
    data: Uint8Array,
    appendTail: boolean,
    fin: boolean,
    maxBytes: number,
    callback: (error: WebSocketError | null, out?: Buffer) => void,
    chunks: Buffer[],
    produced: number,
  ): void {
    let length = produced;
    const op: Op = {
      settled: false,
      fail: (error) => settle(error),
      run: (done) => {
        if (this.inflateError) return this.later(() => settle(this.inflateError!, undefined, done));
        const inflater = this.getInflater();
        const fail = (error: WebSocketError) => {
          inflater.off('data', onData);
          this.inflateFailed(inflater, error);
          settle(error, undefined, done);
        };
        const onData = (chunk: Buffer) => {
          this.messageBytes += chunk.length;
          if (this.messageBytes > maxBytes) {
            fail(tooBig(maxBytes));
            return;
          }
          chunks.push(chunk);
          length += chunk.length;
        };
        const onError = (error: Error) => {
          if (op.settled) return;
          fail(invalidData(error.message));
        };
        inflater.on('data', onData);
        inflater.on('error', onError);
        // RFC 7692 §7.2.2: append 00 00 ff ff to the payload, then inflate. One write, which the
        // stream flushes (Z_SYNC_FLUSH): one trip to the thread pool.
        const input = appendTail ? withTail(data) : data;
        this.inflaterFed += input.length;
        inflater.write(input, () => {
          inflater.off('data', onData);
          inflater.off('error', onError);
          if (op.settled) return done();
          if (fin) {
            const unread = this.inflaterFed - inflater.bytesWritten;
            if (unread > MAX_BYTES_AFTER_FINAL_BLOCK) {
              fail(invalidData('data after the final DEFLATE block'));
              return;
            }
            this.endInflatedMessage(inflater, unread);
          }
          settle(null, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length), done);
        });
      },
    };
    const settle = (error: WebSocketError | null, out?: Buffer, done?: () => void) => {
      if (op.settled) return done?.();
      op.settled = true;
      // Call back before the next operation starts, so callbacks keep call order even when
      // the next one settles at once.
      try {
        callback(error, out);
      } finally {
        done?.();
      }
    };
    this.decompressLane.push(op);
  }

  /** The end of an inflated message; `unread` input bytes were left after it by zlib. */
  private endInflatedMessage(inflater: zlib.InflateRaw, unread: number): void {
    // RFC 7692 §7.2.3.4: a peer may end a message with a final block; zlib then stops
    // reading. The next message starts a new stream, so the context is dropped.
    if (unread > 0) {
      this.dropInflater();
    } else if (this.resetInflateAfterMessage) {
      // Not needed to decode (a message compressed afresh inflates in any window), but
      // what the window holds will never be referred to again.
      inflater.reset();
      this.armIdleRelease();
    }
    this.messageBytes = 0;
  }

  /** The context is lost either way; destroying stops zlib after the chunk in progress. */
  private inflateFailed(inflater: zlib.InflateRaw, error: WebSocketError): void {
    inflater.destroy();
    if (this.inflater === inflater) {
      this.inflater = undefined;
      this.inflaterFed = 0;
    }
    this.inflateError = error;
  }

  /**
   * Releases both zlib contexts. Operations not finished yet call back with
   * `WS_ERR_INVALID_STATE`, in order; later calls do too. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = closedError();
    this.compressLane.failAll(error);
    this.decompressLane.failAll(error);
    clearTimeout(this.idleTimer);
    this.deflater?.close();
    this.deflater = undefined;
    this.dropInflater();
  }

  private idleTimer: NodeJS.Timeout | undefined;

  /** Schedules the release of stateless contexts once the connection has been idle a while. */
  private armIdleRelease(): void {
    const ms = this.options.idleContextReleaseMs;
    if (ms === 0 || this.closed) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.releaseIdleContexts(), ms);
      this.idleTimer.unref();
    }
  }

  private releaseIdleContexts(): void {
    this.idleTimer = undefined;
    if (this.closed) return;
    if (this.resetDeflateAfterMessage && this.deflater && this.compressLane.idle) {
      this.deflater.close();
      this.deflater = undefined;
    }
    if (this.resetInflateAfterMessage && this.inflater && this.decompressLane.idle) this.dropInflater();
    // Busy right now: try again later.
    if (
      (this.resetDeflateAfterMessage && this.deflater) ||
      (this.resetInflateAfterMessage && this.inflater)
    ) {
      this.armIdleRelease();
    }
  }

  /** Whether a zlib context is held (for tests and memory accounting). */
  get holdsContexts(): { deflate: boolean; inflate: boolean } {
    return { deflate: this.deflater !== undefined, inflate: this.inflater !== undefined };
  }

  private failSoon(callback: (error: WebSocketError | null, out?: Buffer) => void): void {
    process.nextTick(callback, closedError());
  }

  private getDeflater(): zlib.DeflateRaw {
    if (!this.deflater) {
      const o = this.options;
      this.deflater = zlib.createDeflateRaw({
        // Every write ends with a sync flush (RFC 7692 §7.2.1), and its callback comes after
        // all its output.
        flush: zlib.constants.Z_SYNC_FLUSH,
        windowBits: this.deflateWindowBits,
        level: o.level,
        memLevel: o.memLevel,
        ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
        ...(o.deflateChunkSize !== undefined ? { chunkSize: o.deflateChunkSize } : {}),
      });
      // Errors are handled per operation; this keeps a late one from crashing the process.
      this.deflater.on('error', ignore);
    }
    return this.deflater;
  }

  private getInflater(): zlib.InflateRaw {
    if (!this.inflater) {
      const chunkSize = this.options.inflateChunkSize;
      this.inflater = zlib.createInflateRaw({
        flush: zlib.constants.Z_SYNC_FLUSH,
        windowBits: this.inflateWindowBits,
        ...(chunkSize !== undefined ? { chunkSize } : {}),
      });
      this.inflater.on('error', ignore);
      this.inflaterFed = 0;
    }
    return this.inflater;
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = undefined;
    this.inflaterFed = 0;
  }
}

function ignore(): void {}

/** RFC 7692 §7.2.2: the payload with 00 00 ff ff appended, as it is inflated. */
function withTail(data: Uint8Array): Buffer {
  const joined = Buffer.allocUnsafe(data.length + TAIL.length);
  joined.set(data, 0);
  joined.set(TAIL, data.length);
  return joined;
}

function tooBig(maxBytes: number): WebSocketError {
  return new WebSocketError(
    ErrorCode.MESSAGE_TOO_BIG,
    `Inflated message exceeds maxMessageBytes (${maxBytes} bytes)`,
    CloseCode.MESSAGE_TOO_BIG,
  );
}

// ---- synchronous zlib ---------------------------------------------------------------------------

/**
 * Output after which the synchronous path stops inflating (at most one scratch buffer, 16 KiB,
 * more); the rest of a message goes on in the thread pool, so a small bomb cannot hold the event
 * loop for long.
 */
const SYNC_INFLATE_MAX_OUTPUT = 64 * 1024;

/**
 * The synchronous entry point of a node:zlib stream's native handle. Node's public sync API
 * (`deflateRawSync`, `_processChunk` without a callback) closes the stream after one call, losing
 * the context; the handle's `writeSync` is what it calls and keeps the context. Present in Node
 * 20, 22 and 24 (lib/zlib.js `processChunkSync`; CI runs test/node/deflate-sync-path.test.ts on
 * each, scripts/test-node-versions.mjs); where it is missing, zlib runs asynchronously.
 */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
}

interface SyncHandle {
  handle: ZlibHandle;
  /** `[availOut, availIn]` after each write. */
  state: Uint32Array;
}

function syncHandleOf(stream: zlib.DeflateRaw | zlib.InflateRaw): SyncHandle | undefined {
  const internals = stream as unknown as { _handle?: Partial<ZlibHandle> | null; _writeState?: unknown };
  const handle = internals._handle;
  const state = internals._writeState;
  if (!handle || typeof handle.writeSync !== 'function') return undefined;
  if (!(state instanceof Uint32Array) || state.length < 2) return undefined;
  return { handle: handle as ZlibHandle, state };
}

/** Output of synchronous zlib work; shared, since a synchronous call never overlaps another. */
let scratch: Buffer | undefined;
const SCRATCH_BYTES = 16 * 1024;

interface SyncResult {
  error?: Error;
  chunks: Buffer[];
  produced: number;
  /** Input bytes zlib read. */
  consumed: number;
  /** Stopped at `maxOutput` with zlib's output buffer full: there may be more. */
  outputFull: boolean;
}

/**
 * Runs zlib over `input` with `flush` on this thread, until it has read all it will read and
 * has room left, or has made `maxOutput` bytes (never more), or has made more than `pauseAfter`
 * bytes and may have more to give.
 */
function zlibSync(
  stream: zlib.DeflateRaw | zlib.InflateRaw,
  { handle, state }: SyncHandle,
  input: Uint8Array,
  flush: number,
  maxOutput: number,
  pauseAfter: number,
): SyncResult {
  const chunks: Buffer[] = [];
  let produced = 0;
  let consumed = 0;
  for (;;) {
    scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
    const room = Math.min(scratch.length, maxOutput - produced);
    handle.writeSync(flush, input, consumed, input.length - consumed, scratch, 0, room);
    // zlib's error callback destroys the stream before writeSync returns.
    if (stream.destroyed) {
      return {
        error: stream.errored ?? new Error('zlib failed'),
        chunks,
        produced,
        consumed,
        outputFull: false,
      };
    }
    const availOut = state[0] as number;
    consumed = input.length - (state[1] as number);
    const have = room - availOut;
    if (have > 0) {
      const chunk = Buffer.allocUnsafe(have);
      scratch.copy(chunk, 0, 0, have);
      chunks.push(chunk);
      produced += have;
    }
    // Room left: zlib has nothing more to give for this input.
    if (availOut !== 0) return { chunks, produced, consumed, outputFull: false };
    if (produced >= maxOutput || produced > pauseAfter)
      return { chunks, produced, consumed, outputFull: true };
  }
}

function endsWithTail(b: Buffer): boolean {
  const n = b.length;
  return n >= 4 && b[n - 4] === 0x00 && b[n - 3] === 0x00 && b[n - 2] === 0xff && b[n - 1] === 0xff;
}

function invalidData(detail: string): WebSocketError {
  return new WebSocketError(
    ErrorCode.INVALID_COMPRESSED_DATA,
    `Invalid compressed data: ${detail}`,
    CloseCode.INVALID_PAYLOAD,
  );
}

function closedError(): WebSocketError {
  return stateError('The permessage-deflate context is closed');
}

function isResolved(options: unknown): options is ResolvedDeflateOptions {
  return (
    typeof options === 'object' &&
    options !== null &&
    'deflateChunkSize' in options &&
    typeof (options as ResolvedDeflateOptions).concurrencyLimit === 'number'
  );
}

function checkParams(params: DeflateParams): void {
  const bits = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 8 && v <= 15;
  if (
    typeof params !== 'object' ||
    params === null ||
    typeof params.serverNoContextTakeover !== 'boolean' ||
    typeof params.clientNoContextTakeover !== 'boolean' ||
    !bits(params.serverMaxWindowBits) ||
    !bits(params.clientMaxWindowBits)
  ) {
    throw argumentError('params must be DeflateParams from acceptDeflateOffer or validateDeflateResponse');
  }
}

// ---- compress once, send to many ---------------------------------------------------------------

/** zlib tuning for {@link compressOnce}. */
export interface CompressOnceOptions {
  /** Whose parameters the message is sent under. Default 'server' (broadcast). */
  role?: DeflateRole;
  /** zlib level, -1 or 0..9. Default -1 (6). */
  level?: number;
  /** zlib memLevel, 1..9. Default 8. */
  memLevel?: number;
  /** zlib strategy, 0..4. Default zlib's. */
  strategy?: number;
}

/**
 * Compresses a message once, with a fresh context, for sending to many connections
 * (RFC 7692 §7.2.1; the tail is removed). Frame it once with
 * `prepareMessage(out, { binary, compressed: true })` and send the frames to every connection
 * for which {@link canShareCompressed} holds.
 *
 * This is only correct where the sender keeps no context between messages
 * (`server_no_context_takeover` for a server): with context takeover, the connection's own
 * compressor and the peer's inflater would disagree about the window after the shared message.
 * Runs synchronously (zlib's one-shot API): for one message sent to many peers this costs less
 * than one asynchronous compression per peer; keep very large broadcasts off the event loop.
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when `params` keep context for the role,
 *   or for invalid tuning.
 */
export function compressOnce(
  data: Uint8Array,
  params: DeflateParams,
  options: CompressOnceOptions = {},
): Buffer {
  checkParams(params);
  const role = options.role ?? 'server';
  const noTakeover = role === 'server' ? params.serverNoContextTakeover : params.clientNoContextTakeover;
  if (!noTakeover) {
    throw argumentError(
      `compressOnce needs ${role}_no_context_takeover: with context takeover each connection must compress its own messages`,
    );
  }
  const tuning = resolveDeflateOptions({
    ...(options.level !== undefined ? { level: options.level } : {}),
    ...(options.memLevel !== undefined ? { memLevel: options.memLevel } : {}),
    ...(options.strategy !== undefined ? { zlibDeflateOptions: { strategy: options.strategy } } : {}),
  });
  const out = zlib.deflateRawSync(data, {
    windowBits: zlibWindowBits(role === 'server' ? params.serverMaxWindowBits : params.clientMaxWindowBits),
    level: tuning.level,
    memLevel: tuning.memLevel,
    ...(tuning.strategy !== undefined ? { strategy: tuning.strategy } : {}),
    // RFC 7692 §7.2.1: end with a sync flush (an empty stored block), never a final block.
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const stripped = endsWithTail(out) ? out.subarray(0, out.length - TAIL.length) : out;
  return stripped.length === 0 ? Buffer.from([EMPTY_BLOCK]) : stripped;
}

/**
 * Whether a message made by {@link compressOnce} with `compressedWith` may be sent on a
 * connection that negotiated `connection`: that connection's sender must keep no context
 * (so its own compressor does not rely on the peer's window), and the peer must accept a window
 * at least as large as the one used.
 */
export function canShareCompressed(
  connection: DeflateParams,
  compressedWith: DeflateParams,
  role: DeflateRole = 'server',
): boolean {
  if (role === 'server') {
    return (
      connection.serverNoContextTakeover &&
      connection.serverMaxWindowBits >= compressedWith.serverMaxWindowBits
    );
  }
  return (
    connection.clientNoContextTakeover && connection.clientMaxWindowBits >= compressedWith.clientMaxWindowBits
  );
}
