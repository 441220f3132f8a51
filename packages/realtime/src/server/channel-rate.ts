// How fast one connection may start using channels: a channel it is not subscribed to and has
// not used lately costs a token. Channels are created by being named, so this bounds how many new
// channels (and channel-limit evictions) one connection can cause per second.
import { TokenBucket } from '../transports/rate-limit.js';

export interface ChannelRateLimit {
  /** Channels per second a connection may start using, sustained. Default 10. */
  channelsPerSecond: number;
  /** Channels a connection may start using at once (a fresh connection subscribing). Default 256. */
  burst: number;
}

export const DEFAULT_CHANNEL_RATE: ChannelRateLimit = { channelsPerSecond: 10, burst: 256 };

/** Channels a connection used lately that cost nothing to use again (besides its subscriptions). */
const RECENT_CHANNELS = 32;

export class ChannelRate {
  private readonly bucket: TokenBucket;
  /** Least recently used first. */
  private readonly recent = new Set<string>();

  constructor(
    limit: ChannelRateLimit,
    private readonly subscribed: (channel: string) => boolean,
    now?: () => number,
  ) {
    this.bucket = new TokenBucket({ messagesPerSecond: limit.channelsPerSecond, burst: limit.burst }, now);
  }

  /** Whether the connection may use `channel` now; takes a token when it is new to it. */
  admit(channel: string): boolean {
    if (this.recent.delete(channel)) {
      this.recent.add(channel);
      return true;
    }
    if (this.subscribed(channel)) return true;
    if (!this.bucket.take()) return false;
    this.recent.add(channel);
    if (this.recent.size > RECENT_CHANNELS) this.recent.delete(this.recent.values().next().value!);
    return true;
  }
}
