// One logical connection to the server, kept up across disconnects: opens a socket on the selected
// transport, says hello, watches the heartbeat, follows the disconnect table and reconnects with
// backoff. What travels on it (channels, publishes, requests) is the RealtimeClient's business.
import { type Codec, subprotocolFor } from '../codec/codec.js';
import { DisconnectCode, disconnectAction } from '../codec/disconnect-codes.js';
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  parseServerMessage,
  type ServerMessage,
} from '../codec/messages.js';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import type { TransportName, TransportSelector } from './transport-selector.js';
import type { WebSocketLike } from './websocket-like.js';

/** The client's connection state; `closed` is final. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the connection did when it closed: `action` is what it does next (the disconnect table). */
export interface DisconnectInfo {
  code: number;
  reason: string;
  action: string;
}

/** Events of a {@link ClientConnection}. */
export type ClientConnectionEvents = {
  /** The server welcomed the connection: it is ready for subscriptions and publishes. */
  welcome: (welcome: Extract<ServerMessage, { t: 'welcome' }>) => void;
  /** A message for the application (not the welcome, heartbeats or token refreshes). */
  message: (message: ServerMessage) => void;
  state: (state: ConnectionState) => void;
  /** A socket closed (the connection reconnects unless `action` is `stop`). */
  disconnect: (info: DisconnectInfo) => void;
  /** The connection stopped for good (not after `close()`): why, for failing what waits. */
  stopped: (reason: string) => void;
  error: (error: Error) => void;
};

/** Settings of a {@link ClientConnection}. */
export interface ClientConnectionOptions {
  url: string;
  codec: Codec;
  transports: TransportSelector;
  backoff: BackoffOptions | false;
  token: string | (() => string | Promise<string>) | undefined;
  /** Milliseconds between WebSocket probes while on a fallback; 0 never. */
  upgradeProbeMs: number;
  random: () => number;
  /** The client id sent in each hello. */
  clientId: () => string;
}

/** A connection to the server that reconnects; see {@link ClientConnectionOptions}. */
export class ClientConnection extends Emitter<ClientConnectionEvents> {
  state: ConnectionState = 'connecting';
  /** Session id from the server's welcome (changes every connection). */
  sessionId: string | undefined;
  /** The user the server authenticated. */
  user: string | undefined;
  /** The transport of the current (or last) socket. */
  transport: TransportName;
  /** Welcomed: messages sent now reach the server's session. */
  ready = false;
  private ws: WebSocketLike | undefined;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatMs = 0;
  private readonly onOnline = (): void => {
    if (this.state === 'reconnecting' && !this.ws) {
      clearTimeout(this.reconnectTimer);
      void this.connect();
    }
  };

  constructor(private readonly options: ClientConnectionOptions) {
    super();
    this.transport = options.transports.current;
  }

  /** Opens the first socket. */
  start(): void {
    void this.connect();
    const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    g.addEventListener?.('online', this.onOnline);
  }

  /** Sends on the current socket (dropped when there is none: callers send after `welcome`). */
  send(message: ClientMessage): void {
    try {
      this.ws?.send(this.options.codec.encode(message) as string);
    } catch (error) {
      this.fire('error', error as Error);
    }
  }

  /** Closes for good (no reconnect). */
  close(): void {
    this.options.transports.stopProbe();
    const g = globalThis as { removeEventListener?: (type: string, fn: () => void) => void };
    g.removeEventListener?.('online', this.onOnline);
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.deadTimer);
    const ws = this.ws;
    this.ws = undefined;
    this.ready = false;
    if (ws) {
      ws.onclose = null;
      ws.close(DisconnectCode.NORMAL, 'client closed');
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.fire('state', state);
  }

  private async connect(): Promise<void> {
    const { token: t, transports, url, codec } = this.options;
    let token: string | undefined;
    try {
      token = typeof t === 'function' ? await t() : t;
    } catch (error) {
      this.fire('error', error as Error);
      return this.scheduleReconnect();
    }
    if (this.state === 'closed') return;
    let ws: WebSocketLike;
    this.transport = transports.current;
    const Ctor = transports.socketClass();
    try {
      ws = new Ctor(url, subprotocolFor(codec));
    } catch (error) {
      this.setState('closed');
      this.fire('error', error as Error);
      this.fire('stopped', (error as Error).message);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.send({
        t: 'hello',
        v: PROTOCOL_VERSION,
        cid: this.options.clientId(),
        ...(token ? { token } : {}),
      });
      this.armDeadTimer();
    };
    ws.onmessage = (event) => this.onData(event.data);
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.dropped(event.code, event.reason);
    };
  }

  private onData(raw: unknown): void {
    let m: ServerMessage;
    try {
      const data = typeof raw === 'string' ? raw : new Uint8Array(raw as ArrayBuffer);
      m = parseServerMessage(this.options.codec.decode(data));
    } catch (error) {
      this.fire('error', error as Error);
      this.abandon(DisconnectCode.PROTOCOL_ERROR, 'invalid message from the server');
      return;
    }
    this.armDeadTimer();
    switch (m.t) {
      case 'welcome':
        this.onWelcome(m);
        return;
      case 'refresh':
        return void this.refreshToken();
      case 'ping':
        this.send({ t: 'pong' });
        return;
      case 'pong':
        return;
      default:
        this.fire('message', m);
    }
  }

  private onWelcome(m: Extract<ServerMessage, { t: 'welcome' }>): void {
    this.ready = true;
    this.sessionId = m.sid;
    this.user = m.user;
    this.heartbeatMs = m.hb;
    this.armDeadTimer();
    const { transports } = this.options;
    transports.welcomed();
    transports.probe(
      this.options.url,
      this.options.upgradeProbeMs,
      () => this.state === 'open',
      () => this.abandon(DisconnectCode.GOING_AWAY, 'moving to websocket'),
    );
    this.setState('open');
    this.fire('welcome', m);
  }

  private async refreshToken(): Promise<void> {
    const t = this.options.token;
    if (typeof t !== 'function') return;
    try {
      const token = await t();
      this.send({ t: 'auth', token });
    } catch (error) {
      this.fire('error', error as Error);
    }
  }

  private armDeadTimer(): void {
    clearTimeout(this.deadTimer);
    // Before the welcome, the server's heartbeat is unknown: allow the hello timeout's worth.
    const ms = this.heartbeatMs > 0 ? this.heartbeatMs * 2 + 1000 : 15_000;
    this.deadTimer = setTimeout(
      () => this.abandon(DisconnectCode.HEARTBEAT_TIMEOUT, 'no heartbeat from the server'),
      ms,
    );
  }

  /** Gives up on the current socket without waiting for its close handshake. */
  private abandon(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(code === DisconnectCode.PROTOCOL_ERROR ? 1002 : 1000, reason);
    } catch {}
    this.dropped(code, reason);
  }

  private dropped(code: number, reason: string): void {
    this.options.transports.stopProbe();
    if (!this.ready) this.options.transports.failedBeforeWelcome();
    // The backoff starts over after a connection that worked, unless the server closed it with
    // 1013 (try again later: overloaded): then the delays keep growing across welcomes, so an
    // overloaded server is not retried every few hundred milliseconds by every client.
    if (this.ready && code !== DisconnectCode.TRY_AGAIN_LATER) this.attempt = 0;
    this.ws = undefined;
    this.ready = false;
    clearTimeout(this.deadTimer);
    const action = this.state === 'closed' ? 'stop' : disconnectAction(code);
    this.fire('disconnect', { code, reason, action });
    if (action === 'stop' || this.options.backoff === false) {
      this.setState('closed');
      this.fire('stopped', `disconnected (${code} ${reason})`);
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const backoff = this.options.backoff;
    if (this.state === 'closed' || backoff === false) return;
    if (this.attempt >= backoff.maxAttempts) {
      this.setState('closed');
      this.fire('stopped', 'gave up reconnecting (maxAttempts)');
      return;
    }
    this.setState('reconnecting');
    const delay = backoffDelay(this.attempt++, backoff, this.options.random);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }
}
