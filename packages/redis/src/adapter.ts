// RedisAdapter: the realtime Adapter over Redis, so several server processes share channels
// (history, offsets, epochs), fan-out, message-id dedupe and presence. Each state change is one
// Lua script (scripts.ts); delivery goes through one pub/sub connection per adapter
// (subscriptions.ts); this file owns the connections, their health and presence upkeep.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import {
  type Adapter,
  type AdapterEvent,
  type ChannelPosition,
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  type HistoryLimits,
  type HistoryResult,
  type PresenceChange,
  type PublishInput,
  type PublishResult,
} from '@ieum/realtime/server';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisAdapterError, RedisAdapterErrorCode } from './errors.js';
import { decodeInfo, decodeStreamEntry, encodeInfo, encodeJoinFrame, encodePayload } from './frames.js';
import { type ChannelKeys, channelKeys, dedupeKey, presenceMember } from './keys.js';
import { defineScripts, type ScriptCommands } from './scripts.js';
import { Subscriptions } from './subscriptions.js';

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
}

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

const newEpoch = () => randomBytes(6).toString('base64url');

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`RedisAdapter: ${name} must be a positive integer`);
  return v;
}

/** The URL without its password, for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

const CONNECTION_ERRORS =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest/;

export class RedisAdapter extends EventEmitter implements Adapter {
  /** The URL connected to (password hidden). */
  readonly url: string;
  readonly keyPrefix: string;
  readonly nodeId: string;
  private readonly limits: HistoryLimits;
  private readonly dedupeMs: number;
  private readonly presenceTtlMs: number;
  private readonly channelTtlMs: number;
  private readonly unavailableTimeoutMs: number;
  private readonly cmd: Redis & ScriptCommands;
  private readonly sub: Redis & ScriptCommands;
  private readonly subscriptions: Subscriptions;
  /** This process's presence: channel -> member -> who, kept alive by `refreshPresence`. */
  private readonly present = new Map<
    string,
    Map<string, { user: string; connection: string; info: unknown }>
  >();
  private readonly waiters = new Set<{
    resolve: () => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }>();
  private readonly presenceTimer: NodeJS.Timeout;
  private cmdUp = false;
  private subUp = false;
  private sharded: boolean | undefined;
  private everReady = false;
  /** Subscriber connections made so far, and the one whose subscriptions are restored. */
  private subConnections = 0;
  private subscribedConnection = 0;
  private refreshing = false;
  private closing: Promise<void> | undefined;
  private currentStatus: RedisAdapterStatus = 'connecting';

  constructor(options: RedisAdapterOptions = {}) {
    super();
    const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    this.url = safeUrl(url);
    this.keyPrefix = options.keyPrefix ?? 'ieum:';
    this.nodeId = (
      options.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
    ).replace(/[^\w.:-]/g, '_');
    this.limits = {
      maxMessages: positiveInteger(
        'history.maxMessages',
        options.history?.maxMessages,
        DEFAULT_HISTORY.maxMessages,
      ),
      maxAgeMs: positiveInteger('history.maxAgeMs', options.history?.maxAgeMs, DEFAULT_HISTORY.maxAgeMs),
    };
    this.dedupeMs = positiveInteger('dedupe.maxAgeMs', options.dedupe?.maxAgeMs, DEFAULT_DEDUPE.maxAgeMs);
    this.presenceTtlMs = positiveInteger('presenceTtlMs', options.presenceTtlMs, 30_000);
    this.channelTtlMs = positiveInteger('channelTtlMs', options.channelTtlMs, 86_400_000);
    if (this.channelTtlMs < this.limits.maxAgeMs) {
      throw new RangeError('RedisAdapter: channelTtlMs must be at least history.maxAgeMs');
    }
    const wait = options.unavailableTimeoutMs ?? 2000;
    if (!Number.isSafeInteger(wait) || wait < 0) {
      throw new RangeError('RedisAdapter: unavailableTimeoutMs must be a non-negative integer');
    }
    this.unavailableTimeoutMs = wait;

    const connect = (role: 'cmd' | 'sub') =>
      defineScripts(
        new Redis(url, {
          retryStrategy: (attempt: number) => Math.min(100 * 2 ** (attempt - 1), 2000) + Math.random() * 100,
          ...options.redisOptions,
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
        }),
      );
    this.cmd = connect('cmd');
    this.sub = connect('sub');
    this.subscriptions = new Subscriptions({
      connection: this.sub,
      prefix: this.keyPrefix,
      sharded: () => this.sharded ?? false,
      online: () => this.online('subscribe'),
      position: (c, keys) => this.readPosition(c as Redis & ScriptCommands, keys),
      history: (c, keys, since) => this.readHistory(c as Redis & ScriptCommands, keys, since),
      report: (error) => this.report(error),
    });

    this.cmd.on('ready', () => {
      // SPUBLISH/SSUBSCRIBE (sharded pub/sub) exist from Redis 7.
      this.cmd
        .info('server')
        .then((info) => {
          const major = Number(/redis_version:(\d+)/.exec(String(info))?.[1] ?? 0);
          this.sharded = major >= 7;
          this.cmdUp = true;
          this.update();
        })
        .catch((error: Error) => this.report(error));
    });
    this.sub.on('ready', () => {
      this.subUp = true;
      this.subConnections++;
      this.update();
    });
    for (const [c, role] of [
      [this.cmd, 'cmd'],
      [this.sub, 'sub'],
    ] as const) {
      c.on('close', () => {
        if (role === 'cmd') this.cmdUp = false;
        else this.subUp = false;
        this.update();
      });
      c.on('error', (error: Error) => this.report(error));
    }
    this.presenceTimer = setInterval(() => void this.refreshPresence(), Math.max(10, this.presenceTtlMs / 3));
    this.presenceTimer.unref();
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
      if (!first && this.subConnections !== this.subscribedConnection) {
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
        }, this.unavailableTimeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Runs `op` once Redis is reachable; a connection lost on the way becomes REDIS_ERR_UNAVAILABLE. */
  private async run<T>(what: string, op: () => Promise<T>, lostMessage?: string): Promise<T> {
    await this.online(what);
    try {
      return await op();
    } catch (error) {
      if (!CONNECTION_ERRORS.test(String((error as Error).message ?? error))) throw error;
      if (lostMessage) {
        throw new RedisAdapterError(RedisAdapterErrorCode.UNAVAILABLE, lostMessage, { cause: error });
      }
      throw this.unavailable(what, error);
    }
  }

  private keys(channel: string): ChannelKeys {
    return channelKeys(this.keyPrefix, channel);
  }

  async publish(channel: string, message: PublishInput): Promise<PublishResult> {
    const k = this.keys(channel);
    const hasId = message.mid !== undefined;
    const reply = (await this.run(
      `publish to "${channel}"`,
      () =>
        this.cmd.ieumPublish(
          k.meta,
          k.hist,
          hasId ? dedupeKey(this.keyPrefix, channel, message.mid!) : k.meta,
          newEpoch(),
          encodePayload(message),
          this.limits.maxMessages,
          this.limits.maxAgeMs,
          this.channelTtlMs,
          hasId ? this.dedupeMs : 0,
          k.topic,
          this.sharded ? '1' : '0',
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

  private async readPosition(c: Redis & ScriptCommands, k: ChannelKeys): Promise<ChannelPosition> {
    const [epoch, offset] = (await c.ieumPosition(k.meta, k.hist, newEpoch(), this.channelTtlMs)) as [
      string,
      number,
    ];
    return { epoch, offset };
  }

  private async readHistory(
    c: Redis & ScriptCommands,
    k: ChannelKeys,
    since: ChannelPosition,
  ): Promise<HistoryResult> {
    const reply = (await c.ieumHistoryBuffer(
      k.meta,
      k.hist,
      newEpoch(),
      this.channelTtlMs,
      since.epoch,
      since.offset,
      this.limits.maxAgeMs,
    )) as [Buffer, number, Buffer, unknown[]?];
    const position = { epoch: reply[0].toString(), offset: reply[1] };
    const status = reply[2].toString();
    if (status === 'ok') return { ok: true, entries: (reply[3] ?? []).map(decodeStreamEntry), position };
    return { ok: false, reason: status as 'epoch-changed' | 'too-old' | 'ahead', position };
  }

  position(channel: string): Promise<ChannelPosition> {
    return this.run(`position of "${channel}"`, () => this.readPosition(this.cmd, this.keys(channel)));
  }

  history(channel: string, since: ChannelPosition): Promise<HistoryResult> {
    return this.run(`history of "${channel}"`, () => this.readHistory(this.cmd, this.keys(channel), since));
  }

  private async join(channel: string, user: string, connection: string, info: unknown): Promise<boolean> {
    const k = this.keys(channel);
    const changed = await this.cmd.ieumPresenceJoin(
      k.users,
      k.counts,
      k.conns,
      user,
      presenceMember(user, connection),
      encodeInfo(info),
      this.presenceTtlMs,
      2 * this.presenceTtlMs,
      this.sharded ? '1' : '0',
      k.topic,
      encodeJoinFrame(user, info),
    );
    return changed === 1;
  }

  async presenceJoin(
    channel: string,
    user: string,
    connection: string,
    info?: unknown,
  ): Promise<PresenceChange> {
    const changed = await this.run(`presence join in "${channel}"`, () =>
      this.join(channel, user, connection, info),
    );
    let members = this.present.get(channel);
    if (!members) {
      members = new Map();
      this.present.set(channel, members);
    }
    members.set(presenceMember(user, connection), { user, connection, info });
    return { changed };
  }

  async presenceLeave(channel: string, user: string, connection: string): Promise<PresenceChange> {
    const member = presenceMember(user, connection);
    const members = this.present.get(channel);
    members?.delete(member);
    if (members?.size === 0) this.present.delete(channel);
    const k = this.keys(channel);
    const changed = await this.run(`presence leave in "${channel}"`, () =>
      this.cmd.ieumPresenceLeave(k.users, k.counts, k.conns, user, member, this.sharded ? '1' : '0', k.topic),
    );
    return { changed: changed === 1 };
  }

  async presenceList(channel: string): Promise<Array<{ user: string; info?: unknown }>> {
    const k = this.keys(channel);
    const flat = (await this.run(`presence list of "${channel}"`, () =>
      this.cmd.ieumPresenceListBuffer(k.users, k.counts, k.conns, this.sharded ? '1' : '0', k.topic),
    )) as Buffer[];
    const list: Array<{ user: string; info?: unknown }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      list.push({ user: flat[i]!.toString(), ...decodeInfo(flat[i + 1]!) });
    }
    return list;
  }

  /**
   * Every presenceTtlMs/3: extends this process's presence connections and sweeps expired ones
   * (of any process) in every channel it has presence in or listens to, so a dead process's users
   * get their `leave`. Connections swept while this process was cut off are joined again.
   */
  private async refreshPresence(): Promise<void> {
    if (this.refreshing || this.currentStatus !== 'ready') return;
    this.refreshing = true;
    try {
      const channels = new Set([...this.present.keys(), ...this.subscriptions.channels()]);
      await Promise.all(
        [...channels].map(async (channel) => {
          const k = this.keys(channel);
          const mine = this.present.get(channel);
          const missing = (await this.cmd.ieumPresenceRefreshBuffer(
            k.users,
            k.counts,
            k.conns,
            this.presenceTtlMs,
            2 * this.presenceTtlMs,
            this.sharded ? '1' : '0',
            k.topic,
            ...(mine ? mine.keys() : []),
          )) as Buffer[];
          for (const raw of missing) {
            const m = this.present.get(channel)?.get(raw.toString());
            if (m) await this.join(channel, m.user, m.connection, m.info);
          }
        }),
      );
    } catch (error) {
      this.report(error as Error);
    } finally {
      this.refreshing = false;
    }
  }

  private stop(): void {
    this.currentStatus = 'closed';
    clearInterval(this.presenceTimer);
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
      if (this.currentStatus === 'ready') {
        const leaves = [...this.present].flatMap(([channel, members]) =>
          [...members.values()].map((m) => this.presenceLeave(channel, m.user, m.connection)),
        );
        await Promise.allSettled(leaves);
      }
      this.stop();
      await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
      this.cmd.disconnect();
      this.sub.disconnect();
    })();
    return this.closing;
  }

  /**
   * @internal Drops both connections without any cleanup, as a crashed process would: presence
   * stays in Redis until presenceTtlMs passes. For tests.
   */
  disconnectForTest(): void {
    this.stop();
    this.closing = Promise.resolve();
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}
