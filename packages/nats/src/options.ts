// NatsAdapter's options: names, units, defaults, and the checks that reject bad values early.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DEFAULT_DEDUPE, DEFAULT_HISTORY, type HistoryLimits } from '@ieum/realtime/adapter';
import type { ConnectionOptions } from 'nats';

export interface NatsAdapterOptions {
  /**
   * NATS server(s): `nats://host:port`, comma-separated for several. Default
   * `process.env.NATS_URL`, else `nats://127.0.0.1:4222`. JetStream must be enabled.
   */
  servers?: string;
  /**
   * Names every stream (`<prefix>_<hash>`), subject (`<prefix>.m.<hash>`…) and the presence KV
   * bucket (`<prefix>_presence`); processes sharing channels use the same. Letters, digits, `-`
   * and `_`. Default `ieum`.
   */
  prefix?: string;
  /**
   * History kept per channel (the stream's limits): `maxMessages` (default 1,000), `maxAgeMs`
   * (default 300,000) and `maxBytes` (default 4 MiB; past it the oldest messages go, as past
   * `maxMessages`).
   */
  history?: Partial<HistoryLimits & { maxBytes: number }>;
  /**
   * Milliseconds a message id is remembered, per channel: the stream's duplicate window. Default
   * 600,000 (10 minutes).
   */
  dedupe?: { maxAgeMs?: number };
  /**
   * Milliseconds a presence connection stays listed without being refreshed. This process
   * refreshes its own every third of it, so the connections of a process that died disappear
   * (with a `leave` for users left with none) after at most this long plus a third. Default 30,000.
   */
  presenceTtlMs?: number;
  /**
   * Milliseconds after its last publish an idle channel's stream is deleted, once its messages have
   * aged out (every process sweeps its prefix's streams every quarter of this, at most hourly). A
   * later use creates it again under a new epoch: clients recovering from before get
   * `epoch-changed`. At least `history.maxAgeMs` and `dedupe.maxAgeMs`. Default 86,400,000 (a day).
   */
  channelTtlMs?: number;
  /**
   * Milliseconds a JetStream request (a publish's acknowledgement, a stream lookup, a history read,
   * a presence update) waits, also while NATS is unreachable, before it rejects with
   * `NATS_ERR_UNAVAILABLE`. Default 5,000.
   */
  timeoutMs?: number;
  /** `file` (default: survives a NATS restart) or `memory` storage for the streams. */
  storage?: 'file' | 'memory';
  /** Stream replicas in a clustered JetStream (1 to 5). Default 1. */
  replicas?: number;
  /** Names this process's connection (`ieum:<nodeId>` in the server's `connz`). Default host-pid-random. */
  nodeId?: string;
  /**
   * Extra `nats` connection options (credentials, TLS, `reconnectTimeWait`…). The adapter sets
   * `servers`, `name` and `maxReconnectAttempts` (-1: forever; the first connection is retried
   * by the adapter until it succeeds or the adapter is closed).
   */
  natsOptions?: ConnectionOptions;
}

export interface ResolvedOptions {
  servers: string[];
  prefix: string;
  history: HistoryLimits & { maxBytes: number };
  dedupeMs: number;
  presenceTtlMs: number;
  channelTtlMs: number;
  timeoutMs: number;
  storage: 'file' | 'memory';
  replicas: number;
  nodeId: string;
  natsOptions: ConnectionOptions;
}

const positive = (name: string, v: number): number => {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`NatsAdapter: ${name} must be a positive integer`);
  return v;
};

/** Throws a RangeError naming the option for any unusable value. */
export function resolveOptions(o: NatsAdapterOptions): ResolvedOptions {
  const servers = (o.servers ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) throw new RangeError('NatsAdapter: servers must name at least one server');
  const prefix = o.prefix ?? 'ieum';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) {
    throw new RangeError('NatsAdapter: prefix must be 1-32 letters, digits, "-" or "_"');
  }
  const history = {
    maxMessages: positive('history.maxMessages', o.history?.maxMessages ?? DEFAULT_HISTORY.maxMessages),
    maxAgeMs: positive('history.maxAgeMs', o.history?.maxAgeMs ?? DEFAULT_HISTORY.maxAgeMs),
    maxBytes: positive('history.maxBytes', o.history?.maxBytes ?? 4 * 1024 * 1024),
  };
  const replicas = o.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new RangeError('NatsAdapter: replicas must be an integer from 1 to 5');
  }
  const storage = o.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory')
    throw new RangeError('NatsAdapter: storage must be "file" or "memory"');
  const dedupeMs = positive('dedupe.maxAgeMs', o.dedupe?.maxAgeMs ?? DEFAULT_DEDUPE.maxAgeMs);
  const channelTtlMs = positive('channelTtlMs', o.channelTtlMs ?? 86_400_000);
  if (channelTtlMs < Math.max(history.maxAgeMs, dedupeMs)) {
    throw new RangeError('NatsAdapter: channelTtlMs must be at least history.maxAgeMs and dedupe.maxAgeMs');
  }
  return {
    servers,
    prefix,
    history,
    dedupeMs,
    channelTtlMs,
    presenceTtlMs: positive('presenceTtlMs', o.presenceTtlMs ?? 30_000),
    timeoutMs: positive('timeoutMs', o.timeoutMs ?? 5000),
    storage,
    replicas,
    nodeId: o.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    natsOptions: o.natsOptions ?? {},
  };
}
