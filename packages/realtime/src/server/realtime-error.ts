// The one error type whose code and message reach a client (in a failed reply): thrown by
// handlers, hooks and adapters that refuse something on purpose.

/** An error whose code and message reach the client in the reply (other errors are masked). */
export class RealtimeError extends Error {
  override name = 'RealtimeError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
