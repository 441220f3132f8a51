// Adapter for a single process: history, dedupe and presence in memory, every limit bounded.
import { randomBytes } from 'node:crypto';
import { ErrorCodes } from '../codec/messages.js';
import { payloadBytes } from '../codec/payload-limits.js';
import {
  type Adapter,
  type AdapterEvent,
  type ChannelEntry,
  type ChannelPosition,
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  DEFAULT_HISTORY_BYTES,
  DEFAULT_MAX_CHANNELS,
  type DedupeLimits,
  type HistoryByteLimits,
  type HistoryLimits,
  type HistoryResult,
  type PresenceChange,
  type PresenceListEntry,
  type PublishInput,
  type PublishResult,
} from './adapter.js';
import { RealtimeError } from './realtime-error.js';

interface ChannelState {
  epoch: string;
  offset: number;
  /** Oldest first; trimmed by count and bytes on publish and by age on publish and read. */
  entries: ChannelEntry[];
  /** Estimated bytes of `entries`. */
  bytes: number;
  listeners: Set<(event: AdapterEvent) => void>;
  /** user -> connections (with their presence state, if set), and the info of its first connection. */
  presence: Map<string, { connections: Map<string, { state?: unknown }>; info?: unknown }>;
  lastUsed: number;
}

export interface MemoryAdapterOptions {
  /** Bounds of each channel's history and of all history together (see each field). */
  history?: Partial<HistoryLimits & HistoryByteLimits>;
  /**
   * Channels held at once: those with subscribers or presence (live), and idle ones whose history
   * has not aged out. At the limit, the least recently used idle channel is forgotten with its
   * history to make room (a client recovering from it later gets `recovered: false`,
   * `epoch-changed`). Only when every channel is live does a publish or subscribe that needs a new
   * channel fail with `too-many-channels` (a `RealtimeError` marked `overloaded`; the client's
   * publish or subscribe rejects with that code). Default 100,000.
   */
  maxChannels?: number;
  dedupe?: Partial<DedupeLimits>;
  /** Clock in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
}

const newEpoch = () => randomBytes(6).toString('base64url');

/** Estimated bytes of an entry besides its payload (object, offsets, time, map slot). */
const ENTRY_OVERHEAD = 100;

export class MemoryAdapter implements Adapter {
  private readonly channels = new Map<string, ChannelState>();
  /** mid -> where it was published; insertion order is age order. */
  private readonly seen = new Map<string, { channel: string; epoch: string; offset: number; time: number }>();
  private readonly limits: HistoryLimits & HistoryByteLimits;
  private readonly dedupe: DedupeLimits;
  private readonly maxChannels: number;
  /** Every stored entry in publish order (so the process-wide oldest is first), and its size. */
  private readonly stored = new Map<ChannelEntry, { s: ChannelState; bytes: number }>();
  private totalBytes = 0;
  /**
   * Channels with no listener and no presence, least recently used first (a channel moves to the
   * end whenever it is used or goes idle): what the channel limit and the sweep forget first.
   */
  private readonly idle = new Map<string, ChannelState>();
  private readonly now: () => number;
  private closed = false;

  constructor(options: MemoryAdapterOptions = {}) {
    this.limits = { ...DEFAULT_HISTORY, ...DEFAULT_HISTORY_BYTES, ...options.history };
    this.dedupe = { ...DEFAULT_DEDUPE, ...options.dedupe };
    this.maxChannels = options.maxChannels ?? DEFAULT_MAX_CHANNELS;
    this.now = options.now ?? Date.now;
    for (const [name, v] of Object.entries({
      ...this.limits,
      ...this.dedupe,
      maxChannels: this.maxChannels,
    })) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`MemoryAdapter: ${name} must be a positive integer`);
    }
  }

  private state(channel: string): ChannelState {
    if (this.closed) throw new Error('MemoryAdapter is closed');
    let s = this.channels.get(channel);
    if (!s) {
      // Room is made by forgetting the least recently used idle channel, so a flood of new
      // channels costs other users old idle history at worst, never their new channels.
      const lru = this.channels.size >= this.maxChannels ? this.idle.keys().next() : undefined;
      if (lru && !lru.done) this.forget(lru.value);
      if (this.channels.size >= this.maxChannels) {
        throw new RealtimeError(
          ErrorCodes.TOO_MANY_CHANNELS,
          `the server holds its limit of ${this.maxChannels} channels, all in use; try again later`,
          { overloaded: true },
        );
      }
      s = {
        epoch: newEpoch(),
        offset: 0,
        entries: [],
        bytes: 0,
        listeners: new Set(),
        presence: new Map(),
        lastUsed: 0,
      };
      this.channels.set(channel, s);
    }
    s.lastUsed = this.now();
    this.markIdle(channel, s);
    return s;
  }

  /** Keeps `idle` in step with `s` after a use or a change of listeners or presence. */
  private markIdle(channel: string, s: ChannelState): void {
    this.idle.delete(channel);
    if (s.listeners.size === 0 && s.presence.size === 0) this.idle.set(channel, s);
  }

  /** Forgets an idle channel and its history. */
  private forget(channel: string): void {
    const s = this.idle.get(channel);
    if (!s) return;
    this.dropOldest(s, s.entries.length);
    this.idle.delete(channel);
    this.channels.delete(channel);
  }

  private trim(s: ChannelState): void {
    const cutoff = this.now() - this.limits.maxAgeMs;
    let drop = Math.max(0, s.entries.length - this.limits.maxMessages);
    while (drop < s.entries.length && s.entries[drop]!.time < cutoff) drop++;
    let bytes = s.bytes;
    for (let i = 0; i < drop; i++) bytes -= this.stored.get(s.entries[i]!)!.bytes;
    while (drop < s.entries.length && bytes > this.limits.maxBytesPerChannel) {
      bytes -= this.stored.get(s.entries[drop++]!)!.bytes;
    }
    this.dropOldest(s, drop);
  }

  /** Drops the `n` oldest entries of `s`, keeping the byte counts. */
  private dropOldest(s: ChannelState, n: number): void {
    if (n <= 0) return;
    for (let i = 0; i < n; i++) {
      const e = s.entries[i]!;
      const size = this.stored.get(e)!.bytes;
      s.bytes -= size;
      this.totalBytes -= size;
      this.stored.delete(e);
    }
    s.entries.splice(0, n);
  }

  /** Drops the process's oldest entries until all history fits in `maxBytesTotal`. */
  private trimTotal(): void {
    // Both orders are publish order and channels only lose their oldest entries, so the
    // process-wide oldest entry is always the oldest of its channel.
    for (const { s } of this.stored.values()) {
      if (this.totalBytes <= this.limits.maxBytesTotal) return;
      this.dropOldest(s, 1);
    }
  }

  private forgetOldIds(): void {
    const cutoff = this.now() - this.dedupe.maxAgeMs;
    for (const [mid, v] of this.seen) {
      if (this.seen.size <= this.dedupe.maxIds && v.time >= cutoff) break;
      this.seen.delete(mid);
    }
  }

  /**
   * Forgets idle channels unused for longer than history lasts (their history has aged out), so
   * names cannot pile up. `idle` is in order of last use: the walk stops at the first recent one.
   */
  private sweep(): void {
    const cutoff = this.now() - this.limits.maxAgeMs;
    for (const [name, s] of this.idle) {
      if (s.lastUsed >= cutoff) return;
      this.forget(name);
    }
  }

  /**
   * Forgets an idle channel (no subscriber, no presence) and its history now, as if it had never
   * been used; a channel in use is left alone. For channels that are over for good (the HTTP
   * fallback's session channels once the session is closed).
   */
  async deleteChannel(channel: string): Promise<void> {
    this.forget(channel);
  }

  /** Estimated bytes of all stored history, and the number of channels held (tests, metrics). */
  get stats(): { historyBytes: number; historyMessages: number; channels: number } {
    return { historyBytes: this.totalBytes, historyMessages: this.stored.size, channels: this.channels.size };
  }

  private publishCount = 0;

  async publish(channel: string, message: PublishInput): Promise<PublishResult> {
    const s = this.state(channel);
    if (message.mid !== undefined) {
      const prior = this.seen.get(message.mid);
      if (prior && prior.time >= this.now() - this.dedupe.maxAgeMs) {
        return { epoch: prior.epoch, offset: prior.offset, duplicate: true };
      }
    }
    s.offset++;
    const entry: ChannelEntry = { ...message, off: s.offset, time: this.now() };
    const bytes =
      payloadBytes(entry.d) +
      entry.ev.length +
      (entry.mid?.length ?? 0) +
      (entry.key?.length ?? 0) +
      (entry.except?.length ?? 0) +
      ENTRY_OVERHEAD;
    s.entries.push(entry);
    this.stored.set(entry, { s, bytes });
    s.bytes += bytes;
    this.totalBytes += bytes;
    this.trim(s);
    this.trimTotal();
    if (message.mid !== undefined) {
      this.seen.set(message.mid, { channel, epoch: s.epoch, offset: s.offset, time: entry.time });
      this.forgetOldIds();
    }
    if (++this.publishCount % 1024 === 0) this.sweep();
    const event: AdapterEvent = { type: 'message', channel, epoch: s.epoch, entry };
    for (const l of [...s.listeners]) l(event);
    return { epoch: s.epoch, offset: s.offset, duplicate: false };
  }

  async subscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    const s = this.state(channel);
    s.listeners.add(listener);
    this.idle.delete(channel);
  }

  async unsubscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    const s = this.channels.get(channel);
    if (s?.listeners.delete(listener)) {
      s.lastUsed = this.now();
      this.markIdle(channel, s);
    }
  }

  async position(channel: string): Promise<ChannelPosition> {
    const s = this.state(channel);
    return { epoch: s.epoch, offset: s.offset };
  }

  async history(channel: string, since: ChannelPosition): Promise<HistoryResult> {
    const s = this.state(channel);
    this.trim(s);
    const position = { epoch: s.epoch, offset: s.offset };
    if (since.epoch !== s.epoch) return { ok: false, reason: 'epoch-changed', position };
    if (since.offset > s.offset) return { ok: false, reason: 'ahead', position };
    if (since.offset === s.offset) return { ok: true, entries: [], position };
    const oldest = s.entries[0]?.off ?? s.offset + 1;
    if (since.offset + 1 < oldest) return { ok: false, reason: 'too-old', position };
    return { ok: true, entries: s.entries.slice(since.offset + 1 - oldest), position };
  }

  private emit(channel: string, event: AdapterEvent): void {
    for (const l of [...(this.channels.get(channel)?.listeners ?? [])]) l(event);
  }

  async presenceJoin(
    channel: string,
    user: string,
    connection: string,
    info?: unknown,
  ): Promise<PresenceChange> {
    const s = this.state(channel);
    let member = s.presence.get(user);
    const changed = member === undefined;
    if (!member) {
      member = { connections: new Map(), info };
      s.presence.set(user, member);
    }
    if (!member.connections.has(connection)) member.connections.set(connection, {});
    this.idle.delete(channel);
    if (changed) this.emit(channel, { type: 'join', channel, user, ...(info === undefined ? {} : { info }) });
    return { changed };
  }

  async presenceLeave(channel: string, user: string, connection: string): Promise<PresenceChange> {
    const s = this.channels.get(channel);
    const member = s?.presence.get(user);
    const conn = member?.connections.get(connection);
    if (!s || !member || !conn) return { changed: false };
    member.connections.delete(connection);
    if ('state' in conn) this.emit(channel, { type: 'update', channel, user, connection });
    if (member.connections.size > 0) return { changed: false };
    s.presence.delete(user);
    s.lastUsed = this.now();
    this.markIdle(channel, s);
    this.emit(channel, { type: 'leave', channel, user });
    return { changed: true };
  }

  async presenceUpdate(channel: string, user: string, connection: string, state: unknown): Promise<boolean> {
    const conn = this.channels.get(channel)?.presence.get(user)?.connections.get(connection);
    if (!conn) return false;
    conn.state = state;
    this.emit(channel, { type: 'update', channel, user, connection, state });
    return true;
  }

  async presenceList(channel: string): Promise<PresenceListEntry[]> {
    const s = this.channels.get(channel);
    if (!s) return [];
    return [...s.presence].map(([user, m]) => {
      const entry: PresenceListEntry = m.info === undefined ? { user } : { user, info: m.info };
      for (const [id, c] of m.connections) {
        if (!('state' in c)) continue;
        entry.states ??= {};
        entry.states[id] = c.state;
      }
      return entry;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.channels.clear();
    this.idle.clear();
    this.seen.clear();
    this.stored.clear();
    this.totalBytes = 0;
  }
}
