// Where a channel lives in NATS. Channel names are any string, while stream names and subject
// tokens allow few characters, so both use a hash of the channel's UTF-8 name.
import { createHash } from 'node:crypto';

export interface ChannelNames {
  channel: string;
  /** The channel's stream: `<prefix>_<hash>`. */
  stream: string;
  /** The stream's only subject, where messages are published: `<prefix>.m.<hash>`. */
  subject: string;
  /** Where the stream republishes each stored message, and presence changes go: `<prefix>.e.<hash>`. */
  events: string;
  /** Presence keys of the channel in the KV bucket start with this token. */
  presence: string;
}

/** 128 bits of SHA-256, base32-like lowercase hex: safe in stream names, subjects and KV keys. */
export const hashName = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);

export function channelNames(prefix: string, channel: string): ChannelNames {
  const h = hashName(channel);
  return {
    channel,
    stream: `${prefix}_${h}`,
    subject: `${prefix}.m.${h}`,
    events: `${prefix}.e.${h}`,
    presence: h,
  };
}

/** The presence bucket of all channels under `prefix`. */
export const presenceBucket = (prefix: string): string => `${prefix}_presence`;

/** Message ids (any string) as `Nats-Msg-Id` header values: no CR/LF, bounded length. */
export const msgIdHeader = (mid: string): string => createHash('sha256').update(mid).digest('base64url');
