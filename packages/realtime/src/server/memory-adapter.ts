// Adapter for a single process: history, dedupe and presence in memory, every limit bounded.
import { randomBytes } from 'node:crypto';
import {
  type Adapter,
  type AdapterEvent,
  type ChannelEntry,
  type ChannelPosition,
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  type DedupeLimits,
  type HistoryLimits,
  type HistoryResult,
  type PresenceChange,
  type PublishInput,
  type PublishResult,
} from './adapter.js';

interface ChannelState {
  epoch: string;
  offset: number;
  /** Oldest first; trimmed by count on publish and by age on publish and read. */
  entries: ChannelEntry[];
  listeners: Set<(event: AdapterEvent) => void>;
  /** user -> connections, and the user's info from its first connection. */
  presence: Map<string, { connections: Set<string>; info?: unknown }>;
  lastUsed: number;
}

export interface MemoryAdapterOptions {
  history?: Partial<HistoryLimits>;
  dedupe?: Partial<DedupeLimits>;
  /** Clock in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
}

const newEpoch = () => randomBytes(6).toString('base64url');

export class MemoryAdapter implements Adapter {
  private readonly channels = new Map<string, ChannelState>();
  /** mid -> where it was published; insertion order is age order. */
  private readonly seen = new Map<string, { channel: string; epoch: string; offset: number; time: number }>();
  private readonly limits: HistoryLimits;
  private readonly dedupe: DedupeLimits;
  private readonly now: () => number;
  private closed = false;

  constructor(options: MemoryAdapterOptions = {}) {
    this.limits = { ...DEFAULT_HISTORY, ...options.history };
    this.dedupe = { ...DEFAULT_DEDUPE, ...options.dedupe };
    this.now = options.now ?? Date.now;
    for (const [name, v] of Object.entries({ ...this.limits, ...this.dedupe })) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`MemoryAdapter: ${name} must be a positive integer`);
    }
  }

  private state(channel: string): ChannelState {
    if (this.closed) throw new Error('MemoryAdapter is closed');
    let s = this.channels.get(channel);
    if (!s) {
      s = {
        epoch: newEpoch(),
        offset: 0,
        entries: [],
        listeners: new Set(),
        presence: new Map(),
        lastUsed: 0,
      };
      this.channels.set(channel, s);
    }
    s.lastUsed = this.now();
    return s;
  }

  private trim(s: ChannelState): void {
    const cutoff = this.now() - this.limits.maxAgeMs;
    let drop = Math.max(0, s.entries.length - this.limits.maxMessages);
    while (drop < s.entries.length && s.entries[drop]!.time < cutoff) drop++;
    if (drop > 0) s.entries.splice(0, drop);
  }

  private forgetOldIds(): void {
    const cutoff = this.now() - this.dedupe.maxAgeMs;
    for (const [mid, v] of this.seen) {
      if (this.seen.size <= this.dedupe.maxIds && v.time >= cutoff) break;
      this.seen.delete(mid);
    }
  }

  /** Drops channels nobody listens to whose history has aged out, so names cannot pile up. */
  private sweep(): void {
    const cutoff = this.now() - this.limits.maxAgeMs;
    for (const [name, s] of this.channels) {
      if (s.listeners.size === 0 && s.presence.size === 0 && s.lastUsed < cutoff) {
        this.trim(s);
        if (s.entries.length === 0) this.channels.delete(name);
      }
    }
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
    s.entries.push(entry);
    this.trim(s);
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
    this.state(channel).listeners.add(listener);
  }

  async unsubscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    this.channels.get(channel)?.listeners.delete(listener);
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
      member = { connections: new Set(), info };
      s.presence.set(user, member);
    }
    member.connections.add(connection);
    if (changed) this.emit(channel, { type: 'join', channel, user, ...(info === undefined ? {} : { info }) });
    return { changed };
  }

  async presenceLeave(channel: string, user: string, connection: string): Promise<PresenceChange> {
    const s = this.channels.get(channel);
    const member = s?.presence.get(user);
    if (!s || !member?.connections.delete(connection)) return { changed: false };
    if (member.connections.size > 0) return { changed: false };
    s.presence.delete(user);
    this.emit(channel, { type: 'leave', channel, user });
    return { changed: true };
  }

  async presenceList(channel: string): Promise<Array<{ user: string; info?: unknown }>> {
    const s = this.channels.get(channel);
    if (!s) return [];
    return [...s.presence].map(([user, m]) => (m.info === undefined ? { user } : { user, info: m.info }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.channels.clear();
    this.seen.clear();
  }
}
