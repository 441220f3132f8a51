// The Adapter is where channels live: history with offsets and an epoch, fan-out to every server
// process, message-id deduplication and presence. `MemoryAdapter` serves one process; a Redis
// adapter (scale-out) implements the same interface and passes the same conformance suite.

/** A message as stored in a channel's history. */
export interface ChannelEntry {
  /** Offset in the channel, from 1, without gaps. */
  off: number;
  ev: string;
  d: unknown;
  /** Milliseconds since the epoch when it was published. */
  time: number;
  /** Client message id (`<client id>:<n>`) when a client published it. */
  mid?: string;
  /** Connection (session) id that must not receive it. */
  except?: string;
  /** Coalescing key for the `latest` slow-consumer policy. */
  key?: string;
}

export interface ChannelPosition {
  /** Changes whenever the channel's history is lost (restart without persistence, trimmed away). */
  epoch: string;
  /** Offset of the newest message, 0 when there is none. */
  offset: number;
}

export type HistoryResult =
  | { ok: true; entries: ChannelEntry[]; position: ChannelPosition }
  | { ok: false; reason: 'epoch-changed' | 'too-old' | 'ahead'; position: ChannelPosition };

export type PublishInput = Omit<ChannelEntry, 'off' | 'time'>;

export interface PublishResult extends ChannelPosition {
  /** The message id was seen before: nothing was published, `offset` is the first publication's. */
  duplicate: boolean;
}

export type AdapterEvent =
  | { type: 'message'; channel: string; epoch: string; entry: ChannelEntry }
  | { type: 'join' | 'leave'; channel: string; user: string; info?: unknown }
  | PresenceUpdateEvent;

/**
 * One connection's presence state changed. Without `state`, the connection left presence (its
 * state is gone) while its user may still be present through other connections; it is sent only
 * for connections that had set a state.
 */
export interface PresenceUpdateEvent {
  type: 'update';
  channel: string;
  user: string;
  connection: string;
  state?: unknown;
}

/** A present user as an adapter lists it: its info, and the state of each connection that set one. */
export interface PresenceListEntry {
  user: string;
  info?: unknown;
  /** connection id -> its latest presence state (only connections that set one). */
  states?: Record<string, unknown>;
}

export interface PresenceChange {
  /** For join: this was the user's first connection in the channel. For leave: its last. */
  changed: boolean;
}

/**
 * Where channels live: history, fan-out to every process, deduplication and presence. The server
 * relies on this contract (the conformance suite, `@ieum/realtime/adapter-conformance`, checks
 * what a single process can see of it):
 *
 * - **Store and publish are one step per channel.** `publish` assigns the next offset, stores the
 *   message and hands it to fan-out atomically with respect to other publishes to the same
 *   channel: offsets are 1, 2, 3… without gaps within an epoch, a message is delivered only after
 *   it is stored (a `history` read after a delivery contains it), and no process sees offset
 *   n + 1 before n. A publish whose `mid` was seen within the dedupe window stores and delivers
 *   nothing and resolves with the first publication's position and `duplicate: true`.
 * - **Ordering.** A listener receives every offset of its channel, in offset order, from the
 *   moment `subscribe` resolves; nothing is promised across channels. It may be called during
 *   `publish` (memory) or later (Redis); the server assumes neither.
 * - **Epochs.** An epoch names one unbroken history of a channel. It changes only when that
 *   history is lost (a restart without persistence, an eviction, `deleteChannel`), and offsets
 *   start again in the new one. A listener that receives a new epoch or a skipped offset is told
 *   that messages in between are gone: the server closes the sessions concerned (1012), and their
 *   clients resubscribe from their position and are told (`recovered: false`, `reset`). An adapter
 *   must never skip an offset or change the epoch while the messages in between still exist.
 * - **Failures.** Adapters refuse for lack of capacity (memory, channels) with an error carrying
 *   `overloaded: true` (see `isOverloaded`): the server then closes the connection or HTTP session
 *   concerned with 1013 (try again later) instead of 1011, and the client retries with backoff. A
 *   `RealtimeError` refuses one operation and its message reaches the client.
 */
export interface Adapter {
  /**
   * Appends to the channel's history and delivers to every subscriber in every process, as one
   * step (see the contract above). With a `mid`, a message id seen within the dedupe window is
   * not published again.
   */
  publish(channel: string, message: PublishInput): Promise<PublishResult>;
  /**
   * Receives the channel's messages and presence changes from now on (until `unsubscribe`):
   * every offset, in order. Deliver a new epoch or a skipped offset only when the messages in
   * between are gone: the server then has the clients concerned resubscribe and reset.
   */
  subscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void>;
  unsubscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void>;
  /** The channel's epoch and newest offset. */
  position(channel: string): Promise<ChannelPosition>;
  /** The messages after `offset` in `epoch`, oldest first, or why they cannot be had. */
  history(channel: string, since: ChannelPosition): Promise<HistoryResult>;
  /** Adds one connection of `user` to the channel's presence; `changed` if it is the user's first. */
  presenceJoin(channel: string, user: string, connection: string, info?: unknown): Promise<PresenceChange>;
  /** Removes one connection; `changed` if it was the user's last. */
  presenceLeave(channel: string, user: string, connection: string): Promise<PresenceChange>;
  /**
   * Replaces the presence state of one present connection (latest value wins) and tells every
   * process (`update` event). Resolves `false`, changing nothing, when the connection is not
   * present in the channel. Leaving presence drops the connection's state (an `update` event
   * without `state`).
   */
  presenceUpdate(channel: string, user: string, connection: string, state: unknown): Promise<boolean>;
  /** The users present, with their info and the state of each connection that set one. */
  presenceList(channel: string): Promise<PresenceListEntry[]>;
  /**
   * Optional: forgets the channel's history and position now, for channels that are over for good
   * (an HTTP fallback session's channels once it is closed); without it they age out. A channel
   * with subscribers or presence in this process may be left alone.
   */
  deleteChannel?(channel: string): Promise<void>;
  close(): Promise<void>;
}

export interface HistoryLimits {
  /** Messages kept per channel. Default 1,000. */
  maxMessages: number;
  /** Milliseconds a message stays recoverable. Default 300,000 (5 minutes). */
  maxAgeMs: number;
}

export interface DedupeLimits {
  /** Message ids remembered (process-wide for the memory adapter). Default 100,000. */
  maxIds: number;
  /** Milliseconds a message id is remembered. Default 600,000 (10 minutes). */
  maxAgeMs: number;
}

/**
 * Byte bounds of stored history (`MemoryAdapter`; the Redis adapter bounds its memory with Redis's
 * own settings). Sizes are estimated: a payload's JSON size (binary as base64) plus ~100 bytes.
 */
export interface HistoryByteLimits {
  /**
   * Bytes of history kept per channel; past it the channel's oldest messages are dropped, as
   * past `maxMessages` (a client recovering from before them gets `recovered: false`, `too-old`).
   * Default 4 MiB.
   */
  maxBytesPerChannel: number;
  /**
   * Bytes of history kept by the process over all channels; past it the oldest messages of the
   * process are dropped, whatever their channel. Default 64 MiB.
   */
  maxBytesTotal: number;
}

export const DEFAULT_HISTORY: HistoryLimits = { maxMessages: 1000, maxAgeMs: 300_000 };
export const DEFAULT_HISTORY_BYTES: HistoryByteLimits = {
  maxBytesPerChannel: 4 * 1024 * 1024,
  maxBytesTotal: 64 * 1024 * 1024,
};
/** Channels a `MemoryAdapter` holds at once (see `MemoryAdapterOptions.maxChannels`). */
export const DEFAULT_MAX_CHANNELS = 100_000;
export const DEFAULT_DEDUPE: DedupeLimits = { maxIds: 100_000, maxAgeMs: 600_000 };
