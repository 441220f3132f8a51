// Where a channel lives in Redis. Every key of a channel carries the channel in a hash tag
// (`{channel}`), so a channel's keys share one cluster slot and its scripts stay single-slot.
import { createHash } from 'node:crypto';
import { isWellFormed } from '@ieum/realtime/codec';
import { RedisAdapterError, RedisAdapterErrorCode } from './errors.js';

/**
 * Throws `REDIS_ERR_INVALID_NAME` unless `value` is well-formed UTF-16. Redis keys and members are
 * bytes, and a string becomes UTF-8 on the way there: each lone surrogate turns into U+FFFD, so
 * `a\ud800`, `a\udfff` and `a\ufffd` would share one key (one channel, one user, one message id).
 */
export function checkName(kind: string, value: string): void {
  if (!isWellFormed(value)) {
    throw new RedisAdapterError(
      RedisAdapterErrorCode.INVALID_NAME,
      `RedisAdapter: the ${kind} ${JSON.stringify(value)} is not well-formed UTF-16 (it has a lone ` +
        'surrogate, which Redis would store as U+FFFD); refuse such names before they reach the adapter',
    );
  }
}

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
  /** Hash member -> presence state (MessagePack) of the connections that set one. */
  states: string;
  /** The pub/sub topic carrying messages and presence events. */
  topic: string;
}

/** Throws `REDIS_ERR_INVALID_NAME` for a channel name that is not well-formed UTF-16. */
export function channelKeys(prefix: string, channel: string): ChannelKeys {
  checkName('channel name', channel);
  const base = `${prefix}{${channel}}`;
  return {
    meta: `${base}:m`,
    hist: `${base}:h`,
    users: `${base}:u`,
    counts: `${base}:n`,
    conns: `${base}:c`,
    states: `${base}:s`,
    topic: base,
  };
}

/**
 * The dedupe key of a message id in a channel. The id is hashed: it is client-chosen, and raw it
 * could spell another channel's key (`{a}:d:x}:m` is channel `a}:d:x`'s meta key). Hashing its
 * UTF-8 would also merge ids that differ only in lone surrogates, so those are refused.
 */
export function dedupeKey(prefix: string, channel: string, mid: string): string {
  checkName('message id', mid);
  return `${prefix}{${channel}}:d:${createHash('sha256').update(mid).digest('base64url')}`;
}

/** A presence member: the user's byte length first, so any user name and connection id can follow. */
export function presenceMember(user: string, connection: string): string {
  checkName('user', user);
  checkName('connection id', connection);
  return `${Buffer.byteLength(user)}:${user}${connection}`;
}
