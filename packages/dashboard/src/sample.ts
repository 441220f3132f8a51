// The wire format of the dashboard: what the server publishes every interval on the `stats`
// channel and what a frame inspector tail sends. Plain data, browser-safe.

/** Cumulative counters since the server started (the same values the Prometheus endpoint shows). */
export interface Totals {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Messages not sent to a slow connection (`drop` and `latest` policies). */
  dropped: number;
  /** Connections closed because their outbound queue overflowed (close 4409). */
  slowConsumerDisconnects: number;
  /** Connections opened, reconnects included. */
  opened: number;
  /** Connections closed, any code. */
  disconnects: number;
  /** Subscriptions resumed from a client's position whose missed messages were all sent. */
  recovered: number;
  /** Subscriptions resumed from a position history no longer held (the client was told `reset`). */
  reset: number;
}

/** Per-second rates over the last interval, one per total (same names). */
export type Rates = Totals;

/** One channel as this process fanned it out over the last interval. */
export interface ChannelStats {
  name: string;
  /** Local subscribers when the last message was fanned out. */
  subscribers: number;
  /** Messages per second published to the channel (seen by this process). */
  messagesPerSecond: number;
  /** Deliveries per second: messages × local subscribers. */
  deliveriesPerSecond: number;
  /** Bytes per second sent for this channel, estimated: payload JSON size × local subscribers. */
  bytesOutPerSecond: number;
}

/** One open connection, for the inspector's picker. */
export interface ConnectionStats {
  id: string;
  user: string | undefined;
  transport: string;
  /** Messages waiting in its outbound queue. */
  queued: number;
  channels: number;
}

/** One sample, published every `intervalMs` on the dashboard's `stats` channel. */
export interface Sample {
  /** Milliseconds since the epoch when the sample was taken. */
  at: number;
  /** Milliseconds the rates are measured over. */
  intervalMs: number;
  /** What the dashboard is mounted on. */
  source: 'realtime' | 'websocket';
  connections: number;
  totals: Totals;
  rates: Rates;
  /** Messages waiting in all outbound queues, and in the fullest one. */
  queued: { total: number; max: number };
  /** Event-loop delay over the interval, in milliseconds. */
  eventLoop: { p50: number; p99: number; max: number };
  /** Busiest channels first (at most `maxChannels`). */
  channels: ChannelStats[];
  /** Fullest outbound queues first (at most `maxConnections`). */
  connectionList: ConnectionStats[];
}

/** One message seen by a frame inspector tail. */
export interface Frame {
  at: number;
  /** `in`: from the client; `out`: to the client; `pub`: published to the channel. */
  dir: 'in' | 'out' | 'pub';
  /** Size in bytes (UTF-16 code units for text frames) before truncation. */
  size: number;
  binary: boolean;
  /** The start of the message: text as is, binary as hex. */
  preview: string;
  /** Frames skipped before this one because the tail's rate limit was reached. */
  skipped: number;
}

/** What a tail follows: a channel's published messages, or one connection's frames. */
export type TailTarget = { kind: 'channel'; name: string } | { kind: 'connection'; id: string };

export const ZERO_TOTALS: Totals = {
  messagesIn: 0,
  messagesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  dropped: 0,
  slowConsumerDisconnects: 0,
  opened: 0,
  disconnects: 0,
  recovered: 0,
  reset: 0,
};
