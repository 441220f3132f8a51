// The one error type whose code and message reach a client (in a failed reply): thrown by
// handlers, hooks and adapters that refuse something on purpose.

/** An error whose code and message reach the client in the reply (other errors are masked). */
export class RealtimeError extends Error {
  override name = 'RealtimeError';
  /**
   * A refusal for lack of capacity (e.g. `too-many-channels`): where it ends a connection or an
   * HTTP session rather than failing one reply, the close code is 1013 (try again later).
   */
  readonly overloaded: boolean;
  constructor(
    readonly code: string,
    message: string,
    options: { overloaded?: boolean } = {},
  ) {
    super(message);
    this.overloaded = options.overloaded ?? false;
  }
}

/**
 * Whether `error` is a refusal for lack of capacity, from any adapter: an error with
 * `overloaded: true` (a `RealtimeError` so marked, the Redis adapter's `REDIS_ERR_OUT_OF_MEMORY`).
 * The server closes what such an error ends with 1013 (try again later), not 1011.
 */
export function isOverloaded(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { overloaded?: unknown }).overloaded === true
  );
}
