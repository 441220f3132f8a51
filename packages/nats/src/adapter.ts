// NatsAdapter: the realtime Adapter over NATS JetStream, so several server processes share
// channels (history, offsets, epochs), fan-out, message-id dedupe and presence. A channel is a
// stream (streams.ts); delivery is a core subscription to what the stream republishes
// (subscriptions.ts); presence is a KV bucket (presence.ts). This file owns the connection.
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
import { connect, type JetStreamManager, type KV, type NatsConnection, StorageType } from 'nats';
import { NatsAdapterError, NatsAdapterErrorCode } from './errors.js';
import { channelNames, presenceBucket } from './names.js';
import { type NatsAdapterOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Presence } from './presence.js';
import { apiCode, ChannelStreams, NO_ROOM } from './streams.js';
import { Subscriptions } from './subscriptions.js';

/** `connecting` until connected the first time; `reconnecting` while the connection is down. */
export type NatsAdapterStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface NatsAdapter {
  /** Connected for the first time. */
  on(event: 'ready', listener: () => void): this;
  /** The connection to NATS was lost; operations wait up to `timeoutMs`, then reject. */
  on(event: 'disconnect', listener: () => void): this;
  /** The connection is back; subscriptions fetch what they missed. */
  on(event: 'reconnect', listener: () => void): this;
  /**
   * Connection errors, background failures (presence upkeep, catch-up) and
   * `NATS_ERR_MESSAGES_LOST`. Without a listener they are not thrown: the adapter keeps going.
   */
  on(event: 'error', listener: (error: Error) => void): this;
}

/**
 * The realtime `Adapter` over NATS JetStream: every process with a NatsAdapter on the same NATS
 * and `prefix` shares channels, fan-out, dedupe and presence. One stream per channel, created on
 * first use. See docs/scale-out.md.
 *
 * Operations reject with `NatsAdapterError`: `NATS_ERR_UNAVAILABLE` when NATS does not answer
 * within `timeoutMs`, `NATS_ERR_OVERLOADED` when JetStream has no room, `NATS_ERR_CLOSED` after
 * `close()`.
 */
export class NatsAdapter extends EventEmitter implements Adapter {
  readonly prefix: string;
  readonly nodeId: string;
  private readonly options: ResolvedOptions;
  private readonly connecting: Promise<{
    nc: NatsConnection;
    jsm: JetStreamManager;
    streams: ChannelStreams;
  }>;
  private streamsReady: ChannelStreams | undefined;
  private kv: Promise<KV> | undefined;
  private readonly subscriptions: Subscriptions;
  private readonly presence: Presence;
  private currentStatus: NatsAdapterStatus = 'connecting';
  private readonly sweeper: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  /** Connects at once (in the background); throws a RangeError for an unusable option. */
  constructor(options: NatsAdapterOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.prefix = this.options.prefix;
    this.nodeId = this.options.nodeId;
    this.connecting = this.connect();
    this.connecting.catch(() => {}); // reported by each operation that waits for it
    const report = (error: Error) => this.report(error);
    this.subscriptions = new Subscriptions({
      prefix: this.prefix,
      connection: () => this.online('subscribe').then((c) => c.nc),
      streams: () => this.streamsReady!,
      report,
    });
    this.presence = new Presence({
      prefix: this.prefix,
      ttlMs: this.options.presenceTtlMs,
      connection: () => this.online('presence').then((c) => c.nc),
      bucket: () => this.bucket(),
      listened: () => this.subscriptions.channels(),
      report,
    });
    // Idle streams (no message left, nothing published for channelTtlMs) are deleted, so channels
    // that are not used any more do not keep their streams forever.
    this.sweeper = setInterval(
      () => {
        if (this.currentStatus !== 'ready') return;
        this.streamsReady?.sweepIdle().catch(report);
      },
      Math.min(Math.ceil(this.options.channelTtlMs / 4), 3_600_000),
    );
    this.sweeper.unref();
  }

  /** Wakes the first-connection loop's wait between attempts (close()). */
  private wake: (() => void) | undefined;

  /** The first connection: attempts until one succeeds or the adapter is closed. */
  private async firstConnection(): Promise<NatsConnection> {
    for (let attempt = 1; ; attempt++) {
      if (this.currentStatus === 'closed') throw this.closedError('connect');
      try {
        // After this one connection, the client reconnects by itself, forever.
        return await connect({
          ...this.options.natsOptions,
          servers: this.options.servers,
          name: `ieum:${this.nodeId}`,
          maxReconnectAttempts: -1,
        });
      } catch (error) {
        this.report(error as Error);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(100 * 2 ** (attempt - 1), 2000));
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  private async connect() {
    const nc = await this.firstConnection();
    if (this.currentStatus === 'closed') {
      await nc.close();
      throw this.closedError('connect');
    }
    const jsm = await nc.jetstreamManager({ timeout: this.options.timeoutMs });
    const streams = new ChannelStreams(jsm, nc.jetstream({ timeout: this.options.timeoutMs }), this.options);
    this.streamsReady = streams;
    // A stream of ours created again after a deletion has a new epoch: forget the old one, and
    // have its subscribers catch up from the new one.
    const prefix = `${this.prefix}_`;
    nc.subscribe('$JS.EVENT.ADVISORY.STREAM.*.*', {
      callback: (error, msg) => {
        if (error) return;
        const [, , , , action, stream] = msg.subject.split('.');
        if (!stream?.startsWith(prefix)) return;
        if (action === 'DELETED' || action === 'CREATED') streams.forget(stream);
        if (action === 'CREATED') this.subscriptions.restarted(stream);
      },
    });
    void (async () => {
      for await (const s of nc.status()) {
        if (this.currentStatus === 'closed') return;
        if (s.type === 'disconnect') {
          this.subscriptions.hold();
          this.currentStatus = 'reconnecting';
          this.emit('disconnect');
        } else if (s.type === 'reconnect') {
          // NATS may have restarted without its store: every epoch is read again, and the presence
          // bucket is looked up (created again if it is gone) at its next use.
          streams.forget();
          this.kv = undefined;
          this.currentStatus = 'ready';
          this.subscriptions.caughtUpAfterReconnect();
          this.emit('reconnect');
        } else if (s.type === 'error') {
          this.report(s.data as unknown as Error);
        }
      }
    })();
    this.currentStatus = 'ready';
    this.emit('ready');
    return { nc, jsm, streams };
  }

  /** Connection health; see the `ready`, `disconnect` and `reconnect` events. */
  get status(): NatsAdapterStatus {
    return this.currentStatus;
  }

  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private closedError(what: string): NatsAdapterError {
    return new NatsAdapterError(NatsAdapterErrorCode.CLOSED, `NatsAdapter is closed (${what} refused)`);
  }

  /** The connection, once made; waits at most `timeoutMs` for the first one. */
  private online(what: string) {
    if (this.currentStatus === 'closed') return Promise.reject(this.closedError(what));
    if (this.streamsReady) return this.connecting;
    return new Promise<Awaited<typeof this.connecting>>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new NatsAdapterError(
              NatsAdapterErrorCode.UNAVAILABLE,
              `NatsAdapter: NATS is unreachable at ${this.options.servers.join(',')} (${what} not done; retry later)`,
            ),
          ),
        this.options.timeoutMs,
      );
      this.connecting.then(
        (c) => {
          clearTimeout(timer);
          resolve(c);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private bucket(): Promise<KV> {
    this.kv ??= this.online('presence').then(({ nc }) =>
      nc.jetstream({ timeout: this.options.timeoutMs }).views.kv(presenceBucket(this.prefix), {
        history: 1,
        ttl: 2 * this.options.presenceTtlMs,
        storage: this.options.storage === 'file' ? StorageType.File : StorageType.Memory,
        replicas: this.options.replicas,
      }),
    );
    this.kv.catch(() => (this.kv = undefined));
    return this.kv;
  }

  /** Runs `op` once connected; NATS's errors become NatsAdapterErrors that say who must act. */
  private async run<T>(
    what: string,
    op: (s: ChannelStreams) => Promise<T>,
    lostMessage?: string,
  ): Promise<T> {
    const { streams } = await this.online(what);
    try {
      return await op(streams);
    } catch (error) {
      throw this.translate(what, error, lostMessage);
    }
  }

  private translate(what: string, error: unknown, lostMessage?: string): unknown {
    if (error instanceof NatsAdapterError) return error;
    if (this.currentStatus === 'closed') return this.closedError(what);
    const code = apiCode(error);
    const text = String((error as Error).message ?? error);
    if (
      (code !== undefined && NO_ROOM.has(code)) ||
      /insufficient resources|maximum .* exceeded/i.test(text)
    ) {
      return new NatsAdapterError(
        NatsAdapterErrorCode.OVERLOADED,
        `NatsAdapter: JetStream has no room (${text}): ${what} refused, nothing written (retry later; ` +
          'give JetStream more storage or streams)',
        { cause: error },
      );
    }
    if (code === undefined) {
      return new NatsAdapterError(
        NatsAdapterErrorCode.UNAVAILABLE,
        lostMessage ?? `NatsAdapter: NATS did not answer (${text}): ${what} not done; retry later`,
        { cause: error },
      );
    }
    return error;
  }

  publish(channel: string, message: PublishInput): Promise<PublishResult> {
    const n = channelNames(this.prefix, channel);
    return this.run(
      `publish to "${channel}"`,
      (s) => s.publish(n, message),
      `NatsAdapter: no acknowledgement from JetStream for a publish to "${channel}" within ` +
        `${this.options.timeoutMs} ms; it may or may not have been stored (a retry with the same ` +
        'message id is applied once)',
    );
  }

  async subscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    try {
      await this.subscriptions.add(channel, listener);
    } catch (error) {
      throw this.translate(`subscribe to "${channel}"`, error);
    }
  }

  unsubscribe(channel: string, listener: (event: AdapterEvent) => void): Promise<void> {
    return this.subscriptions.remove(channel, listener);
  }

  position(channel: string): Promise<ChannelPosition> {
    return this.run(`position of "${channel}"`, (s) => s.position(channelNames(this.prefix, channel)));
  }

  history(channel: string, since: ChannelPosition): Promise<HistoryResult> {
    return this.run(`history of "${channel}"`, async (s) => {
      const h = await s.history(channelNames(this.prefix, channel), since);
      return h.ok ? h : { ok: false, reason: h.reason, position: h.position };
    });
  }

  presenceJoin(channel: string, user: string, connection: string, info?: unknown): Promise<PresenceChange> {
    return this.run(`presence join in "${channel}"`, () =>
      this.presence.join(channel, user, connection, info),
    );
  }

  presenceLeave(channel: string, user: string, connection: string): Promise<PresenceChange> {
    return this.run(`presence leave in "${channel}"`, () => this.presence.leave(channel, user, connection));
  }

  presenceUpdate(channel: string, user: string, connection: string, state: unknown): Promise<boolean> {
    return this.run(`presence update in "${channel}"`, () =>
      this.presence.update(channel, user, connection, state),
    );
  }

  presenceList(channel: string): Promise<PresenceListEntry[]> {
    return this.run(`presence of "${channel}"`, () => this.presence.list(channel));
  }

  /**
   * Deletes the channel's stream now, unless this process listens to it; a later use creates it
   * again under a new epoch. The HTTP fallback calls it for a session's channels once the session
   * is over: without it, a stream stays (empty once its messages age out) until deleted.
   */
  async deleteChannel(channel: string): Promise<void> {
    if (this.subscriptions.has(channel)) return;
    await this.run(`delete of "${channel}"`, (s) => s.delete(channelNames(this.prefix, channel)));
  }

  /**
   * Removes this process's presence connections (their users get `leave` now rather than after
   * presenceTtlMs), then drains the connection. Operations afterwards reject with NATS_ERR_CLOSED.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.currentStatus === 'ready') await this.presence.leaveAll();
      this.currentStatus = 'closed';
      clearInterval(this.sweeper);
      this.wake?.();
      this.presence.stop();
      this.subscriptions.clear();
      const c = await this.connecting.catch(() => undefined);
      await c?.nc.drain().catch(() => c.nc.close());
    })();
    return this.closing;
  }

  /**
   * @internal Drops the connection without any cleanup, as a crashed process would: its presence
   * stays until presenceTtlMs passes. For tests.
   */
  async disconnectForTest(): Promise<void> {
    this.currentStatus = 'closed';
    clearInterval(this.sweeper);
    this.presence.stop();
    this.subscriptions.clear();
    this.closing = Promise.resolve();
    const c = await this.connecting.catch(() => undefined);
    await c?.nc.close();
  }
}
