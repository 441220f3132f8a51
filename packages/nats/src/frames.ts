// What NatsAdapter stores in a stream and sends on a channel's event subject. Payloads are
// MessagePack, not JSON: channel data can hold binary (`Uint8Array`) that JSON would turn into
// objects.
import type { ChannelEntry, PublishInput } from '@ieum/realtime/adapter';
import { decode, encode } from '@msgpack/msgpack';

/** The stored part of an entry: the offset is the stream sequence. `t`: publish time (ms). */
type Payload = Omit<ChannelEntry, 'off' | 'time'> & { t: number };

export function encodePayload(message: PublishInput, time: number): Uint8Array {
  const payload: Payload = { ev: message.ev, d: message.d, t: time };
  if (message.mid !== undefined) payload.mid = message.mid;
  if (message.except !== undefined) payload.except = message.except;
  if (message.key !== undefined) payload.key = message.key;
  return encode(payload, { ignoreUndefined: true });
}

export function decodeEntry(off: number, bytes: Uint8Array): ChannelEntry {
  const { t, ...rest } = decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as Payload;
  return { ...rest, off, time: t };
}

/** A presence change: msgpack `[user, info?]`. */
export function encodePresence(user: string, info?: unknown): Uint8Array {
  return encode(info === undefined ? [user] : [user, info], { ignoreUndefined: true });
}

export function decodePresence(bytes: Uint8Array): { user: string; info?: unknown } {
  const [user, info] = decode(bytes) as [string, unknown?];
  return info === undefined ? { user } : { user, info };
}

/** A connection's presence state change: msgpack `[user, connection, state?]` (no state: it left). */
export function encodePresenceUpdate(
  user: string,
  connection: string,
  state?: { state: unknown },
): Uint8Array {
  return encode(state === undefined ? [user, connection] : [user, connection, state.state], {
    ignoreUndefined: true,
  });
}

export function decodePresenceUpdate(bytes: Uint8Array): {
  user: string;
  connection: string;
  state?: unknown;
} {
  // A plain Uint8Array view: from a Buffer, binary values would come back as Buffers.
  const parts = decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as [
    string,
    string,
    unknown?,
  ];
  return parts.length < 3
    ? { user: parts[0], connection: parts[1] }
    : { user: parts[0], connection: parts[1], state: parts[2] };
}
