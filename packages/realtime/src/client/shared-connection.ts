// One connection for all the tabs of a browser. The tab holding a Web Lock is the leader: it opens
// the connection and relays for the others over a BroadcastChannel (TabRelay). When it closes, the
// lock passes to another tab, which connects; every tab then resubscribes from its own position
// (missed messages are recovered, those it has are dropped) and resends its unacknowledged
// publishes with their ids (the connection's client id is shared, so the server dedupes them).
import type { ClientMessage, ServerMessage } from '../codec/messages.js';
import type {
  ClientConnection,
  ClientConnectionEvents,
  ConnectionState,
  DisconnectInfo,
} from './client-connection.js';
import type { StorageLike } from './client-storage.js';
import { Emitter } from './emitter.js';
import { randomId } from './random-id.js';
import { TabRelay } from './tab-relay.js';
import type { TransportName } from './transport-selector.js';

/** The part of the Web Locks API used. */
export interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<void>;
}

/** The part of BroadcastChannel used. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** Link status as the leader reports it to the other tabs. */
interface LinkStatus {
  state: ConnectionState;
  ready: boolean;
  sessionId?: string;
  user?: string;
  transport: TransportName;
}

type BusMessage =
  | { k: 'join'; from: string }
  | { k: 'bye'; from: string }
  | { k: 'leader'; from: string }
  | { k: 'up'; from: string; m: ClientMessage }
  | { k: 'down'; to?: string; m: ServerMessage }
  | ({
      k: 'status';
      to?: string;
      event?: 'welcome' | 'disconnect' | 'stopped';
      info?: DisconnectInfo;
      reason?: string;
    } & LinkStatus);

/**
 * Whether this is a browser page that can share a connection with its other tabs. Not in Node
 * (which has BroadcastChannel and, from 22, Web Locks): clients of one process stay apart there.
 */
export function canShareConnection(): boolean {
  const g = globalThis as {
    navigator?: { locks?: { request?: unknown } | null };
    BroadcastChannel?: unknown;
    document?: unknown;
  };
  return (
    typeof g.document === 'object' &&
    typeof g.BroadcastChannel === 'function' &&
    typeof g.navigator?.locks?.request === 'function'
  );
}

/** Settings of a {@link SharedConnection}. */
export interface SharedConnectionOptions {
  /** Lock and channel name: tabs with the same name share one connection. */
  name: string;
  /** This tab's id. */
  tabId: string;
  /** Opens the real connection (in the leader tab). */
  connect: () => ClientConnection;
}

/**
 * A connection shared by the tabs of a browser; it behaves like a `ClientConnection` for the
 * client that uses it, whichever tab holds the socket.
 */
export class SharedConnection extends Emitter<ClientConnectionEvents> {
  state: ConnectionState = 'connecting';
  sessionId: string | undefined;
  user: string | undefined;
  transport: TransportName = 'websocket';
  ready = false;
  /** Whether this tab holds the connection. */
  leader = false;
  private connection: ClientConnection | undefined;
  private relay: TabRelay | undefined;
  private readonly bus: BroadcastChannelLike;
  private releaseLock: (() => void) | undefined;
  private closed = false;
  private readonly onPageHide = (): void => this.post({ k: 'bye', from: this.options.tabId });

  constructor(private readonly options: SharedConnectionOptions) {
    super();
    const g = globalThis as unknown as { BroadcastChannel: new (name: string) => BroadcastChannelLike };
    this.bus = new g.BroadcastChannel(`ieum-realtime:${options.name}`);
    this.bus.onmessage = (event) => this.onBus(event.data as BusMessage);
  }

  /** Waits for the lock (leading when it comes) and asks the current leader for its status. */
  start(): void {
    const g = globalThis as unknown as {
      navigator: { locks: LockManagerLike };
      addEventListener?: (type: string, fn: () => void) => void;
    };
    g.addEventListener?.('pagehide', this.onPageHide);
    void g.navigator.locks
      .request(`ieum-realtime:${this.options.name}`, () => {
        if (this.closed) return Promise.resolve();
        this.lead();
        return new Promise<void>((resolve) => {
          this.releaseLock = resolve;
        });
      })
      .catch((error: Error) => this.fire('error', error));
    this.post({ k: 'join', from: this.options.tabId });
  }

  send(message: ClientMessage): void {
    if (this.relay) this.relay.fromTab(this.options.tabId, message);
    else this.post({ k: 'up', from: this.options.tabId, m: message });
  }

  /** Leaves: the lock passes to another tab if this one led. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const g = globalThis as { removeEventListener?: (type: string, fn: () => void) => void };
    g.removeEventListener?.('pagehide', this.onPageHide);
    this.post({ k: 'bye', from: this.options.tabId });
    this.connection?.close();
    this.connection = undefined;
    this.relay = undefined;
    this.releaseLock?.();
    this.bus.close();
    this.setStatus({ state: 'closed', ready: false, transport: this.transport });
  }

  private lead(): void {
    this.leader = true;
    const tab = this.options.tabId;
    // Whatever was in flight through the previous leader gets no reply: the tabs fail it and
    // resend their publishes after the welcome.
    this.post({ k: 'leader', from: tab });
    this.lostLeader();
    const connection = this.options.connect();
    this.connection = connection;
    const relay = new TabRelay(
      (m) => connection.send(m),
      (to, m) => {
        if (to === undefined || to === tab) this.fire('message', m);
        if (to !== tab) this.post({ k: 'down', ...(to !== undefined ? { to } : {}), m });
      },
      tab,
    );
    this.relay = relay;
    const status = (): LinkStatus => ({
      state: connection.state,
      ready: connection.ready,
      transport: connection.transport,
      ...(connection.sessionId !== undefined ? { sessionId: connection.sessionId } : {}),
      ...(connection.user !== undefined ? { user: connection.user } : {}),
    });
    connection
      .on('welcome', (m) => {
        // No relay.reset() here: the connection's state turned `open` just before, and what the
        // tabs sent on that (a request) is in flight already. The relay was reset on disconnect.
        this.setStatus(status());
        this.post({ k: 'status', event: 'welcome', ...status() });
        this.fire('welcome', m);
      })
      .on('message', (m) => relay.fromServer(m))
      .on('state', () => {
        this.setStatus(status());
        this.post({ k: 'status', ...status() });
      })
      .on('disconnect', (info) => {
        relay.reset();
        this.setStatus(status());
        this.post({ k: 'status', event: 'disconnect', info, ...status() });
        this.fire('disconnect', info);
      })
      .on('stopped', (reason) => {
        this.post({ k: 'status', event: 'stopped', reason, ...status() });
        this.fire('stopped', reason);
      })
      .on('error', (error) => this.fire('error', error));
    connection.start();
  }

  /** The leader changed: what this tab had in flight through the old one is lost. */
  private lostLeader(): void {
    if (!this.ready) return;
    this.ready = false;
    this.setStatus({ state: 'reconnecting', ready: false, transport: this.transport });
    this.fire('disconnect', {
      code: 1001,
      reason: 'the tab holding the connection went away',
      action: 'reconnect',
    });
  }

  private onBus(message: BusMessage): void {
    if (this.closed) return;
    const tab = this.options.tabId;
    switch (message.k) {
      case 'join':
        if (this.connection) {
          const c = this.connection;
          this.post({
            k: 'status',
            to: message.from,
            ...(c.ready ? { event: 'welcome' as const } : {}),
            state: c.state,
            ready: c.ready,
            transport: c.transport,
            ...(c.sessionId !== undefined ? { sessionId: c.sessionId } : {}),
            ...(c.user !== undefined ? { user: c.user } : {}),
          });
        }
        return;
      case 'bye':
        this.relay?.dropTab(message.from);
        return;
      case 'leader':
        if (!this.leader) this.lostLeader();
        return;
      case 'up':
        this.relay?.fromTab(message.from, message.m);
        return;
      case 'down':
        if (!this.leader && (message.to === undefined || message.to === tab)) this.fire('message', message.m);
        return;
      case 'status': {
        if (this.leader || (message.to !== undefined && message.to !== tab)) return;
        const wasReady = this.ready;
        // Only the welcome makes a follower ready (a state change may come first).
        const ready = message.event === 'welcome' ? true : message.event ? false : wasReady;
        this.setStatus({ ...message, ready });
        if (message.event === 'welcome' && !wasReady) {
          this.fire('welcome', {
            t: 'welcome',
            v: 1,
            sid: message.sessionId ?? '',
            hb: 0,
            ...(message.user !== undefined ? { user: message.user } : {}),
          });
        } else if (message.event === 'disconnect' && message.info && wasReady) {
          this.fire('disconnect', message.info);
        } else if (message.event === 'stopped') {
          this.fire('stopped', message.reason ?? 'stopped');
        }
        return;
      }
    }
  }

  private setStatus(s: LinkStatus): void {
    this.ready = s.ready;
    this.sessionId = s.sessionId;
    this.user = s.user;
    this.transport = s.transport;
    if (this.state !== s.state && this.state !== 'closed') {
      this.state = s.state;
      this.fire('state', s.state);
    }
  }

  private post(message: BusMessage): void {
    try {
      this.bus.postMessage(message);
    } catch (error) {
      this.fire('error', error as Error);
    }
  }
}

/** The client id of the connection shared by the tabs named `name` (kept in `localStorage`). */
export function sharedClientId(name: string, random: () => number): string {
  const key = `ieum-realtime:cid:${name}`;
  const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
  try {
    const saved = storage?.getItem(key);
    if (saved) return saved;
    const cid = randomId(random);
    storage?.setItem(key, cid);
    return cid;
  } catch {
    return randomId(random);
  }
}
