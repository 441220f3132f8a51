// One HTTP fallback session as its owner process sees it: a `Transport` for `Connection`, fed by
// POSTs (on this process, or through the adapter's `$s:<token>:up` channel from another one) and
// writing to the `$s:<token>:down` channel that any process streams or polls to the client.
//
// Lifecycle, and what other processes can see of it:
// - pending: the `open` request carried the hello; authentication runs. Nothing is written to the
//   adapter, and the token is known to nobody but this process (it is the answer to `open`).
// - live: authenticated. The session subscribes to its up channel, writes the `open` marker at
//   offset 1 of its down channel and is present as user `live` in `$s:<token>`, with the down
//   channel's epoch as its info.
// - closed: present as `closed` (no longer `live`) for `closedRetentionMs`, so POSTs get 410 and
//   streams can still read the final `close` entry; then forgotten, and its channels deleted.
// Continuity: the session's two channels must deliver every offset of one epoch. Should either
// lose history (a Redis restart, an eviction), messages between the client and its connection
// may be gone: the session ends (1012), readers refuse the new epoch (410), and the client opens
// a new session, resubscribes and recovers or gets `reset`, as a WebSocket client would.
// Presence is the session's registry because reading it (`presenceList`) creates nothing, in
// memory or in Redis: an unknown token costs one read-only lookup and no state.
import { EventEmitter } from 'node:events';
import type { Adapter, AdapterEvent, PublishInput } from '../adapter/adapter.js';
import { isOverloaded } from '../adapter/realtime-error.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import { isShared, type Outgoing, type Transport, type WriteDone } from './transport.js';

export const upChannel = (token: string) => `$s:${token}:up`;
export const downChannel = (token: string) => `$s:${token}:down`;
export const stateChannel = (token: string) => `$s:${token}`;

/**
 * Client messages a session holds while its connection's input is paused (the connection pauses
 * with 64 waiting; one POST holds at most `maxMessagesPerPost`, 100 by default).
 */
const MAX_HELD_MESSAGES = 1000;

export type SessionState = 'unknown' | 'pending' | 'live' | 'closed';

/** A session's state, and the epoch of its down channel (what its readers may serve). */
export interface SharedState {
  state: SessionState;
  epoch?: string;
}

const epochOf = (info: unknown): string | undefined =>
  typeof info === 'object' && info !== null && typeof (info as { ep?: unknown }).ep === 'string'
    ? (info as { ep: string }).ep
    : undefined;

/** A session's state as every process sees it: one read-only presence lookup. */
export async function sharedState(adapter: Adapter, token: string): Promise<SharedState> {
  let live: SharedState | undefined;
  for (const member of await adapter.presenceList(stateChannel(token))) {
    if (member.user === 'closed') return { state: 'closed', epoch: epochOf(member.info) };
    if (member.user === 'live') live = { state: 'live', epoch: epochOf(member.info) };
  }
  return live ?? { state: 'unknown' };
}

/** Close code for an adapter failure: 1013 (try again later) when it was out of capacity. */
const adapterFailure = (error: unknown): [number, string] =>
  isOverloaded(error) ? [1013, 'server overloaded: try again later'] : [1011, 'adapter failure'];

export interface HttpSessionHooks {
  /** Milliseconds a closed session stays known as closed. */
  closedRetentionMs: number;
  /** The session is over for good (retention passed, or it closed before it was live). */
  forget(session: HttpSession): void;
  report(error: Error): void;
}

/** A message written to the down channel and not yet read by the client. */
interface Unread {
  /** Its offset once the publish resolved. */
  off: number | undefined;
  bytes: number;
  done: WriteDone;
}

/**
 * The owner-side transport of one HTTP session. `bufferedAmount` is what the client has not read
 * yet (written to the down channel, not acknowledged by a stream or poll), so `Connection`'s
 * outbound queue and its slow-consumer policy treat a fallback client exactly like a WebSocket
 * whose socket is backed up: the down channel never holds more than `highWaterBytes` (plus one
 * message) of unread data.
 */
export class HttpSession extends EventEmitter implements Transport {
  state: SessionState = 'pending';
  /** Epoch of the down channel, known once the `open` marker is written. */
  downEpoch: string | undefined;
  /** Where the up channel stands: each message must follow in this epoch, without a gap. */
  private up: { epoch: string; offset: number } | undefined;
  /** How the session closed (for an `open` request that is still waiting). */
  closeInfo: { code: number; reason: string } | undefined;
  private activation: Promise<void> | undefined;
  /** Down-channel writes, in order, after the activation. */
  private chain: Promise<unknown> = Promise.resolve();
  private closing = false;
  private unread: Unread[] = [];
  private unreadHead = 0;
  private unreadBytes = 0;
  private acked = 0;
  /** Client messages the connection has not taken yet (it paused its input), oldest first. */
  private held: string[] = [];
  private heldHead = 0;
  private paused = false;
  /** The one POST waiting for the connection to take input again (see `takesInput`). */
  private waiter: (() => void) | undefined;

  constructor(
    private readonly adapter: Adapter,
    readonly kind: 'sse' | 'polling',
    readonly token: string,
    /** Client address the session counts against (`maxSessionsPerIp`). */
    readonly ip: string,
    private readonly hooks: HttpSessionHooks,
  ) {
    super();
  }

  get bufferedAmount(): number {
    return this.unreadBytes;
  }

  /**
   * Messages from the client: one POST's lines, in order. Ignored once closed. While the
   * connection's input is paused they wait here, at most `MAX_HELD_MESSAGES` (a POST to this
   * process waits for `takesInput` first; POSTs relayed by other processes cannot): beyond, the
   * session is closed with 4429.
   */
  receive(lines: readonly unknown[]): void {
    if (this.state === 'closed') return;
    for (const line of lines) if (typeof line === 'string') this.held.push(line);
    if (this.held.length - this.heldHead > MAX_HELD_MESSAGES) {
      this.held = [];
      this.heldHead = 0;
      this.close(DisconnectCode.RATE_LIMITED, 'messages sent faster than they are processed');
      return;
    }
    this.drain();
  }

  /** Hands held messages to the connection until it pauses its input. */
  private drain(): void {
    while (!this.paused && this.heldHead < this.held.length && this.state !== 'closed') {
      const line = this.held[this.heldHead]!;
      this.held[this.heldHead++] = '';
      this.emit('message', Buffer.from(line), false);
    }
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    }
    if (!this.paused && this.held.length === 0) this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * Resolves once the connection takes input again (at once when it does, or when the session
   * closes): a POST waits for it before handing its lines over, which is the HTTP fallback's
   * backpressure (the client posts one request at a time). Undefined when another POST is
   * already waiting: the caller refuses this one (429).
   */
  takesInput(): Promise<void> | undefined {
    if (this.state === 'closed' || (!this.paused && this.held.length === 0)) return Promise.resolve();
    if (this.waiter) return undefined;
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private readonly onUp = (event: AdapterEvent) => {
    // Before its position is known nothing can have been posted: the token is not out yet.
    const up = this.up;
    if (event.type !== 'message' || this.state === 'closed' || !up) return;
    if (event.epoch !== up.epoch || event.entry.off > up.offset + 1) {
      // The up channel lost history: what the client posted through another process may be gone.
      this.lost();
      return;
    }
    if (event.entry.off <= up.offset) return;
    up.offset = event.entry.off;
    if (this.state !== 'live') return;
    const { ev, d } = event.entry;
    if (ev === 'm' && Array.isArray(d)) this.receive(d);
    else if (ev === 'ack' && typeof d === 'number') this.ack(d);
    else if (ev === 'close') this.finish(1000, 'client closed');
  };

  /** Called by `Connection` once the client is authenticated, before its welcome is sent. */
  authenticated(): void {
    if (this.activation || this.state !== 'pending') return;
    const adapter = this.adapter;
    this.activation = (async () => {
      await adapter.subscribe(upChannel(this.token), this.onUp);
      const up = await adapter.position(upChannel(this.token));
      this.up = { epoch: up.epoch, offset: up.offset };
      // Offset 1 of the down channel: streams and polls start after it (`since=1`).
      const open = await adapter.publish(downChannel(this.token), { ev: 'open', d: null });
      this.downEpoch = open.epoch;
      await adapter.presenceJoin(stateChannel(this.token), 'live', this.token, { ep: open.epoch });
      if (this.state !== 'pending') return;
      this.state = 'live';
      this.emit('live');
    })();
    this.chain = this.activation.catch((error: Error) => {
      this.hooks.report(error);
      this.finish(...adapterFailure(error));
    });
  }

  /** Resolves once the session is live or closed; closes it with 1013 if neither within `ms`. */
  settled(ms: number): Promise<SessionState> {
    if (this.state === 'closed') return Promise.resolve(this.state);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.close(1013, 'authentication timed out'), ms);
      const done = () => {
        clearTimeout(timer);
        this.off('close', done);
        this.off('live', done);
        resolve(this.state);
      };
      this.once('close', done);
      this.once('live', done);
    });
  }

  /** Appends `message` to the down channel, after the activation and the earlier ones. */
  private publishDown(message: PublishInput): Promise<number | undefined> {
    const result = this.chain.then(async () => {
      if (this.state === 'closed' && message.ev !== 'close') return undefined;
      const r = await this.adapter.publish(downChannel(this.token), message);
      // A new epoch: the down channel lost what the client had not read yet.
      if (r.epoch !== this.downEpoch) this.lost();
      return r.offset;
    });
    this.chain = result.catch((error: Error) => {
      this.hooks.report(error);
      this.finish(...adapterFailure(error));
    });
    return result;
  }

  /**
   * Writes `messages` in order; `done` runs once the client has read the last one (SSE and polling
   * entries are read in order). Each message is an entry of its own in the down channel: its
   * offset is the client's SSE event id and polling cursor.
   */
  writeMany(messages: readonly Outgoing[], done: WriteDone): void {
    const n = messages.length;
    for (let i = 0; i < n; i++) this.write(messages[i]!, i === n - 1 ? done : ignore);
  }

  /** Writes one message; `done` runs once the client has read it (a stream or poll acknowledged it). */
  write(message: Outgoing, done: WriteDone): void {
    const data = isShared(message) ? message.data : message;
    if (this.closing || this.state === 'closed') {
      done(new Error('session closed'));
      return;
    }
    // Before authentication (a pong to a ping sent before the hello) nothing reaches the adapter.
    if (!this.activation) {
      done();
      return;
    }
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    const item: Unread = { off: undefined, bytes: Buffer.byteLength(text), done };
    this.unread.push(item);
    this.unreadBytes += item.bytes;
    this.publishDown({ ev: 'm', d: text }).then(
      (off) => {
        item.off = off ?? 0;
        this.release();
      },
      () => {},
    );
  }

  /** The client has read the down channel up to `offset` (from a stream or poll on any process). */
  ack(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset <= this.acked) return;
    this.acked = offset;
    this.release();
  }

  private release(): void {
    while (this.unreadHead < this.unread.length) {
      const item = this.unread[this.unreadHead]!;
      if (item.off === undefined || item.off > this.acked) break;
      this.unread[this.unreadHead++] = undefined as unknown as Unread;
      this.unreadBytes -= item.bytes;
      item.done();
    }
    if (this.unreadHead > 1024 && this.unreadHead * 2 > this.unread.length) {
      this.unread = this.unread.slice(this.unreadHead);
      this.unreadHead = 0;
    }
  }

  close(code: number, reason: string): void {
    if (this.closing || this.state === 'closed') return;
    this.closing = true;
    if (!this.activation) {
      this.finish(code, reason);
      return;
    }
    this.publishDown({ ev: 'close', d: { code, reason } })
      .catch(() => {})
      .finally(() => this.finish(code, reason));
  }

  /** Ends the session at once; the client is told (it cannot see a TCP close here). */
  terminate(): void {
    if (this.state === 'closed') return;
    if (this.activation && !this.closing) {
      this.closing = true;
      void this.publishDown({ ev: 'close', d: { code: 1006, reason: 'terminated' } }).catch(() => {});
    }
    this.finish(1006, '');
  }

  /** The client ended the session (`POST close`): nothing more is written to it. */
  clientClosed(): void {
    this.finish(1000, 'client closed');
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
  }

  /**
   * One of the session's channels lost history: the session ends at once (1012, as a WebSocket
   * connection whose channel lost history). Its readers refuse the new epoch (410), so the client
   * opens a new session and resubscribes from its positions: recovered or `reset`, never a gap.
   */
  private lost(): void {
    this.finish(1012, 'session history lost: reconnect');
  }

  private finish(code: number, reason: string): void {
    if (this.state === 'closed') return;
    const activation = this.activation;
    this.state = 'closed';
    this.closeInfo = { code, reason };
    const unread = this.unread.slice(this.unreadHead);
    this.unread = [];
    this.unreadHead = 0;
    this.unreadBytes = 0;
    this.held = [];
    this.heldHead = 0;
    this.wake();
    for (const item of unread) item.done(new Error('session closed'));
    this.emit('close', code, Buffer.from(reason));
    if (!activation) {
      this.hooks.forget(this);
      return;
    }
    const adapter = this.adapter;
    const token = this.token;
    const info = this.downEpoch === undefined ? undefined : { ep: this.downEpoch };
    void activation
      .catch(() => {})
      .then(async () => {
        await adapter.unsubscribe(upChannel(token), this.onUp);
        // Nothing reads the up channel any more: its history goes now, not when it ages out.
        await adapter.deleteChannel?.(upChannel(token));
        // `closed` before `live` goes: there is no moment at which the session looks unknown.
        await adapter.presenceJoin(stateChannel(token), 'closed', token, info);
        await adapter.presenceLeave(stateChannel(token), 'live', token);
      })
      .catch((error: Error) => this.hooks.report(error))
      .finally(() => {
        setTimeout(() => {
          // Readers may no longer ask (the session is unknown from here): its channels go.
          void (async () => {
            await adapter.presenceLeave(stateChannel(token), 'closed', token);
            await adapter.deleteChannel?.(downChannel(token));
            await adapter.deleteChannel?.(stateChannel(token));
          })().catch(() => {});
          this.hooks.forget(this);
        }, this.hooks.closedRetentionMs).unref();
      });
  }
}

/** Callbacks of all but the last message of a batch: the last one's says when all were read. */
function ignore(): void {}
