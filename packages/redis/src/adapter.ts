// RedisAdapter: the realtime Adapter over Redis, so several server processes share channels
// (history, offsets, epochs), fan-out, message-id dedupe and presence. Each state change is one
// Lua script (scripts.ts); delivery goes through one pub/sub connection (subscriptions.ts);
// presence upkeep is presence.ts. This file owns the two connections and their health.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type {
  Adapter,
  AdapterEvent,
  ChannelPosition,
  HistoryResult,
  PresenceChange,
  PresenceListEntry,
  PublishInput,
  PublishResult,
} from '@ieum/realtime/adapter';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ClusterShards } from './cluster-shards.js';
import { RedisAdapterError, RedisAdapterErrorCode } from './errors.js';
import { decodeStreamEntry, encodePayload } from './frames.js';
import { type ChannelKeys, channelKeys, dedupeKey } from './keys.js';
import { type RedisAdapterOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Presence } from './presence.js';
import { defineScripts, type ScriptCommands } from './scripts.js';
import { type CatchUpHistory, Subscriptions } from './subscriptions.js';

/** `connecting` until both connections are up the first time; `reconnecting` while one is down. */
export type RedisAdapterStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface RedisAdapter {
  /** Both connections are up for the first time. */
  on(event: 'ready', listener: () => void): this;
  /** A connection to Redis was lost; operations wait `unavailableTimeoutMs`, then reject. */
  on(event: 'disconnect', listener: () => void): this;
  /** Both connections are back; subscriptions are restored and missed messages fetched. */
  on(event: 'reconnect', listener: () => void): this;
  /**
   * Connection errors (every failed attempt), background failures (presence upkeep, catch-up)
   * and `REDIS_ERR_MESSAGES_LOST`. Without a listener they are not thrown: the adapter keeps going.
   */
  on(event: 'error', listener: (error: Error) => void): this;
}

/** A command connection: one Redis, or a Redis Cluster. */
type Connection = (Redis | Cluster) & ScriptCommands;

const newEpoch = () => randomBytes(6).toString('base64url');

/** What ioredis says when a command cannot reach Redis or the connection died under it. */
const CONNECTION_ERRORS =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest/;
/** Redis's refusal at maxmemory ("OOM command not allowed when used memory > 'maxmemory'"). */
const OUT_OF_MEMORY = /^OOM |\bOOM command not allowed/;

/**
 * The realtime `Adapter` over Redis: every process with a RedisAdapter on the same Redis and
 * `keyPrefix` shares channels, fan-out, dedupe and presence. See docs/scale-out.md.
 *
 * Operations reject with `RedisAdapterError` `REDIS_ERR_UNAVAILABLE` when Redis stays unreachable
 * for `unavailableTimeoutMs`, and with `REDIS_ERR_CLOSED` after `close()`.
 */
export class RedisAdapter extends EventEmitter implements Adapter {
  /** The URL connected to, password hidden. */
  readonly url: string;
  readonly keyPrefix: string;
  readonly nodeId: string;
  private readonly options: ResolvedOptions;
  private readonly cmd: Connection;
  /** The subscriber connection; undefined on Redis Cluster, which has one per shard (`shards`). */
  private readonly sub: (Redis & ScriptCommands) | undefined;
  private readonly shards: ClusterShards | undefined;
  private readonly subscriptions: Subscriptions;
  private readonly presence: Presence;
  private readonly waiters = new Set<{
    resolve: () => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }>();
  private cmdUp = false;
  private subUp = false;
  /** Sharded pub/sub (Redis >= 7); known once the command connection has asked. */
  private sharded: boolean | undefined;
  private everReady = false;
  /** Subscriber connections made so far, and the one whose subscriptions are in place. */
  private subConnections = 0;
  private subscribedConnection = 0;
  private closing: Promise<void> | undefined;
  /** The run id of the Redis process each connection is connected to; '' when not known. */
  private readonly runIds = new Map<Connection | Redis, string>();
  private currentStatus: RedisAdapterStatus = 'connecting';

  /** Connects at once (two connections); throws a RangeError for an unusable option. */
  constructor(options: RedisAdapterOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.url = this.options.safeUrl;
    this.keyPrefix = this.options.keyPrefix;
    this.nodeId = this.options.nodeId;
    const nodeOptions = (role: string): RedisOptions => ({
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** (attempt - 1), 2000) + Math.random() * 100,
      ...this.options.redisOptions,
      connectionName: `ieum:${this.nodeId}:${role}`,
      // Never queue while disconnected, never resend after a reconnect: an operation either
      // reaches Redis now or rejects (a resent publish could be applied twice).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Subscriptions are restored by Subscriptions.resubscribe, which then fetches what was
      // missed. RESP3 lets the subscriber connection run scripts between its pub/sub frames.
      autoResubscribe: false,
      protocol: 3,
    });
    const cluster = this.options.cluster;
    this.cmd = defineScripts(
      cluster
        ? new Cluster(cluster.nodes, {
            slotsRefreshInterval: 1000,
            ...cluster.options,
            // ioredis keeps its own retryStrategy (none: the slot map decides) and offline queue
            // (a node connects on first use) for node connections; the rest applies.
            redisOptions: nodeOptions('cmd'),
            // With the queue off, ioredis refuses ("Connection is closed.") any command for a node
            // whose connection is still being set up, such as a replica just promoted by a
            // failover, and nothing retries it. Queued commands were never sent: sending them
            // once the node is up applies them once. The adapter only hands commands over while
            // the cluster is ready (see online()), so the queue holds the node set-up time.
            enableOfflineQueue: true,
            // ioredis would send a command again after "Connection is closed": a publish that
            // may have been applied must come back to the caller instead (it retries with its id).
            retryDelayOnFailover: 0,
          })
        : new Redis(this.options.url, nodeOptions('cmd')),
    ) as Connection;
    const sharded = () => this.sharded ?? false;
    const report = (error: Error) => this.report(error);
    this.subscriptions = new Subscriptions({
      route: (keys) => (this.shards ? this.shards.route(keys) : this.sub!),
      prefix: this.keyPrefix,
      sharded,
      online: () => this.online('subscribe'),
      position: (c, keys) =>
        this.readPosition(c as Redis & ScriptCommands, keys).catch((error: unknown) => {
          throw this.refusal('subscribe', error);
        }),
      history: (c, keys, since, remainder) =>
        this.readHistory(c as Redis & ScriptCommands, keys, since, remainder),
      report,
      rerouteSoon: () => (this.cmd as Cluster).refreshSlotsCache?.(),
    });
    if (cluster) {
      this.sub = undefined;
      this.shards = new ClusterShards({
        cluster: this.cmd as Cluster,
        connect: (host, port, stopped) =>
          defineScripts(
            new Redis({
              ...nodeOptions('sub'),
              retryStrategy: (attempt: number) =>
                stopped() ? null : Math.min(100 * 2 ** (attempt - 1), 2000) + Math.random() * 100,
              host,
              port,
              // A subscribe or catch-up sent while the shard connects waits for it (these are
              // reads and subscriptions, safe to send late); MaxRetriesPerRequest still fails
              // them if the connection attempt fails.
              enableOfflineQueue: true,
            }),
          ),
        created: (c) => this.subscriptions.listen(c),
        resubscribe: (c) => {
          const moved = (on: Redis | undefined, keys: ChannelKeys, stalled: boolean) =>
            c ? on === c : stalled || (on !== undefined && this.shards!.route(keys) !== on);
          this.subscriptions.resubscribe(moved).catch(report);
        },
        report,
      });
    } else {
      this.shards = undefined;
      this.sub = defineScripts(new Redis(this.options.url, nodeOptions('sub')));
      this.subscriptions.listen(this.sub);
    }
    this.presence = new Presence({
      connection: this.cmd,
      prefix: this.keyPrefix,
      ttlMs: this.options.presenceTtlMs,
      sharded,
      run: (what, op) => this.run(what, op),
      up: () => this.currentStatus === 'ready',
      listened: () => this.subscriptions.channels(),
      report,
    });

    // Each connection learns which Redis process it reached (the scripts' fencing hint, see
    // scripts.ts) before it is used, and forgets it when it drops. A cluster's command connection
    // reaches several processes: its scripts find the run id themselves (hint '').
    const learn = (c: Connection, then: (info: string) => void) => {
      c.info('server')
        .then((info) => {
          this.runIds.set(c, cluster && c === this.cmd ? '' : (/run_id:(\w+)/.exec(String(info))?.[1] ?? ''));
          then(String(info));
        })
        .catch(report);
    };
    this.cmd.on('ready', () =>
      learn(this.cmd, (info) => {
        // SPUBLISH/SSUBSCRIBE (sharded pub/sub) exist from Redis 7.
        const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
        this.sharded = major >= 7;
        this.cmdUp = true;
        this.update();
      }),
    );
    this.cmd.on('close', () => {
      this.runIds.set(this.cmd, '');
      this.cmdUp = false;
      this.update();
    });
    this.cmd.on('error', report);
    const sub = this.sub;
    if (sub) {
      sub.on('ready', () =>
        learn(sub, () => {
          this.subUp = true;
          this.subConnections++;
          this.update();
        }),
      );
      sub.on('close', () => {
        this.runIds.set(sub, '');
        this.subUp = false;
        this.update();
      });
      sub.on('error', report);
    } else {
      // Shard connections come and go with the slot map; each restores its own topics.
      this.subUp = true;
    }
  }

  /** Connection health; see the `ready`, `disconnect` and `reconnect` events. */
  get status(): RedisAdapterStatus {
    return this.currentStatus;
  }

  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private update(): void {
    if (this.currentStatus === 'closed') return;
    const up = this.cmdUp && this.subUp && this.sharded !== undefined;
    if (up && this.currentStatus !== 'ready') {
      const first = !this.everReady;
      this.everReady = true;
      this.currentStatus = 'ready';
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.resolve();
      }
      this.waiters.clear();
      // A new subscriber connection has none of our subscriptions (the first one gets them as
      // they are made; a dropped command connection alone leaves them in place).
      if (!first && this.sub && this.subConnections !== this.subscribedConnection) {
        this.subscriptions.resubscribe().catch((error: Error) => this.report(error));
      }
      this.subscribedConnection = this.subConnections;
      this.emit(first ? 'ready' : 'reconnect');
    } else if (!up && this.currentStatus === 'ready') {
      this.currentStatus = 'reconnecting';
      this.emit('disconnect');
    }
  }

  private unavailable(what: string, cause?: unknown): RedisAdapterError {
    return new RedisAdapterError(
      RedisAdapterErrorCode.UNAVAILABLE,
      `RedisAdapter: Redis is unreachable at ${this.url} (${what} not done; retry later)`,
      { cause },
    );
  }

  /** Resolves when both connections are up; waits at most `unavailableTimeoutMs`. */
  private online(what: string): Promise<void> {
    if (this.currentStatus === 'closed') {
      return Promise.reject(
        new RedisAdapterError(RedisAdapterErrorCode.CLOSED, `RedisAdapter is closed (${what} refused)`),
      );
    }
    if (this.currentStatus === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.unavailable(what));
        }, this.options.unavailableTimeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Redis's out-of-memory refusal as REDIS_ERR_OUT_OF_MEMORY; any other error unchanged. */
  private refusal(what: string, error: unknown): unknown {
    if (!OUT_OF_MEMORY.test(String((error as Error).message ?? error))) return error;
    return new RedisAdapterError(
      RedisAdapterErrorCode.OUT_OF_MEMORY,
      `RedisAdapter: Redis at ${this.url} is out of memory (maxmemory): ${what} refused, nothing ` +
        'written (retry later; free memory or raise maxmemory)',
      { cause: error },
    );
  }

  /** Runs `op` once Redis is reachable; a connection lost on the way becomes REDIS_ERR_UNAVAILABLE. */
  private async run<T>(
    what: string,
    op: () => Promise<T>,
    lostMessage?: string,
    idempotent = false,
  ): Promise<T> {
    await this.online(what);
    try {
      return await op();
    } catch (error) {
      if (!CONNECTION_ERRORS.test(String((error as Error).message ?? error))) {
        throw this.refusal(what, error);
      }
      if (this.shards) {
        // A cluster node went away (a failover?): learn the slot map now, so the next command
        // (a client's retry) goes to the new owner; an idempotent read is sent there once more.
        const refreshed = await this.refreshSlots();
        if (refreshed && idempotent) return this.run(what, op, lostMessage, false);
      }
      if (lostMessage) {
        throw new RedisAdapterError(RedisAdapterErrorCode.UNAVAILABLE, lostMessage, { cause: error });
      }
      throw this.unavailable(what, error);
    }
  }

  /** Refreshes the cluster's slot map; false when it failed or took over `unavailableTimeoutMs`. */
  private refreshSlots(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), this.options.unavailableTimeoutMs);
      (this.cmd as Cluster).refreshSlotsCache((error) => {
        clearTimeout(timer);
        resolve(!error);
      });
    });
  }

  private keys(channel: string): ChannelKeys {
    return channelKeys(this.keyPrefix, channel);
  }

  async publish(channel: string, message: PublishInput): Promise<PublishResult> {
    const k = this.keys(channel);
    const { history, dedupeMs, channelTtlMs } = this.options;
    const hasId = message.mid !== undefined;
    const dedupe = hasId ? dedupeKey(this.keyPrefix, channel, message.mid!) : k.meta; // unused without an id
    const reply = (await this.run(
      `publish to "${channel}"`,
      () =>
        this.cmd.ieumPublish(
          k.meta,
          k.hist,
          dedupe,
          newEpoch(),
          encodePayload(message),
          history.maxMessages,
          history.maxAgeMs,
          channelTtlMs,
          hasId ? dedupeMs : 0,
          k.topic,
          this.sharded ? '1' : '0',
          this.runIds.get(this.cmd) ?? '',
        ),
      `RedisAdapter: the connection to Redis at ${this.url} was lost during a publish to "${channel}"; ` +
        'it may or may not have been stored (a retry with the same message id is applied once)',
    )) as [string, number, number];
    return { epoch: reply[0], offset: reply[1], duplicate: reply[2] === 1 };
  }

  subscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    return this.subscriptions.add(channel, listener);
  }

  unsubscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    return this.subscriptions.remove(channel, listener);
  }

  private async readPosition(c: Connection, k: ChannelKeys): Promise<ChannelPosition> {
    const reply = (await c.ieumPosition(
      k.meta,
      k.hist,
      newEpoch(),
      this.options.channelTtlMs,
      this.runIds.get(c) ?? '',
    )) as [string, number];
    return { epoch: reply[0], offset: reply[1] };
  }

  /** With `remainder`, a `too-old` result also carries the entries that are left. */
  private async readHistory(
    c: Connection,
    k: ChannelKeys,
    since: ChannelPosition,
    remainder = false,
  ): Promise<CatchUpHistory> {
    const reply = (await c.ieumHistoryBuffer(
      k.meta,
      k.hist,
      newEpoch(),
      this.options.channelTtlMs,
      since.epoch,
      since.offset,
      this.options.history.maxAgeMs,
      this.runIds.get(c) ?? '',
      remainder ? '1' : '0',
    )) as [Buffer, number, Buffer, unknown[]?];
    const position = { epoch: reply[0].toString(), offset: reply[1] };
    const status = reply[2].toString();
    if (status === 'ok') return { ok: true, entries: (reply[3] ?? []).map(decodeStreamEntry), position };
    const reason = status as 'epoch-changed' | 'too-old' | 'ahead';
    if (reply[3]) return { ok: false, reason, position, remainder: reply[3].map(decodeStreamEntry) };
    return { ok: false, reason, position };
  }

  async position(channel: string): Promise<ChannelPosition> {
    const k = this.keys(channel);
    return this.run(`position of "${channel}"`, () => this.readPosition(this.cmd, k), undefined, true);
  }

  async history(channel: string, since: ChannelPosition): Promise<HistoryResult> {
    const k = this.keys(channel);
    return this.run(`history of "${channel}"`, () => this.readHistory(this.cmd, k, since), undefined, true);
  }

  presenceJoin(channel: string, user: string, connection: string, info?: unknown): Promise<PresenceChange> {
    return this.presence.join(channel, user, connection, info);
  }

  presenceLeave(channel: string, user: string, connection: string): Promise<PresenceChange> {
    return this.presence.leave(channel, user, connection);
  }

  presenceUpdate(channel: string, user: string, connection: string, state: unknown): Promise<boolean> {
    return this.presence.update(channel, user, connection, state);
  }

  presenceList(channel: string): Promise<PresenceListEntry[]> {
    return this.presence.list(channel);
  }

  /**
   * Deletes the channel's history and position now (its keys), unless this process listens to
   * it; a later use starts it over under a new epoch. The HTTP fallback calls it for a session's
   * channels once the session is over, so they do not stay for `channelTtlMs`. `DEL` is allowed
   * at maxmemory: it frees memory.
   */
  async deleteChannel(channel: string): Promise<void> {
    if (this.subscriptions.has(channel)) return;
    const k = this.keys(channel);
    await this.run(`delete of "${channel}"`, () => this.cmd.del(k.meta, k.hist));
  }

  private stop(): void {
    this.currentStatus = 'closed';
    this.presence.stop();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new RedisAdapterError(RedisAdapterErrorCode.CLOSED, 'RedisAdapter is closed'));
    }
    this.waiters.clear();
    this.subscriptions.clear();
  }

  /**
   * Removes this process's presence connections (their users get `leave` now rather than after
   * presenceTtlMs), then quits both connections. Operations afterwards reject with REDIS_ERR_CLOSED.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.currentStatus === 'ready') await this.presence.leaveAll();
      this.stop();
      if (this.sub) {
        await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
        this.sub.disconnect();
      } else {
        await Promise.allSettled([this.cmd.quit(), this.shards?.close()]);
      }
      this.cmd.disconnect();
    })();
    return this.closing;
  }

  /**
   * @internal Drops both connections without any cleanup, as a crashed process would: its
   * presence stays in Redis until presenceTtlMs passes. For tests.
   */
  disconnectForTest(): void {
    this.stop();
    this.closing = Promise.resolve();
    this.cmd.disconnect();
    this.sub?.disconnect();
    this.shards?.disconnect();
  }
}
