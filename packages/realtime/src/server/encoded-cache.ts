// Encoded copies of stored channel messages, shared by every connection of a process: a stored
// message is encoded once per codec, whether it goes out live or in a history replay, however
// many clients (re)subscribe. Bounded in bytes; least recently used copies go first.

import type { ChannelEntry } from '../adapter/adapter.js';
import type { Codec } from '../codec/codec.js';

/** Default `replayCacheBytes`: 64 MiB. */
export const DEFAULT_REPLAY_CACHE_BYTES = 64 * 1024 * 1024;

// Strings are counted at 2 bytes per UTF-16 unit, their largest size in memory.
const sizeOf = (d: string | Uint8Array) => (typeof d === 'string' ? d.length * 2 : d.byteLength);

export class EncodedCache {
  /** `codec \0 channel \0 epoch \0 offset` -> encoded message; Map order is use order. */
  private readonly items = new Map<string, string | Uint8Array>();
  private bytes = 0;

  /** @param maxBytes copies kept, over all codecs and channels; a larger message is not kept. */
  constructor(private readonly maxBytes: number) {}

  /** Bytes held now. */
  get size(): number {
    return this.bytes;
  }

  /**
   * The `msg` packet of `entry` (stored at `epoch` in `channel`) in `codec`, encoded on first use.
   * An epoch and an offset name one stored message for good (an offset is never reused within
   * an epoch), so a copy never goes stale. Throws what `codec.encode` throws.
   */
  encode(codec: Codec, channel: string, epoch: string, entry: ChannelEntry): string | Uint8Array {
    const key = `${codec.name}\u0000${channel}\u0000${epoch}\u0000${entry.off}`;
    const hit = this.items.get(key);
    if (hit !== undefined) {
      this.items.delete(key);
      this.items.set(key, hit);
      return hit;
    }
    const data = codec.encode({ t: 'msg', ch: channel, ev: entry.ev, d: entry.d, ep: epoch, off: entry.off });
    const size = sizeOf(data);
    if (size > this.maxBytes) return data;
    this.items.set(key, data);
    this.bytes += size;
    for (const [k, v] of this.items) {
      if (this.bytes <= this.maxBytes) break;
      this.items.delete(k);
      this.bytes -= sizeOf(v);
    }
    return data;
  }

  clear(): void {
    this.items.clear();
    this.bytes = 0;
  }
}
