// Where a channel lives in Redis. Every key of a channel carries the channel in a hash tag
// (`{channel}`), so a channel's keys share one cluster slot and its scripts stay single-slot.
import { createHash } from 'node:crypto';

export interface ChannelKeys {
  /** Hash `{ ep, off }`: the epoch and the newest offset. */
  meta: string;
  /** Stream of entries, id `<offset>-0`, fields `t` (time) and `p` (payload). */
  hist: string;
  /** Hash user -> info (MessagePack, '' for none) of the users present. */
  users: string;
  /** Hash user -> number of live connections. */
  counts: string;
  /** Sorted set of `<user byte length>:<user><connection>` scored by expiry time (ms). */
  conns: string;
  /** The pub/sub topic carrying messages and presence events. */
  topic: string;
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const base = `${prefix}{${channel}}`;
  return {
    meta: `${base}:m`,
    hist: `${base}:h`,
    users: `${base}:u`,
    counts: `${base}:n`,
    conns: `${base}:c`,
    topic: base,
  };
}

/**
 * The dedupe key of a message id in a channel. The id is hashed: it is client-chosen, and raw it
 * could spell another channel's key (`{a}:d:x}:m` is channel `a}:d:x`'s meta key).
 */
export function dedupeKey(prefix: string, channel: string, mid: string): string {
  return `${prefix}{${channel}}:d:${createHash('sha256').update(mid).digest('base64url')}`;
}

/** A presence member: the user's byte length first, so any user name and connection id can follow. */
export function presenceMember(user: string, connection: string): string {
  return `${Buffer.byteLength(user)}:${user}${connection}`;
}
