// Errors of RedisAdapter, each with a stable code saying who must act.

export const RedisAdapterErrorCode = {
  /** Redis could not be reached in time; nothing was done (or, for `publish` in flight, maybe). Retry. */
  UNAVAILABLE: 'REDIS_ERR_UNAVAILABLE',
  /**
   * Redis refused the operation because it is at `maxmemory` (with the recommended `noeviction`
   * policy). Nothing was written: the operation is refused before its first write. Retry later
   * (a publish retried with the same message id is applied once); free memory or raise maxmemory.
   */
  OUT_OF_MEMORY: 'REDIS_ERR_OUT_OF_MEMORY',
  /** The adapter was closed: a caller used it afterwards. */
  CLOSED: 'REDIS_ERR_CLOSED',
  /**
   * A subscription missed messages it can no longer fetch (the subscriber connection was down for
   * longer than the history window). Subscribers saw a gap; reported through the `error` event.
   */
  MESSAGES_LOST: 'REDIS_ERR_MESSAGES_LOST',
  /**
   * A channel name, user, connection id or message id is not well-formed UTF-16 (a lone
   * surrogate). Redis would store it as UTF-8 with U+FFFD, merging it with other names, so the
   * operation is refused; the caller must validate names first.
   */
  INVALID_NAME: 'REDIS_ERR_INVALID_NAME',
} as const;

export type RedisAdapterErrorCode = (typeof RedisAdapterErrorCode)[keyof typeof RedisAdapterErrorCode];

export class RedisAdapterError extends Error {
  readonly code: RedisAdapterErrorCode;
  /**
   * A refusal for lack of capacity (`REDIS_ERR_OUT_OF_MEMORY`): a realtime server closes what it
   * ends with 1013 (try again later) rather than 1011 (see `isOverloaded` in @ieum/realtime).
   */
  readonly overloaded: boolean;

  constructor(code: RedisAdapterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisAdapterError';
    this.code = code;
    this.overloaded = code === RedisAdapterErrorCode.OUT_OF_MEMORY;
  }
}
