// StatsSource: what the dashboard needs from the server it watches, whatever that server is.
// `RealtimeSource` reads a RealtimeServer's Prometheus metrics and traffic taps; `WebSocketSource`
// counts a plain WebSocketServer's traffic itself.
import type { ConnectionStats, TailTarget, Totals } from './sample.js';

/** Messages of one channel counted over an interval. */
export interface ChannelCount {
  messages: number;
  deliveries: number;
  bytesOut: number;
  subscribers: number;
}

/** A message seen by a tail, before it is turned into a `Frame` preview. */
export type TapFrame = (dir: 'in' | 'out' | 'pub', data: string | Uint8Array, binary: boolean) => void;

export interface StatsSource {
  readonly kind: 'realtime' | 'websocket';
  /** Cumulative counters now. */
  totals(): Promise<Totals>;
  connections(): number;
  /** Messages in all outbound queues, and in the fullest one. */
  queued(): Promise<{ total: number; max: number }>;
  /** Fullest outbound queues first. */
  connectionList(max: number): ConnectionStats[];
  /** Per-channel counts since the last call (and resets them). */
  takeChannels(): Map<string, ChannelCount>;
  /**
   * Calls `onFrame` for every message of `target` until the returned function is called. Throws
   * an `Error` whose message says why when the target cannot be followed.
   */
  tail(target: TailTarget, onFrame: TapFrame): () => void;
  /** Stops observing the server. */
  close(): void;
}
