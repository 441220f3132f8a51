// One JetStream stream per channel: offsets are the stream's sequences (one subject per stream, so
// 1, 2, 3… without gaps), the epoch comes from the stream's creation time (a deleted or lost
// stream comes back with a new one), dedupe is the stream's duplicate window over `Nats-Msg-Id`,
// and the stream republishes every stored message, with its sequence, to the channel's event
// subject for live delivery. Streams are created on first use.
import { createHash } from 'node:crypto';
import type {
  ChannelEntry,
  ChannelPosition,
  HistoryResult,
  PublishInput,
  PublishResult,
} from '@ieum/realtime/adapter';
import {
  DeliverPolicy,
  DiscardPolicy,
  headers,
  type JetStreamClient,
  type JetStreamManager,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { decodeEntry, encodePayload } from './frames.js';
import { type ChannelNames, msgIdHeader } from './names.js';
import type { ResolvedOptions } from './options.js';

/** A history read, where a `too-old` result also carries the entries that are left. */
export type CatchUpHistory = HistoryResult | (HistoryResult & { ok: false; remainder: ChannelEntry[] });

interface StreamState {
  epoch: string;
  first: number;
  last: number;
}

/** JetStream's error codes that mean "no room": storage full, stream/account limits. */
const NO_ROOM = new Set([10023, 10027, 10028, 10047, 10077]);
/** Epochs remembered (the channels this process used most recently); older ones are looked up again. */
const MAX_CACHED_EPOCHS = 10_000;
/** "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** The epoch of a stream: a short digest of its creation time (nanoseconds, server clock). */
export const streamEpoch = (info: StreamInfo): string =>
  createHash('sha256').update(`${info.config.name}\n${info.created}`).digest('base64url').slice(0, 12);

export const apiCode = (error: unknown): number | undefined =>
  (error as { api_error?: { err_code?: number } })?.api_error?.err_code;

export class ChannelStreams {
  /** Epochs of streams this process has seen, by stream name (dropped on deletion advisories). */
  private readonly epochs = new Map<string, string>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly options: ResolvedOptions,
  ) {}

  /** The stream's configuration, from the adapter's limits. */
  config(n: ChannelNames): Partial<StreamConfig> {
    const { history, dedupeMs, storage, replicas } = this.options;
    return {
      name: n.stream,
      description: `ieum channel ${JSON.stringify(n.channel).slice(0, 200)}`,
      subjects: [n.subject],
      retention: RetentionPolicy.Limits,
      storage: storage === 'file' ? StorageType.File : StorageType.Memory,
      num_replicas: replicas,
      max_msgs: history.maxMessages,
      max_bytes: history.maxBytes,
      // JetStream refuses a duplicate window longer than max_age: messages stay as long as either
      // needs; history reads hide those older than history.maxAgeMs.
      max_age: nanos(Math.max(history.maxAgeMs, dedupeMs)),
      duplicate_window: nanos(dedupeMs),
      discard: DiscardPolicy.Old,
      republish: { src: n.subject, dest: n.events },
    };
  }

  /** Forgets a stream's cached epoch (it was deleted or recreated, or the connection dropped). */
  forget(stream?: string): void {
    if (stream === undefined) this.epochs.clear();
    else this.epochs.delete(stream);
  }

  /** The stream's state, creating the stream when it does not exist. */
  async state(n: ChannelNames): Promise<StreamState> {
    let info: StreamInfo;
    try {
      info = await this.jsm.streams.info(n.stream);
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
      info = await this.create(n);
    }
    const epoch = streamEpoch(info);
    this.epochs.delete(n.stream);
    this.epochs.set(n.stream, epoch);
    if (this.epochs.size > MAX_CACHED_EPOCHS) this.epochs.delete(this.epochs.keys().next().value!);
    return {
      epoch,
      first: info.state.messages === 0 ? info.state.last_seq + 1 : info.state.first_seq,
      last: info.state.last_seq,
    };
  }

  private async create(n: ChannelNames): Promise<StreamInfo> {
    try {
      return await this.jsm.streams.add(this.config(n));
    } catch (error) {
      // Another process created it first (with other limits): use theirs.
      if (apiCode(error) === 10058) return this.jsm.streams.info(n.stream);
      throw error;
    }
  }

  async position(n: ChannelNames): Promise<ChannelPosition> {
    const s = await this.state(n);
    return { epoch: s.epoch, offset: s.last };
  }

  async publish(n: ChannelNames, message: PublishInput): Promise<PublishResult> {
    const data = encodePayload(message, Date.now());
    const h = message.mid === undefined ? undefined : headers();
    if (message.mid !== undefined) h!.set('Nats-Msg-Id', msgIdHeader(message.mid));
    const send = () =>
      this.js.publish(n.subject, data, {
        timeout: this.options.timeoutMs,
        expect: { streamName: n.stream },
        ...(h ? { headers: h } : {}),
      });
    let epoch = this.epochs.get(n.stream);
    if (epoch === undefined) epoch = (await this.state(n)).epoch;
    let ack: Awaited<ReturnType<typeof send>>;
    try {
      ack = await send();
    } catch (error) {
      // No stream listens on the subject (deleted, or NATS restarted without its store): nothing
      // was stored, so create it and send once more.
      if (!/no responders|503/.test(String((error as Error).message))) throw error;
      this.forget(n.stream);
      epoch = (await this.state(n)).epoch;
      ack = await send();
    }
    return { epoch, offset: ack.seq, duplicate: ack.duplicate };
  }

  /**
   * The messages after `since`, or why they cannot be had. With `remainder`, a `too-old` result
   * also carries the entries still in history.
   */
  async history(n: ChannelNames, since: ChannelPosition, remainder = false): Promise<CatchUpHistory> {
    const s = await this.state(n);
    const position = { epoch: s.epoch, offset: s.last };
    if (since.epoch !== s.epoch) return { ok: false, reason: 'epoch-changed', position };
    if (since.offset > s.last) return { ok: false, reason: 'ahead', position };
    if (since.offset === s.last) return { ok: true, entries: [], position };
    const from = Math.max(since.offset + 1, s.first);
    let entries = await this.read(n, from, s.last);
    // Messages older than history.maxAgeMs are kept only for the duplicate window: hidden here.
    const cutoff = Date.now() - this.options.history.maxAgeMs;
    const fresh = entries.findIndex((e) => e.time >= cutoff);
    entries = fresh < 0 ? [] : entries.slice(fresh);
    const oldest = entries[0]?.off ?? s.last + 1;
    if (since.offset + 1 < oldest) {
      return remainder
        ? { ok: false, reason: 'too-old', position, remainder: entries }
        : { ok: false, reason: 'too-old', position };
    }
    return { ok: true, entries, position };
  }

  /** Reads sequences `from`..`to` with an ordered consumer (created for the read, then deleted). */
  private async read(n: ChannelNames, from: number, to: number): Promise<ChannelEntry[]> {
    const entries: ChannelEntry[] = [];
    const consumer = await this.js.consumers.get(n.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    try {
      let next = from;
      while (next <= to) {
        const batch = await consumer.fetch({
          max_messages: Math.min(to - next + 1, 1000),
          expires: this.options.timeoutMs,
        });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq > to) break;
          entries.push(decodeEntry(m.seq, m.data));
          next = m.seq + 1;
          if (next > to) break;
        }
        // Nothing came within the timeout: the rest was trimmed while we read.
        if (got === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => {});
    }
    return entries;
  }

  /**
   * Deletes the streams under our prefix that hold no message (all aged out) and were last
   * published to (or created) more than `channelTtlMs` ago. Returns how many went.
   */
  async sweepIdle(): Promise<number> {
    const cutoff = Date.now() - this.options.channelTtlMs;
    const idle: string[] = [];
    for await (const si of this.jsm.streams.list(`${this.options.prefix}.m.>`)) {
      if (!si.config.name.startsWith(`${this.options.prefix}_`) || si.state.messages > 0) continue;
      const last = Math.max(Date.parse(si.created), Date.parse(si.state.last_ts) || 0);
      if (last < cutoff) idle.push(si.config.name);
    }
    let deleted = 0;
    for (const name of idle) {
      this.forget(name);
      if (await this.jsm.streams.delete(name).catch(() => false)) deleted++;
    }
    return deleted;
  }

  /** Deletes the channel's stream; a later use creates it again under a new epoch. */
  async delete(n: ChannelNames): Promise<void> {
    this.forget(n.stream);
    try {
      await this.jsm.streams.delete(n.stream);
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
    }
  }
}

export { NO_ROOM, STREAM_NOT_FOUND };
