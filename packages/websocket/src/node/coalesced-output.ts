/**
 * Writing frames to a socket in few writes. Every `socket.write` costs Node an entry of its
 * own (an object, a callback slot and, when the socket is destroyed, an error) whatever its
 * size: a peer that makes us send many tiny frames (pongs, empty echoes) while it does not read
 * would otherwise make us hold hundreds of bytes of bookkeeping per byte counted.
 */
import type { Socket } from 'node:net';

export type WriteCallback = (error?: Error | null) => void;

/**
 * Output smaller than this is always copied into one buffer (one `write`); that size still
 * comes from Node's shared buffer pool. Larger output goes out as one corked `writev`, with
 * runs of small pieces merged: copying large pieces into a fresh buffer cost more than it saved
 * (1 KiB echo: 2.73 vs 2.47 µs of server CPU per message, bench/scripts/profile.ts).
 */
const COALESCE_BYTES = 4 * 1024 - 1;
/** Pieces smaller than this are merged with their small neighbours instead of written alone. */
const SMALL_PIECE_BYTES = 512;
/** Held output is copied into blocks of this size (pieces of at least SMALL_PIECE_BYTES are kept as they are). */
const BLOCK_BYTES = 16 * 1024;

/**
 * Writes several buffers in as few socket writes as is cheap: a few small ones copied into one
 * buffer, otherwise corked into one `writev` in which consecutive small pieces are merged.
 * `callback` runs once all of them are written (or with the socket's error).
 */
export function writeCoalesced(
  socket: Socket,
  out: readonly Buffer[],
  callback: WriteCallback | undefined,
): void {
  const n = out.length;
  if (n === 1) {
    socket.write(out[0]!, callback);
    return;
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += out[i]!.length;
  if (total <= COALESCE_BYTES) {
    socket.write(Buffer.concat(out as Buffer[], total), callback);
    return;
  }
  socket.cork();
  let runStart = 0;
  let runBytes = 0;
  for (let i = 0; i < n; i++) {
    const piece = out[i]!;
    if (piece.length < SMALL_PIECE_BYTES) {
      runBytes += piece.length;
      continue;
    }
    if (runStart < i) writeRun(socket, out, runStart, i, runBytes, undefined);
    socket.write(piece, i === n - 1 ? callback : undefined);
    runStart = i + 1;
    runBytes = 0;
  }
  if (runStart < n) writeRun(socket, out, runStart, n, runBytes, callback);
  socket.uncork();
}

function writeRun(
  socket: Socket,
  out: readonly Buffer[],
  start: number,
  end: number,
  bytes: number,
  callback: WriteCallback | undefined,
): void {
  if (end - start === 1) {
    socket.write(out[start]!, callback);
    return;
  }
  const merged = Buffer.allocUnsafe(bytes);
  let p = 0;
  for (let i = start; i < end; i++) {
    merged.set(out[i]!, p);
    p += out[i]!.length;
  }
  socket.write(merged, callback);
}

/**
 * Output held by the driver while the socket still holds an earlier write: small pieces are
 * copied into 16 KiB blocks, so what is held costs what it counts (no entry per frame), and it
 * leaves in a few writes once the socket has taken the earlier one.
 */
export class CoalescedOutput {
  /** Bytes held. */
  bytes = 0;
  private readonly pieces: Buffer[] = [];
  private block: Buffer | undefined;
  private blockFill = 0;
  private callbacks: WriteCallback[] | undefined;

  /** Whether nothing is held. */
  get empty(): boolean {
    return this.bytes === 0 && this.callbacks === undefined;
  }

  add(out: readonly Buffer[], callback: WriteCallback | undefined): void {
    for (const piece of out) {
      const length = piece.length;
      this.bytes += length;
      if (length >= SMALL_PIECE_BYTES) {
        this.closeBlock();
        this.pieces.push(piece);
        continue;
      }
      if (this.block === undefined || this.blockFill + length > this.block.length) {
        this.closeBlock();
        this.block = Buffer.allocUnsafe(BLOCK_BYTES);
      }
      this.block.set(piece, this.blockFill);
      this.blockFill += length;
    }
    if (callback) {
      if (this.callbacks === undefined) this.callbacks = [callback];
      else this.callbacks.push(callback);
    }
  }

  /** Takes everything held, leaving this empty: the buffers in order and one callback for all. */
  take(): { buffers: Buffer[]; callback: WriteCallback | undefined } {
    this.closeBlock();
    const buffers = this.pieces.splice(0);
    const callbacks = this.callbacks;
    this.callbacks = undefined;
    this.bytes = 0;
    return { buffers, callback: callbacks === undefined ? undefined : combine(callbacks) };
  }

  /** Drops everything held; each callback gets `error` (one error object for all). */
  discard(error: Error): void {
    const callbacks = this.callbacks;
    this.pieces.length = 0;
    this.block = undefined;
    this.blockFill = 0;
    this.callbacks = undefined;
    this.bytes = 0;
    if (callbacks !== undefined) process.nextTick(runAll, callbacks, error);
  }

  private closeBlock(): void {
    if (this.block !== undefined && this.blockFill !== 0) {
      this.pieces.push(this.block.subarray(0, this.blockFill));
    }
    this.block = undefined;
    this.blockFill = 0;
  }
}

/** One callback that runs all of `callbacks` (the one itself when there is only one). */
export function combine(callbacks: WriteCallback[]): WriteCallback {
  return callbacks.length === 1 ? callbacks[0]! : (error) => runAll(callbacks, error);
}

/** Runs every callback with the same argument. */
function runAll(callbacks: WriteCallback[], error?: Error | null): void {
  for (const callback of callbacks) callback(error);
}
