import { argumentError } from './errors.js';

/**
 * Every limit the protocol core enforces. Each has a unit, a safe default and a consequence.
 * Pass a partial object anywhere `limits` is accepted; missing fields take the defaults.
 */
export interface Limits {
  /**
   * Largest message, in bytes, after reassembly (and after decompression with
   * permessage-deflate). Default 16 MiB. Exceeded: close 1009, checked before buffering.
   */
  maxMessageBytes: number;
  /**
   * Largest single frame payload, in bytes, as declared in the frame header. Default 16 MiB.
   * Exceeded: close 1009, checked from the header before any payload is buffered.
   */
  maxFrameBytes: number;
  /**
   * Most frames (the first plus continuations, empty ones included) in one message.
   * Default 65,536. Exceeded: close 1009. Stops floods of tiny or empty fragments.
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
}

/** The defaults: safe for a public server. Raise them deliberately. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 16 * 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  maxFragments: 65_536,
  maxBufferedChunks: 32_768,
  maxHandshakeBytes: 16 * 1024,
  maxHeaderCount: 100,
});

/** Limits objects returned by `resolveLimits` (already checked). */
const alreadyResolved = new WeakSet<object>();

/**
 * Fills in defaults and validates. Throws WS_ERR_INVALID_ARGUMENT for a limit that is not a
 * positive safe integer, or a field that is not a known limit (a misspelt limit would
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
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw argumentError(`Limit "${key}" must be a positive integer, got ${String(value)}.`);
    }
    out[key as keyof Limits] = value;
  }
  alreadyResolved.add(out);
  return out;
}
