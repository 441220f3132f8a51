// Which transport the next connection uses: WebSocket first, the HTTP fallbacks after it fails,
// and back to WebSocket when a probe shows it works again.
import { type Codec, subprotocolFor } from '../codec/codec.js';
import { httpFallback } from './http-socket.js';
import type { WebSocketConstructor } from './websocket-like.js';

/** The client's transports: WebSocket, and the HTTP fallbacks (JSON codec only). */
export type TransportName = 'websocket' | 'sse' | 'polling';

/** Default transport order. */
export const DEFAULT_TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'polling'];

/**
 * Picks the transport of each connection attempt. A connection that ends before the server's
 * welcome counts against its transport: one failure moves on from a transport that never worked,
 * three from one that did (it may be a plain outage).
 */
export class TransportSelector {
  /** The transports that can run here, in the order tried. */
  readonly order: TransportName[];
  private index = 0;
  /** Transport of the last connection the server welcomed (reconnects stay on it). */
  private welcomedOn: TransportName | undefined;
  private failuresBeforeWelcome = 0;
  private probeTimer: ReturnType<typeof setInterval> | undefined;

  /** @throws TypeError when none of `wanted` can run (no WebSocket, and a binary codec). */
  constructor(
    wanted: readonly TransportName[],
    private readonly WS: WebSocketConstructor | undefined,
    private readonly codec: Codec,
  ) {
    // Without a WebSocket implementation, or with a binary codec, some transports cannot run.
    this.order = wanted.filter((t) => (t === 'websocket' ? WS !== undefined : codec.binary === false));
    if (this.order.length === 0) {
      throw new TypeError(
        `RealtimeClient: none of the transports ${wanted.join(', ')} can run here: ` +
          'pass { WebSocket } (e.g. from "@ieum/websocket"), or use the JSON codec for the HTTP fallbacks',
      );
    }
  }

  /** The transport the next (or current) connection uses. */
  get current(): TransportName {
    return this.order[this.index % this.order.length]!;
  }

  /** The socket class for {@link current}. */
  socketClass(): WebSocketConstructor {
    return this.current === 'websocket' ? this.WS! : httpFallback(this.current);
  }

  /** The server welcomed a connection on {@link current}. */
  welcomed(): void {
    this.welcomedOn = this.current;
    this.failuresBeforeWelcome = 0;
  }

  /** A connection on {@link current} ended before the welcome. */
  failedBeforeWelcome(): void {
    this.failuresBeforeWelcome++;
    if (this.failuresBeforeWelcome >= (this.welcomedOn === this.current ? 3 : 1)) {
      this.index++;
      this.failuresBeforeWelcome = 0;
    }
  }

  /**
   * While on a fallback, opens a WebSocket to `url` every `everyMs` milliseconds; when one opens
   * while `isOpen()`, selects WebSocket for the next connection and calls `onWorks` (which drops
   * the current one).
   */
  probe(url: string, everyMs: number, isOpen: () => boolean, onWorks: () => void): void {
    this.stopProbe();
    const WS = this.WS;
    if (this.current === 'websocket' || !WS || everyMs <= 0 || !this.order.includes('websocket')) return;
    this.probeTimer = setInterval(() => {
      const probe = new WS(url, subprotocolFor(this.codec));
      probe.onerror = () => {};
      probe.onclose = null;
      probe.onopen = () => {
        probe.close(1000, 'probe');
        if (!isOpen() || this.current === 'websocket') return;
        this.stopProbe();
        this.index = this.order.indexOf('websocket');
        onWorks();
      };
    }, everyMs);
  }

  /** Stops probing. */
  stopProbe(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }
}
