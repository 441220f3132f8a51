import { argumentError } from '../protocol/errors.js';
import { type Limits, resolveLimits } from '../protocol/limits.js';
import type { ConnectionSettings } from '../websocket.js';
import { DEFAULT_DRIVER_OPTIONS } from './connection-driver.js';

/**
 * Options of an open connection, the same for `new WebSocketServer(options)` and
 * `new WebSocket(url, protocols, options)`. ws 8's names are accepted as aliases of ieum's.
 */
export interface WebSocketConnectionOptions {
  /** Protocol limits (see `Limits`). */
  limits?: Partial<Limits>;
  /** Largest message accepted, in bytes: ws's name for `limits.maxMessageBytes`. */
  maxPayload?: number;
  /**
   * Most frames in one message: ws's name for `limits.maxFragments`; `0` means no count limit
   * (messages stay bounded by `maxMessageBytes`). Exceeded: close 1009.
   */
  maxFragments?: number;
  /**
   * ws's name for `limits.maxBufferedChunks`: separate buffers held for one incomplete message
   * before they are merged into one; `0` means they are never merged. The connection stays open.
   */
  maxBufferedChunks?: number;
  /**
   * Milliseconds to wait for the peer's close frame (after ours) or for the TCP close after the
   * close handshake, before the socket is destroyed. Default 30,000.
   */
  closeTimeoutMs?: number;
  /** ws's name for `closeTimeoutMs`. */
  closeTimeout?: number;
  /**
   * Unsent bytes per connection before the peer is deemed not reading (terminated, error
   * `WS_ERR_PEER_NOT_READING`, 1008). Default 64 MiB.
   */
  maxBufferedBytes?: number;
  /** Reply to pings automatically. Default true. */
  autoPong?: boolean;
  /**
   * Whether several `message`, `ping` and `pong` events may be emitted in the same tick, as in
   * ws 8. Default true. With false, each of them is emitted in its own macrotask (reading from
   * the socket waits meanwhile), so promises resolved by one handler settle before the next event.
   */
  allowSynchronousEvents?: boolean;
  /**
   * Do not check that text messages and close reasons are valid UTF-8 (ws's option). Default
   * false. UNSAFE: RFC 6455 §8.1 requires failing the connection on invalid UTF-8; with this
   * set, invalid bytes reach your handlers (as replacement characters once decoded). Use it
   * only when the peer is trusted and you need the CPU back.
   */
  skipUTF8Validation?: boolean;
}

/** The option names `resolveConnectionSettings` reads (for the unknown-option checks). */
export const CONNECTION_OPTION_NAMES: readonly (keyof WebSocketConnectionOptions)[] = [
  'limits',
  'maxPayload',
  'maxFragments',
  'maxBufferedChunks',
  'closeTimeoutMs',
  'closeTimeout',
  'maxBufferedBytes',
  'autoPong',
  'allowSynchronousEvents',
  'skipUTF8Validation',
];

function nonNegativeInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw argumentError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw argumentError(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

/**
 * The value of a setting that has an ieum name and a ws name: `own` as given (checked later,
 * e.g. by `resolveLimits`), or the ws value, checked here and converted. Both given must agree.
 */
function aliased(
  ownName: string,
  own: number | undefined,
  wsName: string,
  ws: unknown,
  toValue: (value: number) => number = (v) => v,
): number | undefined {
  if (ws === undefined) return own;
  const value = toValue(nonNegativeInt(wsName, ws));
  if (own !== undefined && own !== value) {
    throw argumentError(`${ownName} and ${wsName} name the same setting: pass one of them`);
  }
  return value;
}

/** ws's `0` for "no limit": the largest count a limit can hold. */
const unlimitedIfZero = (value: number): number => (value === 0 ? Number.MAX_SAFE_INTEGER : value);

/**
 * Resolves the connection options of a server or a client into the settings every connection
 * it opens shares. Throws `WS_ERR_INVALID_ARGUMENT` for an invalid value, or an ieum name and
 * its ws alias given different values.
 */
export function resolveConnectionSettings(options: WebSocketConnectionOptions): ConnectionSettings {
  const limits: Partial<Limits> = { ...options.limits };
  const maxMessageBytes = aliased(
    'limits.maxMessageBytes',
    limits.maxMessageBytes,
    'maxPayload',
    options.maxPayload,
  );
  const maxFragments = aliased(
    'limits.maxFragments',
    limits.maxFragments,
    'maxFragments',
    options.maxFragments,
    unlimitedIfZero,
  );
  const maxBufferedChunks = aliased(
    'limits.maxBufferedChunks',
    limits.maxBufferedChunks,
    'maxBufferedChunks',
    options.maxBufferedChunks,
    unlimitedIfZero,
  );
  if (maxMessageBytes !== undefined) limits.maxMessageBytes = maxMessageBytes;
  if (maxFragments !== undefined) limits.maxFragments = maxFragments;
  if (maxBufferedChunks !== undefined) limits.maxBufferedChunks = maxBufferedChunks;
  return {
    limits: resolveLimits(limits),
    closeTimeoutMs:
      aliased(
        'closeTimeoutMs',
        options.closeTimeoutMs === undefined
          ? undefined
          : nonNegativeInt('closeTimeoutMs', options.closeTimeoutMs),
        'closeTimeout',
        options.closeTimeout,
      ) ?? DEFAULT_DRIVER_OPTIONS.closeTimeoutMs,
    maxBufferedBytes:
      options.maxBufferedBytes === undefined
        ? DEFAULT_DRIVER_OPTIONS.maxBufferedBytes
        : nonNegativeInt('maxBufferedBytes', options.maxBufferedBytes),
    autoPong: bool('autoPong', options.autoPong, true),
    allowSynchronousEvents: bool('allowSynchronousEvents', options.allowSynchronousEvents, true),
    skipUTF8Validation: options.skipUTF8Validation === true,
  };
}
