// RedisAdapter's options: names, units, defaults, and the checks that reject bad values early.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DEFAULT_DEDUPE, DEFAULT_HISTORY, type HistoryLimits } from '@ieum/realtime/adapter';
import { isWellFormed } from '@ieum/realtime/codec';
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';

export interface RedisAdapterOptions {
  /** Redis URL (`redis://`, `rediss://` for TLS). Default `process.env.REDIS_URL`, else `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prepended to every key and pub/sub topic; processes sharing channels use the same. Default `ieum:`. */
  keyPrefix?: string;
  /** History kept per channel: `maxMessages` (default 1,000) and `maxAgeMs` (default 300,000). */
  history?: Partial<HistoryLimits>;
  /** Milliseconds a message id is remembered, per channel. Default 600,000 (10 minutes). */
  dedupe?: { maxAgeMs?: number };
  /**
   * Milliseconds a presence connection stays listed without being refreshed. This process
   * refreshes its own every third of it, so the connections of a process that died disappear
   * (with a `leave` for users left with none) after at most this long plus a third. Default 30,000.
   */
  presenceTtlMs?: number;
  /**
   * Milliseconds an idle channel's epoch and offset are kept (refreshed by every publish and
   * read). After that the channel starts over under a new epoch: clients recovering from before
   * get `epoch-changed`. At least `history.maxAgeMs`. Default 86,400,000 (a day).
   */
  channelTtlMs?: number;
  /**
   * Milliseconds an operation waits for an unreachable Redis (at start, or while reconnecting)
   * before it rejects with `REDIS_ERR_UNAVAILABLE`. 0 rejects at once. Default 2,000.
   */
  unavailableTimeoutMs?: number;
  /** Names this process in `CLIENT LIST` (`ieum:<nodeId>:cmd` / `:sub`). Default host-pid-random. */
  nodeId?: string;
  /**
   * Extra ioredis options (TLS, credentials, `connectTimeout`...). The adapter sets its own
   * `enableOfflineQueue`, `maxRetriesPerRequest`, `autoResubscribe`,
   * `autoResendUnfulfilledCommands`, `protocol` and `connectionName`.
   */
  redisOptions?: RedisOptions;
  /**
   * Redis Cluster instead of one Redis: some of its nodes (`host:port` or `{ host, port }`); the
   * adapter learns the rest. `url` is then not used; `redisOptions` applies to every node
   * connection. Needs Redis >= 7 on every node (sharded pub/sub). See docs/scale-out.md.
   */
  cluster?: {
    nodes: ClusterNode[];
    /**
     * Extra ioredis Cluster options (`natMap`, `dnsLookup`, `slotsRefreshInterval`...). The adapter
     * sets `enableOfflineQueue`, `retryDelayOnFailover` (0: a command is never sent twice) and,
     * unless given, `slotsRefreshInterval` (1,000 ms: how soon subscriptions follow a failover).
     */
    options?: ClusterOptions;
  };
}

export interface ResolvedOptions {
  url: string;
  /** `url` with its password hidden, for messages. */
  safeUrl: string;
  keyPrefix: string;
  nodeId: string;
  history: HistoryLimits;
  dedupeMs: number;
  presenceTtlMs: number;
  channelTtlMs: number;
  unavailableTimeoutMs: number;
  redisOptions: RedisOptions;
  cluster: { nodes: ClusterNode[]; options: ClusterOptions } | undefined;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`RedisAdapter: ${name} must be a positive integer`);
  }
  return v;
}

function hidePassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

function cluster(given: RedisAdapterOptions['cluster']): ResolvedOptions['cluster'] {
  if (given === undefined) return undefined;
  if (!Array.isArray(given.nodes) || given.nodes.length === 0) {
    throw new RangeError('RedisAdapter: cluster.nodes must list at least one node (host:port)');
  }
  return { nodes: given.nodes, options: given.options ?? {} };
}

/** Fills in defaults; throws a RangeError naming the option when a value is unusable. */
export function resolveOptions(options: RedisAdapterOptions): ResolvedOptions {
  const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const history = {
    maxMessages: positiveInteger(
      'history.maxMessages',
      options.history?.maxMessages,
      DEFAULT_HISTORY.maxMessages,
    ),
    maxAgeMs: positiveInteger('history.maxAgeMs', options.history?.maxAgeMs, DEFAULT_HISTORY.maxAgeMs),
  };
  const channelTtlMs = positiveInteger('channelTtlMs', options.channelTtlMs, 86_400_000);
  if (channelTtlMs < history.maxAgeMs) {
    throw new RangeError('RedisAdapter: channelTtlMs must be at least history.maxAgeMs');
  }
  const unavailableTimeoutMs = options.unavailableTimeoutMs ?? 2000;
  if (!Number.isSafeInteger(unavailableTimeoutMs) || unavailableTimeoutMs < 0) {
    throw new RangeError('RedisAdapter: unavailableTimeoutMs must be a non-negative integer');
  }
  const keyPrefix = options.keyPrefix ?? 'ieum:';
  if (!isWellFormed(keyPrefix)) {
    throw new RangeError('RedisAdapter: keyPrefix must be well-formed UTF-16 (no lone surrogates)');
  }
  const nodeId = options.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return {
    url,
    safeUrl: options.cluster
      ? `the Redis Cluster at ${options.cluster.nodes.map((n) => (typeof n === 'object' ? `${n.host}:${n.port}` : n)).join(',')}`
      : hidePassword(url),
    keyPrefix,
    // CLIENT SETNAME takes no spaces.
    nodeId: nodeId.replace(/[^\w.:-]/g, '_'),
    history,
    dedupeMs: positiveInteger('dedupe.maxAgeMs', options.dedupe?.maxAgeMs, DEFAULT_DEDUPE.maxAgeMs),
    presenceTtlMs: positiveInteger('presenceTtlMs', options.presenceTtlMs, 30_000),
    channelTtlMs,
    unavailableTimeoutMs,
    redisOptions: options.redisOptions ?? {},
    cluster: cluster(options.cluster),
  };
}
