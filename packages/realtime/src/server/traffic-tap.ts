// TrafficTap: a read-only view of the messages a RealtimeServer receives, sends and fans out, for
// observers such as @ieum/dashboard's frame inspector and per-channel rates. Taps are called
// synchronously on the hot path: they must be cheap, never throw and never keep the data.
import type { ChannelEntry } from '../adapter/adapter.js';

/**
 * Observer of a `RealtimeServer`'s traffic (`S` is its `Connection`); add one with
 * `rt.taps.add(tap)`, remove it with `rt.taps.delete(tap)`. Every method is optional. With no taps
 * the server does no extra work.
 */
export interface TrafficTap<S = unknown> {
  /** One message received from `connection`, as it arrived (before decoding). */
  received?(connection: S, data: Uint8Array, isBinary: boolean): void;
  /** One message queued for `connection`, encoded by its codec (a string for text codecs). */
  sent?(connection: S, data: string | Uint8Array): void;
  /** One stored channel message fanned out by this process to `subscribers` local connections. */
  channelMessage?(channel: string, entry: ChannelEntry, subscribers: number): void;
}
