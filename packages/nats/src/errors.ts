// Errors of NatsAdapter, each with a stable code saying who must act.

export const NatsAdapterErrorCode = {
  /**
   * NATS could not be reached, or JetStream did not answer, within `timeoutMs`. Nothing was done;
   * for a `publish` in flight, maybe: a retry with the same message id is applied once.
   */
  UNAVAILABLE: 'NATS_ERR_UNAVAILABLE',
  /**
   * JetStream refused for lack of capacity (its storage is full, or the account's stream limit is
   * reached). Nothing was written. Retry later; give JetStream more storage or streams.
   */
  OVERLOADED: 'NATS_ERR_OVERLOADED',
  /** The adapter was closed: a caller used it afterwards. */
  CLOSED: 'NATS_ERR_CLOSED',
  /**
   * A subscription missed messages it can no longer fetch (the connection was down for longer than
   * the history window, or the channel's stream started over). Reported through the `error` event;
   * subscribers see a gap, which the realtime server turns into a `reset` for its clients.
   */
  MESSAGES_LOST: 'NATS_ERR_MESSAGES_LOST',
} as const;

export type NatsAdapterErrorCode = (typeof NatsAdapterErrorCode)[keyof typeof NatsAdapterErrorCode];

export class NatsAdapterError extends Error {
  readonly code: NatsAdapterErrorCode;
  /**
   * A refusal for lack of capacity (`NATS_ERR_OVERLOADED`): a realtime server closes what it ends
   * with 1013 (try again later) rather than 1011 (see `isOverloaded` in @ieum/realtime).
   */
  readonly overloaded: boolean;

  constructor(code: NatsAdapterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NatsAdapterError';
    this.code = code;
    this.overloaded = code === NatsAdapterErrorCode.OVERLOADED;
  }
}
