import { argumentError } from './errors.js';

/**
 * Every limit the protocol core and its Node driver enforce. Each has a unit, a safe default
 * and a consequence. Pass a partial object anywhere `limits` is accepted; missing fields take
 * the defaults.
 */
export interface Limits {
  /**
   * Largest message, in bytes, after reassembly (and after decompression with
   * permessage-deflate). Default 16 MiB. Exceeded: close 1009, checked before buffering.
   */
  maxMessageBytes: number;
  /**
   * Largest single frame payload, in bytes, as declared in the frame header. Default: the
   * resolved `maxMessageBytes` (16 MiB by default), so raising `maxMessageBytes` (or ws's
   * `maxPayload`) raises it too; set it explicitly to cap frames below the message limit.
   * Exceeded: close 1009, checked from the header before any payload is buffered.
   * A frame of a compressed message may exceed it (and `maxMessageBytes`) by the worst-case
   * deflate overhead (see `compressedBound`): its inflated size is what is limited.
   */
  maxFrameBytes: number;
  /**
   * Most frames (the first plus continuations, empty ones included) in one message.
   * Default 131,072 (ws's default), so a 4 MiB message in 64-byte fragments plus an empty
   * final frame (65,537 frames, as the Autobahn Testsuite sends in cases 9.3.1 and 9.4.1)
   * passes. Exceeded: close 1008. Stops floods of tiny or empty fragments; bytes are bounded
   * by `maxMessageBytes` anyway.
   */
  maxFragments: number;
  /**
   * Most separate buffers held for one incomplete message before they are merged into one.
   * Pieces under 1 KiB (or under half of their input chunk) are always copied into 16 KiB
   * blocks, so a peer that trickles bytes cannot make us hold a socket chunk per byte.
   * Default 32,768, which the default maxMessageBytes cannot reach. Exceeded: the held
   * buffers are merged (one copy); the connection stays open.
   */
  maxBufferedChunks: number;
  /**
   * Largest opening-handshake request or response head (request line, headers, CRLFs),
   * in bytes. Default 16 KiB. Exceeded: HTTP 431 (server) or a handshake error (client).
   */
  maxHandshakeBytes: number;
  /** Most header lines in the opening handshake. Default 100. Exceeded: HTTP 431. */
  maxHeaderCount: number;
  /**
   * Milliseconds a message may take to arrive, from the moment part of it is held until its
   * last byte (measured by the driver; restarted for each message). Default 60,000; 0 turns it
   * off. Exceeded: close 1008 (`WS_ERR_MESSAGE_TIMEOUT`), so a peer cannot hold up to
   * `maxMessageBytes` of an unfinished message forever. Not counted while the application has
   * paused the connection.
   */
  messageAssemblyTimeoutMs: number;
  /**
   * Bytes waiting to be sent or compressed (`bufferedAmount`) above which the driver stops
   * reading from the peer and holds its parsed messages until the output drains below it
   * again (TCP backpressure reaches the peer). Default 1 MiB; never below the socket's
   * high-water mark (16 KiB). Nothing fails: a peer that sends but does not read just stops
   * being read; `maxBufferedBytes` still applies to what the application sends on its own.
   */
  readPauseBytes: number;
}

/** The defaults: safe for a public server. Raise them deliberately. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 16 * 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  maxFragments: 131_072,
  maxBufferedChunks: 32_768,
  maxHandshakeBytes: 16 * 1024,
  maxHeaderCount: 100,
  messageAssemblyTimeoutMs: 60_000,
  readPauseBytes: 1024 * 1024,
});

/** Limits for which 0 means "off" (timeouts); every other limit must be positive. */
const ZERO_MEANS_OFF: ReadonlySet<string> = new Set(['messageAssemblyTimeoutMs']);

/** Limits objects returned by `resolveLimits` (already checked). */
const alreadyResolved = new WeakSet<object>();

/**
 * Fills in defaults and validates. `maxFrameBytes`, when not given, follows `maxMessageBytes`.
 * Throws WS_ERR_INVALID_ARGUMENT for a limit that is not a positive safe integer (0 is accepted
 * where it turns the limit off), or a field that is not a known limit (a misspelt limit would
 * otherwise be silently ignored).
 */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  // Limits resolved once (per server) are passed to every connection: no need to check again.
  if (alreadyResolved.has(partial)) return partial as Limits;
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) {
      throw argumentError(`Unknown limit "${key}". Known limits: ${Object.keys(DEFAULT_LIMITS).join(', ')}.`);
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw argumentError(`Limit "${key}" must be a positive integer, got ${String(value)}.`);
    }
    if (value === 0 && !ZERO_MEANS_OFF.has(key)) {
      throw argumentError(`Limit "${key}" must be a positive integer, got 0.`);
    }
    out[key as keyof Limits] = value;
  }
  // A frame can never carry more than its message: the frame limit follows the message limit
  // unless it was set, so `maxPayload: 64 MiB` accepts a 64 MiB single-frame message.
  if (partial.maxFrameBytes === undefined) out.maxFrameBytes = out.maxMessageBytes;
  alreadyResolved.add(out);
  return out;
}

/**
 * Most compressed bytes that may carry `inflatedBytes` of content: zlib's worst case for any
 * settings (its `deflateBound`: fixed-Huffman blocks with 9-bit literals, about 13.3% over
 * the input) plus 16 bytes for block headers and the flush. Compressed frames and messages are
 * checked against this bound of the frame and message limits, so a message of exactly
 * `maxMessageBytes` that does not compress still fits; the inflated size is checked exactly
 * while inflating.
 */
export function compressedBound(inflatedBytes: number): number {
  const n = inflatedBytes;
  const bound = n + Math.floor(n / 8) + Math.floor(n / 256) + Math.floor(n / 512) + 16;
  return Math.min(bound, Number.MAX_SAFE_INTEGER);
}
