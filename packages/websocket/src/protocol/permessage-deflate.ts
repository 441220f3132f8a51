/**
 * permessage-deflate (RFC 7692) negotiation: options, the client's offer, the server's choice
 * among offers, and the client's check of the server's answer. Pure: no zlib, no I/O. The zlib
 * side lives in `node/deflate.ts` and takes the {@link DeflateParams} produced here.
 */
import { argumentError } from './errors.js';
import { type ExtensionOffer, formatExtensionHeader } from './extension-header.js';
import { HandshakeError } from './handshake-error.js';

/** The registered extension name (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Tuning passed to zlib for compression (ws's `zlibDeflateOptions` shape, minus what is negotiated). */
export interface ZlibDeflateTuning {
  /** Compression level, -1 (zlib default, 6) or 0..9. */
  level?: number;
  /** Memory for the internal compression state, 1..9 (zlib default 8): 2^(memLevel+9) bytes. */
  memLevel?: number;
  /** zlib strategy constant, 0..4 (zlib default 0, `Z_DEFAULT_STRATEGY`). */
  strategy?: number;
  /** Size of zlib's output chunks, in bytes, at least 64 (Node default 16 KiB). */
  chunkSize?: number;
}

/** Tuning passed to zlib for decompression (ws's `zlibInflateOptions` shape). */
export interface ZlibInflateTuning {
  /**
   * Size of zlib's output chunks, in bytes, at least 64 (Node default 16 KiB). Inflating stops
   * within one chunk past the message size limit, so this also bounds the overshoot.
   */
  chunkSize?: number;
}

/**
 * permessage-deflate options for a server or a client. Also accepts the shape of ws's
 * `perMessageDeflate` option (`zlibDeflateOptions`, `zlibInflateOptions`, `threshold`,
 * `concurrencyLimit`, the four negotiation parameters), so a ws configuration carries over.
 */
export interface DeflateOptions {
  /**
   * Client: ask the server not to keep its compression context between messages
   * (`server_no_context_takeover`, RFC 7692 §7.1.1.1). Server: always use it, even when not
   * asked. A server always honours a client that asks for it. Default false.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Client: announce that it will not keep its compression context (§7.1.1.2).
   * Server: require the client not to keep it (lets the server reset its inflater).
   * Default false.
   */
  clientNoContextTakeover?: boolean;
  /**
   * LZ77 window, as a base-2 log (8..15), the server compresses with (§7.1.2.1).
   * Client: asked for in the offer; a server answering with a larger window, or ignoring the
   * request, fails the connection. Server: the largest window it uses; a smaller offer is
   * honoured. Default: not limited (15).
   */
  serverMaxWindowBits?: number;
  /**
   * LZ77 window, as a base-2 log (8..15), the client compresses with (§7.1.2.2).
   * Client: a number is announced as a limit the client keeps to; `true` (the default) announces
   * support for the parameter without a value; `false` leaves it out of the offer.
   * Server: a number asks every client to keep to it (an offer that does not allow the server to
   * ask is declined, since its client would compress with 15); `true`/`false`/unset leave the
   * client's window to the client. Default `true`.
   */
  clientMaxWindowBits?: number | boolean;
  /** zlib compression level, -1 or 0..9. Overrides `zlibDeflateOptions.level`. Default -1 (6). */
  level?: number;
  /** zlib memory level, 1..9. Overrides `zlibDeflateOptions.memLevel`. Default 8. */
  memLevel?: number;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /**
   * Most zlib operations (compressions and decompressions) running at once in libuv's thread
   * pool, shared by every connection in the process configured with the same limit. Operations
   * run synchronously (`syncBelowBytes`) do not count. Default 10 (as ws).
   */
  concurrencyLimit?: number;
  /**
   * Milliseconds after which an idle connection's zlib context is released when it holds no
   * state worth keeping (the side without context takeover: `server_no_context_takeover` for a
   * server's compressor, `client_no_context_takeover` for its decompressor). An idle context costs
   * ~256 KiB (deflate, 15-bit window, memLevel 8) or ~40 KiB (inflate); it is re-created on the
   * next message. Default 10,000; 0 never releases.
   */
  idleContextReleaseMs?: number;
  /**
   * Messages (and fragments) smaller than this many bytes are compressed and inflated on the
   * calling thread, synchronously, when no operation of the same direction is queued: below a
   * few KiB a zlib call costs less than the round trip to libuv's thread pool. Inflating on this
   * path pauses past 64 KiB of output (80 KiB at most) and goes on in the thread pool; it stops at
   * the message size limit all the same. Larger payloads always use the thread pool.
   * Default 8192; 0 never runs zlib synchronously.
   */
  syncBelowBytes?: number;
  /** ws-compatible zlib tuning for compression. `windowBits` is negotiated and is rejected here. */
  zlibDeflateOptions?: ZlibDeflateTuning;
  /** ws-compatible zlib tuning for decompression. */
  zlibInflateOptions?: ZlibInflateTuning;
}

/** {@link DeflateOptions} with defaults filled in and values checked. */
export interface ResolvedDeflateOptions {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** `undefined`: not limited by this endpoint. */
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | boolean;
  level: number;
  memLevel: number;
  /** `undefined`: zlib's default. */
  strategy: number | undefined;
  /** `undefined`: Node's default (16 KiB). */
  deflateChunkSize: number | undefined;
  /** `undefined`: Node's default (16 KiB). */
  inflateChunkSize: number | undefined;
  threshold: number;
  concurrencyLimit: number;
  idleContextReleaseMs: number;
  syncBelowBytes: number;
}

/**
 * The parameters both endpoints agreed on (RFC 7692 §7.1). Window sizes are base-2 logs, 8..15;
 * 15 (32 KiB) where nothing was negotiated.
 */
export interface DeflateParams {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** Largest LZ77 window the server compresses with (the client inflates with it). */
  serverMaxWindowBits: number;
  /** Largest LZ77 window the client compresses with (the server inflates with it). */
  clientMaxWindowBits: number;
}

/** The default, unlimited window: 2^15 = 32 KiB (RFC 1951 §2, RFC 7692 §7.1.2). */
export const MAX_WINDOW_BITS = 15;
/** The smallest window RFC 7692 §7.1.2 allows: 2^8 = 256 bytes. */
export const MIN_WINDOW_BITS = 8;

const SERVER_NO_CONTEXT_TAKEOVER = 'server_no_context_takeover';
const CLIENT_NO_CONTEXT_TAKEOVER = 'client_no_context_takeover';
const SERVER_MAX_WINDOW_BITS = 'server_max_window_bits';
const CLIENT_MAX_WINDOW_BITS = 'client_max_window_bits';

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'serverNoContextTakeover',
  'clientNoContextTakeover',
  'serverMaxWindowBits',
  'clientMaxWindowBits',
  'level',
  'memLevel',
  'threshold',
  'concurrencyLimit',
  'idleContextReleaseMs',
  'syncBelowBytes',
  'zlibDeflateOptions',
  'zlibInflateOptions',
]);
const DEFLATE_TUNING_KEYS: ReadonlySet<string> = new Set(['level', 'memLevel', 'strategy', 'chunkSize']);
const INFLATE_TUNING_KEYS: ReadonlySet<string> = new Set(['chunkSize']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(where: string, value: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (value[key] === undefined || known.has(key)) continue;
    if (key === 'windowBits') {
      throw argumentError(
        `${where}.windowBits is negotiated (RFC 7692 §7.1.2): use serverMaxWindowBits / clientMaxWindowBits instead`,
      );
    }
    throw argumentError(`Unknown option ${where}.${key}. Known options: ${[...known].join(', ')}.`);
  }
}

function intOption(where: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}..${max}`;
    throw argumentError(`${where} must be an integer ${range}, got ${String(value)}`);
  }
  return value;
}

function boolOption(where: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw argumentError(`${where} must be a boolean, got ${String(value)}`);
  return value;
}

function merged(where: string, top: number | undefined, nested: number | undefined): number | undefined {
  if (top !== undefined && nested !== undefined && top !== nested) {
    throw argumentError(
      `perMessageDeflate.${where} and perMessageDeflate.zlibDeflateOptions.${where} disagree; set only one`,
    );
  }
  return top ?? nested;
}

/**
 * Checks permessage-deflate options and fills in defaults. `true` means all defaults; `false` or
 * `undefined` means compression is off (returns `undefined`).
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` for an unknown option, a value out of range
 *   (window bits 8..15, level -1..9, memLevel 1..9, strategy 0..4, chunk sizes at least 64,
 *   threshold and syncBelowBytes at least 0, concurrencyLimit at least 1), `zlibDeflateOptions.windowBits` (it is
 *   negotiated), or a `level` / `memLevel` given twice with different values.
 */
export function resolveDeflateOptions(options: true | DeflateOptions): ResolvedDeflateOptions;
export function resolveDeflateOptions(
  options: boolean | DeflateOptions | undefined,
): ResolvedDeflateOptions | undefined;
export function resolveDeflateOptions(
  options: boolean | DeflateOptions | undefined,
): ResolvedDeflateOptions | undefined {
  if (options === undefined || options === false) return undefined;
  const o: Record<string, unknown> = options === true ? {} : (options as unknown as Record<string, unknown>);
  if (!isObject(o)) {
    throw argumentError(`perMessageDeflate must be a boolean or an options object, got ${String(options)}`);
  }
  checkKeys('perMessageDeflate', o, OPTION_KEYS);
  const zd = o.zlibDeflateOptions ?? {};
  const zi = o.zlibInflateOptions ?? {};
  if (!isObject(zd)) throw argumentError('perMessageDeflate.zlibDeflateOptions must be an object');
  if (!isObject(zi)) throw argumentError('perMessageDeflate.zlibInflateOptions must be an object');
  checkKeys('perMessageDeflate.zlibDeflateOptions', zd, DEFLATE_TUNING_KEYS);
  checkKeys('perMessageDeflate.zlibInflateOptions', zi, INFLATE_TUNING_KEYS);

  const cmwb = o.clientMaxWindowBits;
  let clientMaxWindowBits: number | boolean;
  if (cmwb === undefined) clientMaxWindowBits = true;
  else if (typeof cmwb === 'boolean') clientMaxWindowBits = cmwb;
  else clientMaxWindowBits = intOption('perMessageDeflate.clientMaxWindowBits', cmwb, 8, 15) as number;

  const big = Number.MAX_SAFE_INTEGER;
  const level = merged(
    'level',
    intOption('perMessageDeflate.level', o.level, -1, 9),
    intOption('perMessageDeflate.zlibDeflateOptions.level', zd.level, -1, 9),
  );
  const memLevel = merged(
    'memLevel',
    intOption('perMessageDeflate.memLevel', o.memLevel, 1, 9),
    intOption('perMessageDeflate.zlibDeflateOptions.memLevel', zd.memLevel, 1, 9),
  );
  return {
    serverNoContextTakeover: boolOption(
      'perMessageDeflate.serverNoContextTakeover',
      o.serverNoContextTakeover,
    ),
    clientNoContextTakeover: boolOption(
      'perMessageDeflate.clientNoContextTakeover',
      o.clientNoContextTakeover,
    ),
    serverMaxWindowBits: intOption('perMessageDeflate.serverMaxWindowBits', o.serverMaxWindowBits, 8, 15),
    clientMaxWindowBits,
    level: level ?? -1,
    memLevel: memLevel ?? 8,
    strategy: intOption('perMessageDeflate.zlibDeflateOptions.strategy', zd.strategy, 0, 4),
    deflateChunkSize: intOption('perMessageDeflate.zlibDeflateOptions.chunkSize', zd.chunkSize, 64, big),
    inflateChunkSize: intOption('perMessageDeflate.zlibInflateOptions.chunkSize', zi.chunkSize, 64, big),
    threshold: intOption('perMessageDeflate.threshold', o.threshold, 0, big) ?? 1024,
    concurrencyLimit: intOption('perMessageDeflate.concurrencyLimit', o.concurrencyLimit, 1, big) ?? 10,
    idleContextReleaseMs:
      intOption('perMessageDeflate.idleContextReleaseMs', o.idleContextReleaseMs, 0, 2 ** 31 - 1) ?? 10_000,
    syncBelowBytes: intOption('perMessageDeflate.syncBelowBytes', o.syncBelowBytes, 0, big) ?? 8192,
  };
}

function resolved(options: true | DeflateOptions | ResolvedDeflateOptions): ResolvedDeflateOptions {
  if (isResolved(options)) return options;
  return resolveDeflateOptions(options);
}

function isResolved(options: unknown): options is ResolvedDeflateOptions {
  return isObject(options) && typeof options.concurrencyLimit === 'number' && 'deflateChunkSize' in options;
}

// ---- parameters of one extension element ---------------------------------------------------

/** The permessage-deflate parameters of one offer or response, as sent. */
interface SentParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (allowed in an offer only). */
  clientMaxWindowBits: number | true | undefined;
}

type ParseResult = { ok: true; params: SentParams } | { ok: false; reason: string };

/**
 * RFC 7692 §7.1.2.1 / §7.1.2.2: a decimal integer 8..15 "without leading zeroes", matching
 * `1*DIGIT` (after quoted-string unescaping, which the header parser already did).
 */
function windowBitsValue(value: string): number | undefined {
  if (value.length === 1) return value === '8' || value === '9' ? Number(value) : undefined;
  if (value.length === 2 && value.charCodeAt(0) === 0x31) {
    const d = value.charCodeAt(1) - 0x30;
    if (d >= 0 && d <= 5) return 10 + d;
  }
  return undefined;
}

/**
 * Reads the parameters of one permessage-deflate element. RFC 7692 §7: an offer (or response)
 * with a parameter not defined for it, a parameter with an invalid value, or the same parameter
 * twice is invalid: the server declines that offer, the client fails the connection.
 */
function parseParams(element: ExtensionOffer, side: 'offer' | 'response'): ParseResult {
  const out: SentParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of element.params) {
    // RFC 7692 §7: "multiple extension parameters with the same name" make it invalid.
    if (seen.has(name)) return { ok: false, reason: `parameter ${name} appears twice` };
    seen.add(name);
    switch (name) {
      // RFC 7692 §7.1.1.1 / §7.1.1.2: the context takeover parameters have no value.
      case SERVER_NO_CONTEXT_TAKEOVER:
      case CLIENT_NO_CONTEXT_TAKEOVER:
        if (value !== true) return { ok: false, reason: `parameter ${name} must have no value` };
        if (name === SERVER_NO_CONTEXT_TAKEOVER) out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      // RFC 7692 §7.1.2.1: server_max_window_bits always has a value, 8..15.
      case SERVER_MAX_WINDOW_BITS: {
        const bits = value === true ? undefined : windowBitsValue(value);
        if (bits === undefined) return { ok: false, reason: `parameter ${name} must be an integer 8..15` };
        out.serverMaxWindowBits = bits;
        break;
      }
      // RFC 7692 §7.1.2.2: client_max_window_bits may have no value in an offer; in a response
      // it limits the client's window, so it must carry one.
      case CLIENT_MAX_WINDOW_BITS: {
        if (value === true) {
          if (side === 'response') return { ok: false, reason: `parameter ${name} must have a value` };
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBitsValue(value);
        if (bits === undefined) return { ok: false, reason: `parameter ${name} must be an integer 8..15` };
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 §7: "an extension parameter not defined for use in an offer/response".
        return { ok: false, reason: `unknown parameter ${JSON.stringify(name)}` };
    }
  }
  return { ok: true, params: out };
}

// ---- server ---------------------------------------------------------------------------------

/** What the server answers when it accepts a permessage-deflate offer. */
export interface DeflateAcceptance {
  /** The parameters in force for the connection. */
  params: DeflateParams;
  /** The accepted element, to combine with other extensions through `formatExtensionHeader`. */
  response: ExtensionOffer;
  /** The `Sec-WebSocket-Extensions` value for this extension alone, e.g. `permessage-deflate`. */
  responseHeader: string;
}

/**
 * Server side of RFC 7692 §5 and §7: picks the first permessage-deflate offer, in the client's
 * order of preference (§5), that is valid and that these options can honour, and builds the
 * response. Other extensions in `offers` are skipped. Returns `undefined` when no offer is
 * acceptable: answer without the extension (declining is not an error, RFC 6455 §9.1).
 *
 * An offer is declined (and the next one tried) when (RFC 7692 §7):
 * - it has an unknown parameter, a parameter with an invalid value (window bits other than
 *   8..15 written without leading zeros, or a value on a context takeover parameter), or the
 *   same parameter twice;
 * - `clientMaxWindowBits` is a number below 15 and the offer lacks `client_max_window_bits`,
 *   since §7.1.2.2 forbids asking such a client to limit its window.
 *
 * Otherwise the response:
 * - has `server_no_context_takeover` when offered or when `serverNoContextTakeover` is set
 *   (§7.1.1.1; honouring the request is always possible);
 * - has `client_no_context_takeover` when offered or when `clientNoContextTakeover` is set
 *   (§7.1.1.2);
 * - has `server_max_window_bits` set to the smaller of the offered value and
 *   `serverMaxWindowBits` when either is present (§7.1.2.1: "the same or smaller value");
 * - has `client_max_window_bits` only when offered (§7.1.2.2), set to the smaller of the offered
 *   value (if any) and a numeric `clientMaxWindowBits`; omitted when neither gives a value, or
 *   when `clientMaxWindowBits` is `false`.
 *
 * A window of 8 bits is accepted as negotiated; `node/deflate.ts` compresses it with zlib's
 * 9-bit window, whose output never refers further back than 250 bytes (see there).
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when `options` are invalid.
 */
export function acceptDeflateOffer(
  offers: readonly ExtensionOffer[],
  options: true | DeflateOptions | ResolvedDeflateOptions = true,
): DeflateAcceptance | undefined {
  const opts = resolved(options);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const parsed = parseParams(offer, 'offer');
    if (!parsed.ok) continue; // RFC 7692 §7: the server MUST decline an invalid offer.
    const accepted = acceptParams(parsed.params, opts);
    if (accepted !== undefined) return accepted;
  }
  return undefined;
}

function acceptParams(offer: SentParams, opts: ResolvedDeflateOptions): DeflateAcceptance | undefined {
  const wantClientBits = typeof opts.clientMaxWindowBits === 'number' ? opts.clientMaxWindowBits : undefined;
  // RFC 7692 §7.1.2.2: without client_max_window_bits in the offer, the response MUST NOT limit
  // the client's window. A server configured to limit it declines rather than inflate with more
  // memory than configured (a limit of 15 is no limit).
  if (
    offer.clientMaxWindowBits === undefined &&
    wantClientBits !== undefined &&
    wantClientBits < MAX_WINDOW_BITS
  ) {
    return undefined;
  }

  const serverNoContextTakeover = offer.serverNoContextTakeover || opts.serverNoContextTakeover;
  const clientNoContextTakeover = offer.clientNoContextTakeover || opts.clientNoContextTakeover;

  // RFC 7692 §7.1.2.1: answer an offered server_max_window_bits with the same or a smaller
  // value; the server MAY also send it unasked.
  let serverBits: number | undefined;
  if (offer.serverMaxWindowBits !== undefined) {
    serverBits = Math.min(offer.serverMaxWindowBits, opts.serverMaxWindowBits ?? MAX_WINDOW_BITS);
  } else if (opts.serverMaxWindowBits !== undefined && opts.serverMaxWindowBits < MAX_WINDOW_BITS) {
    serverBits = opts.serverMaxWindowBits;
  }

  // RFC 7692 §7.1.2.2: only when offered; a value equal to or smaller than the offered one.
  let clientBits: number | undefined;
  if (offer.clientMaxWindowBits !== undefined && opts.clientMaxWindowBits !== false) {
    const offered = offer.clientMaxWindowBits === true ? undefined : offer.clientMaxWindowBits;
    if (offered !== undefined || wantClientBits !== undefined) {
      clientBits = Math.min(offered ?? MAX_WINDOW_BITS, wantClientBits ?? MAX_WINDOW_BITS);
    }
  }

  const response: ExtensionOffer = { name: PERMESSAGE_DEFLATE, params: [] };
  if (serverNoContextTakeover) response.params.push([SERVER_NO_CONTEXT_TAKEOVER, true]);
  if (clientNoContextTakeover) response.params.push([CLIENT_NO_CONTEXT_TAKEOVER, true]);
  if (serverBits !== undefined) response.params.push([SERVER_MAX_WINDOW_BITS, String(serverBits)]);
  if (clientBits !== undefined) response.params.push([CLIENT_MAX_WINDOW_BITS, String(clientBits)]);
  return {
    params: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits: serverBits ?? MAX_WINDOW_BITS,
      clientMaxWindowBits: clientBits ?? MAX_WINDOW_BITS,
    },
    response,
    responseHeader: formatExtensionHeader([response]),
  };
}

// ---- client ---------------------------------------------------------------------------------

/**
 * The client's offer (RFC 7692 §5, §7.1): one permessage-deflate element, e.g.
 * `permessage-deflate; client_max_window_bits` with the defaults (what Chromium and ws send).
 *
 * - `serverNoContextTakeover` → `server_no_context_takeover`;
 * - `clientNoContextTakeover` → `client_no_context_takeover`;
 * - `serverMaxWindowBits: n` → `server_max_window_bits=n`;
 * - `clientMaxWindowBits: n` → `client_max_window_bits=n`; `true` (default) → the bare
 *   `client_max_window_bits`, letting the server choose; `false` → left out.
 *
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when `options` are invalid.
 */
export function buildDeflateOffer(options: true | DeflateOptions | ResolvedDeflateOptions = true): string {
  return formatExtensionHeader([deflateOfferElement(options)]);
}

/** {@link buildDeflateOffer} as an extension element, to combine with other extensions. */
export function deflateOfferElement(
  options: true | DeflateOptions | ResolvedDeflateOptions = true,
): ExtensionOffer {
  const opts = resolved(options);
  const offer: ExtensionOffer = { name: PERMESSAGE_DEFLATE, params: [] };
  if (opts.serverNoContextTakeover) offer.params.push([SERVER_NO_CONTEXT_TAKEOVER, true]);
  if (opts.clientNoContextTakeover) offer.params.push([CLIENT_NO_CONTEXT_TAKEOVER, true]);
  if (opts.serverMaxWindowBits !== undefined) {
    offer.params.push([SERVER_MAX_WINDOW_BITS, String(opts.serverMaxWindowBits)]);
  }
  if (opts.clientMaxWindowBits === true) offer.params.push([CLIENT_MAX_WINDOW_BITS, true]);
  else if (typeof opts.clientMaxWindowBits === 'number') {
    offer.params.push([CLIENT_MAX_WINDOW_BITS, String(opts.clientMaxWindowBits)]);
  }
  return offer;
}

/**
 * Finds the server's permessage-deflate response among the extensions it accepted (as returned
 * by the client handshake check). `undefined` when the server declined compression.
 *
 * @throws {HandshakeError} when permessage-deflate appears more than once: RFC 7692 §5, a client
 *   receiving a response that accepts several PMCE offers MUST fail the connection.
 */
export function findDeflateResponse(accepted: readonly ExtensionOffer[]): ExtensionOffer | undefined {
  let found: ExtensionOffer | undefined;
  for (const element of accepted) {
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    if (found !== undefined) {
      throw new HandshakeError('Server accepted permessage-deflate more than once (RFC 7692 §5)');
    }
    found = element;
  }
  return found;
}

/**
 * Client side of RFC 7692 §7: checks the server's answer to {@link buildDeflateOffer} made with
 * the same `options` and returns the parameters in force.
 *
 * Accepted: `server_no_context_takeover` and `client_no_context_takeover` whether asked for or
 * not (§7.1.1: the server MAY send them; the client can always comply), `server_max_window_bits`
 * unasked (§7.1.2.1 MAY), a server that ignores `server_no_context_takeover` (this client can
 * always inflate with context; ws does the same).
 *
 * @throws {HandshakeError} (`WS_ERR_HANDSHAKE`; the client MUST _Fail the WebSocket Connection_,
 *   RFC 7692 §7) when the response is not permessage-deflate; has an unknown parameter, a
 *   parameter twice, or an invalid value (including `client_max_window_bits` without a value);
 *   has `client_max_window_bits` although the offer did not (§7.1.2.2) or larger than offered;
 *   or answers `serverMaxWindowBits: n` with a larger window or none (§7.1.2.1: a server accepts
 *   it only "with the same or smaller value").
 * @throws {WebSocketError} `WS_ERR_INVALID_ARGUMENT` when `options` are invalid.
 */
export function validateDeflateResponse(
  response: ExtensionOffer,
  options: true | DeflateOptions | ResolvedDeflateOptions = true,
): DeflateParams {
  const opts = resolved(options);
  const fail = (why: string) => new HandshakeError(`Invalid permessage-deflate response: ${why}`);
  if (response.name !== PERMESSAGE_DEFLATE) throw fail(`extension ${JSON.stringify(response.name)}`);
  const parsed = parseParams(response, 'response');
  if (!parsed.ok) throw fail(parsed.reason);
  const got = parsed.params;

  if (opts.serverMaxWindowBits !== undefined && opts.serverMaxWindowBits < MAX_WINDOW_BITS) {
    // RFC 7692 §7.1.2.1: accepted "with the same or smaller value as the offer".
    if (got.serverMaxWindowBits === undefined) {
      throw fail(`server_max_window_bits=${opts.serverMaxWindowBits} was asked for and not confirmed`);
    }
    if (got.serverMaxWindowBits > opts.serverMaxWindowBits) {
      throw fail(`server_max_window_bits=${got.serverMaxWindowBits} is larger than offered`);
    }
  }

  let clientMaxWindowBits: number = MAX_WINDOW_BITS;
  const offeredClientBits = opts.clientMaxWindowBits;
  if (got.clientMaxWindowBits !== undefined) {
    const bits = got.clientMaxWindowBits as number; // a response value is never `true` (parseParams)
    // RFC 7692 §7.1.2.2: a response MUST NOT include it unless the offer did.
    if (offeredClientBits === false) throw fail('client_max_window_bits was not offered');
    if (typeof offeredClientBits === 'number' && bits > offeredClientBits) {
      throw fail(`client_max_window_bits=${bits} is larger than offered`);
    }
    clientMaxWindowBits = bits;
  } else if (typeof offeredClientBits === 'number') {
    // The offer announced this limit; keep to it.
    clientMaxWindowBits = offeredClientBits;
  }

  return {
    serverNoContextTakeover: got.serverNoContextTakeover,
    clientNoContextTakeover: got.clientNoContextTakeover || opts.clientNoContextTakeover,
    serverMaxWindowBits: got.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits,
  };
}
