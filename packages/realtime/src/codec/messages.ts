// The ieum realtime wire protocol, version 1 (docs/realtime-protocol.md is the normative text).
// Every WebSocket message carries exactly one protocol message: an object whose `t` names its type.
// This module has no I/O and no Node or DOM dependency: the browser client uses it as is.

export const PROTOCOL_VERSION = 1;

/** Position in a channel's history: `off` is the offset of the last message, `ep` the history's epoch. */
export interface Position {
  ep: string;
  off: number;
}

/** An error carried by a failed reply. `code` is one of `ErrorCodes`. */
export interface ErrorBody {
  code: string;
  message: string;
}

export const ErrorCodes = {
  /** The request was malformed (wrong types, missing fields). */
  BAD_REQUEST: 'bad-request',
  /** The channel authorization hook refused. */
  FORBIDDEN: 'forbidden',
  /** Listing presence (`who`) of a channel this connection has not subscribed to. */
  NOT_SUBSCRIBED: 'not-subscribed',
  /** No handler for the event on the server. */
  UNKNOWN_EVENT: 'unknown-event',
  /** A handler threw; the message is not sent to the peer unless the error is a `RealtimeError`. */
  HANDLER_ERROR: 'handler-error',
  /** The peer did not reply within the timeout. */
  TIMEOUT: 'timeout',
  /** The connection closed before the reply arrived. */
  DISCONNECTED: 'disconnected',
  /** A published payload nests deeper than the server's `maxPayloadDepth`. */
  PAYLOAD_TOO_DEEP: 'payload-too-deep',
  /** A published payload is larger than the server's `maxPayloadBytes`. */
  PAYLOAD_TOO_LARGE: 'payload-too-large',
  /**
   * A published payload holds a value not every codec carries alike (NaN, a function, a bigint,
   * a typed array other than `Uint8Array`, an object whose only key is `$bin`...).
   */
  UNSUPPORTED_PAYLOAD: 'unsupported-payload',
  /** The connection already has `maxSubscriptionsPerConnection` subscriptions. */
  TOO_MANY_SUBSCRIPTIONS: 'too-many-subscriptions',
  /** The channel does not exist and the process already holds its limit of channels, all in use. */
  TOO_MANY_CHANNELS: 'too-many-channels',
  /** The connection started using new channels faster than the server's `channelRate` allows. */
  TOO_MANY_NEW_CHANNELS: 'too-many-new-channels',
  /** A `pub.mid` is longer than the server's `maxMessageIdLength`. */
  MESSAGE_ID_TOO_LONG: 'message-id-too-long',
  /** A presence state is larger than the server's `maxPresenceStateBytes`. */
  PRESENCE_STATE_TOO_LARGE: 'presence-state-too-large',
  /** Setting a presence state without a user (presence needs an authenticated connection). */
  NO_USER: 'no-user',
} as const;

/** Messages a client sends. */
export type ClientMessage =
  | { t: 'hello'; v: number; cid: string; token?: string }
  | { t: 'auth'; token: string }
  | { t: 'sub'; id: number; ch: string; since?: Position; presence?: boolean }
  | { t: 'unsub'; id: number; ch: string }
  | { t: 'pub'; id: number; ch: string; ev: string; d: unknown; mid: string; key?: string }
  | { t: 'emit'; id?: number; ev: string; d: unknown }
  | { t: 'who'; id: number; ch: string }
  /** Sets this connection's presence state in a channel it is subscribed to (latest value wins). */
  | { t: 'presence'; id: number; ch: string; d: unknown }
  | { t: 'res'; id: number; ok: boolean; d?: unknown; err?: ErrorBody }
  | { t: 'ping' }
  | { t: 'pong' };

/** One member of a channel's presence set: a user, however many connections it has. */
export interface PresenceMember {
  user: string;
  info?: unknown;
  /** connection id -> its presence state, for each of the user's connections that set one. */
  states?: Record<string, unknown>;
}

/** Messages a server sends. */
export type ServerMessage =
  | { t: 'welcome'; v: number; sid: string; hb: number; user?: string }
  | { t: 'res'; id: number; ok: boolean; d?: unknown; err?: ErrorBody }
  | {
      t: 'msg';
      ch: string;
      ev: string;
      d: unknown;
      ep: string;
      off: number;
      /** The publisher's message id, when a client published it (lets the publisher spot its own). */
      mid?: string;
    }
  | { t: 'emit'; id?: number; ev: string; d: unknown }
  | { t: 'join' | 'leave'; ch: string; user: string; info?: unknown }
  /** A connection's presence state changed; without `d` the connection left (its state is gone). */
  | { t: 'update'; ch: string; user: string; conn: string; d?: unknown }
  | { t: 'refresh' }
  | { t: 'ping' }
  | { t: 'pong' };

/** Reply to a `sub`: where the channel stands, and whether the missed messages follow. */
export interface SubscribeResult {
  ep: string;
  /** Offset of the channel's newest message when the subscription started. */
  off: number;
  /**
   * `true`: the messages after `since` follow, in order, before live ones. `false`: they are gone
   * (history trimmed or reset: see `reason`); refetch state. Absent when no `since` was given.
   */
  recovered?: boolean;
  reason?: 'epoch-changed' | 'too-old' | 'ahead';
  /** Presence members, when `presence: true` was asked. */
  members?: PresenceMember[];
}

/**
 * Largest channel, event, id and key names, in UTF-16 code units. Names must also be well-formed
 * UTF-16 (no lone surrogate), else the message is a protocol violation.
 */
export const MAX_NAME_LENGTH = 200;

/** Thrown by `parseClientMessage`/`parseServerMessage` for a message that breaks the protocol. */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
/** A lone UTF-16 surrogate (with the `u` flag, a paired one is a single code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Whether `s` is well-formed UTF-16 (no lone surrogate). Names become storage keys (Redis keys are
 * UTF-8, where every lone surrogate turns into U+FFFD): `a\uD800` and `a\uDFFF` would be one channel.
 */
export const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

/**
 * Whether `s` may be used as a name or id: well-formed and free of NUL. The server joins user,
 * client and message ids with NUL into one deduplication key, so a NUL inside one of them could
 * make two different triples one key (`x\0y` + `z` and `x` + `y\0z`).
 */
export const isValidName = (s: string): boolean => isWellFormed(s) && !s.includes('\u0000');

/** Fields of client messages that hold names (which become storage keys). */
const NAME_FIELDS = ['ch', 'ev', 'mid', 'key', 'cid'] as const;

/** A name or id: a non-empty string of at most `MAX_NAME_LENGTH` characters, `isValidName`. */
export const isName = (x: unknown): x is string =>
  typeof x === 'string' && x.length > 0 && x.length <= MAX_NAME_LENGTH && isValidName(x);
const isId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isOffset = isId;

function need(ok: boolean, what: string): void {
  if (!ok) throw new ProtocolViolation(what);
}

function checkPosition(p: unknown, field: string): void {
  need(isObject(p) && isName(p.ep) && isOffset(p.off), `${field} must be { ep: string, off: integer >= 0 }`);
}

function checkError(m: Record<string, unknown>): void {
  if (m.ok === false) {
    need(
      isObject(m.err) && typeof m.err.code === 'string' && typeof m.err.message === 'string',
      'a failed res needs err: { code, message }',
    );
  }
}

/** Validates a decoded client message; throws `ProtocolViolation` saying what is wrong. */
export function parseClientMessage(m: unknown): ClientMessage {
  need(isObject(m), 'a message must be an object');
  const o = m as Record<string, unknown>;
  for (const field of NAME_FIELDS) {
    const v = o[field];
    need(
      typeof v !== 'string' || isValidName(v),
      `${String(o.t)}.${field} must be well-formed UTF-16 (no lone surrogate) without NUL`,
    );
  }
  switch (o.t) {
    case 'hello':
      need(isId(o.v), 'hello.v must be the protocol version');
      need(isName(o.cid), 'hello.cid must be a non-empty string of at most 200 characters');
      need(o.token === undefined || typeof o.token === 'string', 'hello.token must be a string');
      break;
    case 'auth':
      need(typeof o.token === 'string', 'auth.token must be a string');
      break;
    case 'sub':
      need(isId(o.id) && isName(o.ch), 'sub needs id (integer) and ch (channel name)');
      if (o.since !== undefined) checkPosition(o.since, 'sub.since');
      need(o.presence === undefined || typeof o.presence === 'boolean', 'sub.presence must be boolean');
      break;
    case 'presence':
      need(isId(o.id) && isName(o.ch), 'presence needs id (integer) and ch (channel name)');
      need('d' in o, 'presence needs d (the state; null if none)');
      break;
    case 'unsub':
    case 'who':
      need(isId(o.id) && isName(o.ch), `${o.t} needs id (integer) and ch (channel name)`);
      break;
    case 'pub':
      need(isId(o.id) && isName(o.ch) && isName(o.ev), 'pub needs id, ch and ev');
      need(isName(o.mid), 'pub.mid (message id for deduplication) must be a non-empty string');
      need(o.key === undefined || isName(o.key), 'pub.key must be a non-empty string');
      need('d' in o, 'pub needs d (the payload; null if none)');
      break;
    case 'emit':
      need(isName(o.ev), 'emit needs ev (event name)');
      need(o.id === undefined || isId(o.id), 'emit.id must be an integer');
      need('d' in o, 'emit needs d (the payload; null if none)');
      break;
    case 'res':
      need(isId(o.id) && typeof o.ok === 'boolean', 'res needs id and ok');
      checkError(o);
      break;
    case 'ping':
    case 'pong':
      break;
    default:
      throw new ProtocolViolation(`unknown message type ${JSON.stringify(o.t)}`);
  }
  return o as unknown as ClientMessage;
}

/** Validates a decoded server message; throws `ProtocolViolation` saying what is wrong. */
export function parseServerMessage(m: unknown): ServerMessage {
  need(isObject(m), 'a message must be an object');
  const o = m as Record<string, unknown>;
  switch (o.t) {
    case 'welcome':
      need(isId(o.v) && isName(o.sid) && isId(o.hb), 'welcome needs v, sid and hb');
      break;
    case 'res':
      need(isId(o.id) && typeof o.ok === 'boolean', 'res needs id and ok');
      checkError(o);
      break;
    case 'msg':
      need(isName(o.ch) && isName(o.ev) && isName(o.ep) && isOffset(o.off), 'msg needs ch, ev, ep and off');
      break;
    case 'emit':
      need(isName(o.ev), 'emit needs ev');
      break;
    case 'join':
    case 'leave':
      need(isName(o.ch) && typeof o.user === 'string', `${o.t} needs ch and user`);
      break;
    case 'update':
      need(
        isName(o.ch) && typeof o.user === 'string' && typeof o.conn === 'string',
        'update needs ch, user and conn',
      );
      break;
    case 'refresh':
    case 'ping':
    case 'pong':
      break;
    default:
      throw new ProtocolViolation(`unknown message type ${JSON.stringify(o.t)}`);
  }
  return o as unknown as ServerMessage;
}
