// The options and events of RealtimeClient.
import type { Codec } from '../codec/codec.js';
import type { BackoffOptions } from './backoff.js';
import type { ConnectionState, DisconnectInfo } from './client-connection.js';
import type { StorageLike } from './client-storage.js';
import type { TransportName } from './transport-selector.js';
import type { WebSocketConstructor } from './websocket-like.js';

/** Options of a {@link RealtimeClient}. */
export interface RealtimeClientOptions {
  /** WebSocket implementation. Default `globalThis.WebSocket` (browsers, Node >= 22). */
  WebSocket?: WebSocketConstructor;
  /** Token sent in the hello; a function is called before every connection and on refresh. */
  token?: string | (() => string | Promise<string>);
  /** Default JSON. Must be one the server offers. */
  codec?: Codec;
  /** Reconnect backoff, or `false` to stay closed after the first disconnect. */
  reconnect?: Partial<BackoffOptions> | false;
  /** Publishes, emits and requests waiting to be sent or acknowledged. Default 1,000. */
  maxQueuedMessages?: number;
  /** Milliseconds a request, `members()` or `unsubscribe()` waits for its reply. Default 10,000. Publishes wait until acknowledged (retried across reconnects). */
  requestTimeoutMs?: number;
  /** Persist the client id, channel positions and unacknowledged publishes (e.g. `localStorage`). */
  storage?: StorageLike;
  /** Key under which `storage` keeps the state. Default `ieum-realtime`. */
  storageKey?: string;
  /**
   * Transports to try, in order: after a connection attempt on one fails before the server's
   * welcome, the next is tried. `sse` and `polling` are the HTTP fallbacks (JSON codec only).
   * Default `['websocket', 'sse', 'polling']`.
   */
  transports?: TransportName[];
  /**
   * While on a fallback, probe WebSocket this often (milliseconds) and move back to it when it
   * works. Default 30,000; 0 never.
   */
  upgradeProbeMs?: number;
  /**
   * Share one connection among the tabs of this browser that use the same `url` (or
   * `sharedName`): one tab holds it, the others talk to it, and another takes over when it
   * closes. Default `true` where Web Locks and BroadcastChannel exist (browsers); `false` gives
   * each client its own connection.
   */
  shareConnection?: boolean;
  /**
   * Tabs whose clients have the same name share a connection and a durable outbox. Default the
   * `url` and codec. Clients sharing a connection share its user: give each user its own name
   * (or turn sharing off) where one browser holds several users' clients.
   */
  sharedName?: string;
  /**
   * Keep unacknowledged publishes in IndexedDB, so those made offline survive closing the browser
   * and are sent once when any tab comes back. Default `true` when the connection is shared and
   * IndexedDB exists (it needs the shared connection's client id to be sent once).
   */
  durableOutbox?: boolean;
  /**
   * Most publishes the durable outbox keeps. Beyond it a publish is refused (`queue-full`) and
   * `outboxFull` is emitted. Default 1,000.
   */
  maxStoredPublishes?: number;
  /** Random numbers in [0, 1) (tests). Default `Math.random`. */
  random?: () => number;
}

/** Events of a {@link RealtimeClient}. */
export type ClientEvents = {
  state: (state: ConnectionState) => void;
  /** The connection closed: `action` is what the client does next (see the disconnect table). */
  disconnect: (info: DisconnectInfo) => void;
  /** A publish was refused: the durable outbox holds `max` publishes (`maxStoredPublishes`). */
  outboxFull: (info: { max: number }) => void;
  error: (error: Error) => void;
};
