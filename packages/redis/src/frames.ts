// What RedisAdapter stores and sends through pub/sub. Payloads are MessagePack, not JSON: channel
// data can hold binary (`Uint8Array`, from MessagePack clients) that JSON would turn into objects.
import type { AdapterEvent, ChannelEntry, PublishInput } from '@ieum/realtime/adapter';
import { decode, encode } from '@msgpack/msgpack';

const MESSAGE = 0x6d; // 'm' epoch \n offset \n time \n payload
const JOIN = 0x6a; // 'j' msgpack [user, info?]
const LEAVE = 0x6c; // 'l' user (UTF-8)
const UPDATE = 0x75; // 'u' member byte length ':' member state? (msgpack; none: the connection left)
const COLON = 0x3a;
const NEWLINE = 0x0a;

type Payload = Omit<ChannelEntry, 'off' | 'time'>;

/** The stored part of an entry (the offset is the stream id, the time a field of its own). */
export function encodePayload(message: PublishInput): Buffer {
  const payload: Payload = { ev: message.ev, d: message.d };
  if (message.mid !== undefined) payload.mid = message.mid;
  if (message.except !== undefined) payload.except = message.except;
  if (message.key !== undefined) payload.key = message.key;
  // ignoreUndefined: an undefined property is left out, as JSON would.
  const bytes = encode(payload, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes from a plain Uint8Array view: from a Buffer, binary values would come back as Buffers. */
function unpack(bytes: Uint8Array): unknown {
  return decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

export function decodeEntry(off: number, time: number, payload: Uint8Array): ChannelEntry {
  return { ...(unpack(payload) as Payload), off, time };
}

/** A stream entry as XRANGE returns it: [id, [field, value, ...]] with fields t and p. */
export function decodeStreamEntry(raw: unknown): ChannelEntry {
  const [id, fields] = raw as [Buffer, Buffer[]];
  let time = 0;
  let payload: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    if (name === 't') time = Number(fields[i + 1]!.toString());
    else if (name === 'p') payload = fields[i + 1];
  }
  if (!payload) throw new Error(`RedisAdapter: history entry ${id.toString()} has no payload`);
  return decodeEntry(Number.parseInt(id.toString(), 10), time, payload);
}

export function encodeJoinFrame(user: string, info: unknown): Buffer {
  const body = encode(info === undefined ? [user] : [user, info], { ignoreUndefined: true });
  return Buffer.concat([Buffer.of(JOIN), body]);
}

export function encodeInfo(info: unknown): Buffer {
  if (info === undefined) return Buffer.alloc(0);
  const bytes = encode(info, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodeInfo(raw: Buffer): { info?: unknown } {
  return raw.length === 0 ? {} : { info: unpack(raw) };
}

/** A pub/sub frame as an AdapterEvent of `channel`; throws on a malformed frame. */
export function decodeFrame(channel: string, frame: Buffer): AdapterEvent {
  const type = frame[0];
  if (type === MESSAGE) {
    const a = frame.indexOf(NEWLINE, 1);
    const b = frame.indexOf(NEWLINE, a + 1);
    const c = frame.indexOf(NEWLINE, b + 1);
    if (a < 0 || b < 0 || c < 0) throw new Error('RedisAdapter: malformed message frame');
    const epoch = frame.toString('latin1', 1, a);
    const off = Number(frame.toString('latin1', a + 1, b));
    const time = Number(frame.toString('latin1', b + 1, c));
    return { type: 'message', channel, epoch, entry: decodeEntry(off, time, frame.subarray(c + 1)) };
  }
  if (type === JOIN) {
    const [user, ...rest] = unpack(frame.subarray(1)) as [string, unknown?];
    return rest.length === 0
      ? { type: 'join', channel, user }
      : { type: 'join', channel, user, info: rest[0] };
  }
  if (type === UPDATE) {
    const colon = frame.indexOf(COLON, 1);
    const n = Number(frame.toString('latin1', 1, colon));
    if (colon < 0 || !Number.isSafeInteger(n)) throw new Error('RedisAdapter: malformed update frame');
    const { user, connection } = parseMember(frame.subarray(colon + 1, colon + 1 + n));
    const rest = frame.subarray(colon + 1 + n);
    return rest.length === 0
      ? { type: 'update', channel, user, connection }
      : { type: 'update', channel, user, connection, state: decodeState(rest) };
  }
  if (type === LEAVE) return { type: 'leave', channel, user: frame.toString('utf8', 1) };
  throw new Error(`RedisAdapter: unknown frame type ${type}`);
}

/** A presence state, MessagePack (never empty: even `null` is one byte). */
export function encodeState(state: unknown): Buffer {
  const bytes = encode(state ?? null, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodeState(raw: Uint8Array): unknown {
  return unpack(raw);
}

/** A presence member (`<byte length of user>:<user><connection>`, see keys.ts) as its parts. */
export function parseMember(raw: Buffer): { user: string; connection: string } {
  const colon = raw.indexOf(COLON);
  const n = Number(raw.toString('latin1', 0, colon));
  if (colon < 0 || !Number.isSafeInteger(n)) throw new Error('RedisAdapter: malformed presence member');
  return {
    user: raw.toString('utf8', colon + 1, colon + 1 + n),
    connection: raw.toString('utf8', colon + 1 + n),
  };
}
