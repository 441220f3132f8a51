import { randomBytes } from 'node:crypto';
import { type ClientOptions, WebSocket } from '@ieum/websocket';
import { Histogram } from './histogram.js';
import { describeConnectError } from './user-error.js';

/** What `ieum bench` asks for. Every message must come back (an echo endpoint). */
export interface LoadOptions {
  url: string;
  protocols: string[];
  client: ClientOptions;
  /** Connections kept open. */
  connections: number;
  /** Messages kept outstanding per connection (closed loop). Ignored when `rate` is set. */
  inFlight: number;
  /** Messages per second over all connections (open loop), or undefined. */
  rate: number | undefined;
  /** Payload bytes per message. */
  size: number;
  payload: 'binary' | 'text';
  /** Milliseconds over which the connections are opened, before measuring. */
  rampUpMs: number;
  /** Milliseconds measured (after the ramp-up). */
  durationMs: number;
  /** Messages allowed outstanding per connection in rate mode before sends are skipped. */
  maxOutstanding: number;
}

/** Counters of one interval or of the whole run. */
export interface LoadCounters {
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  /** Sends skipped in rate mode because `maxOutstanding` messages were waiting (server too slow). */
  skipped: number;
  latency: Histogram;
}

function emptyCounters(): LoadCounters {
  return { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, skipped: 0, latency: new Histogram() };
}

/**
 * Drives `connections` WebSockets against an echo endpoint and measures the round trip of every
 * message in microseconds. Replies are matched in order per connection.
 */
export class LoadGenerator {
  /** Counters since `takeInterval()` was last called (added to `total` then, while measuring). */
  private interval = emptyCounters();
  /** Counters since the measurement started. */
  readonly total = emptyCounters();
  measuring = false;
  open = 0;
  connectFailures = 0;
  firstConnectError: string | undefined;
  /** Connections that closed before the end. */
  closedEarly: Array<{ code: number; reason: string }> = [];
  private readonly sockets: WebSocket[] = [];
  private readonly message: Buffer | string;
  private stopping = false;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: LoadOptions) {
    const bytes = randomBytes(options.size);
    // Text payloads: printable ASCII, so the size in bytes is the size in characters.
    this.message =
      options.payload === 'text' ? Buffer.from(bytes.map((b) => 97 + (b % 26))).toString() : bytes;
  }

  /** Opens the connections over `rampUpMs`; resolves when all have opened or failed. */
  async connect(): Promise<void> {
    const { connections, rampUpMs } = this.options;
    const opening: Promise<void>[] = [];
    for (let i = 0; i < connections; i++) {
      const delay = connections > 1 ? (rampUpMs * i) / (connections - 1) : 0;
      opening.push(new Promise<void>((r) => setTimeout(r, delay)).then(() => this.openOne()));
      // Without a ramp-up, open at most 64 at a time so the server's accept queue is not flooded.
      if (rampUpMs === 0 && opening.length % 64 === 0) await Promise.all(opening.slice(-64));
    }
    await Promise.all(opening);
  }

  private openOne(): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.options.url, this.options.protocols, this.options.client);
      const pending: number[] = [];
      let head = 0;
      let opened = false;
      ws.on('error', (error) => {
        if (!opened) this.firstConnectError ??= describeConnectError(error, this.options.url);
      });
      ws.on('open', () => {
        opened = true;
        this.open++;
        this.sockets.push(ws);
        resolve();
        if (this.options.rate === undefined) {
          for (let i = 0; i < this.options.inFlight; i++) this.send(ws, pending, performance.now());
        } else this.pace(ws, pending, () => pending.length - head);
      });
      ws.on('message', (data) => {
        const started = pending[head++];
        // Compact the queue now and then instead of shift() on every reply.
        if (head > 1024 && head * 2 > pending.length) {
          pending.splice(0, head);
          head = 0;
        }
        if (started === undefined) return;
        const now = performance.now();
        const length = typeof data === 'string' ? Buffer.byteLength(data) : (data as Buffer).length;
        const c = this.interval;
        c.received++;
        c.bytesReceived += length;
        c.latency.record((now - started) * 1000);
        if (this.options.rate === undefined && !this.stopping) this.send(ws, pending, now);
      });
      ws.on('close', (code, reason) => {
        if (!opened) {
          this.connectFailures++;
          resolve();
          return;
        }
        this.open--;
        if (!this.stopping) this.closedEarly.push({ code, reason: reason.toString() });
      });
    });
  }

  private send(ws: WebSocket, pending: number[], due: number): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    pending.push(due);
    ws.send(this.message);
    this.interval.sent++;
    this.interval.bytesSent += this.options.size;
  }

  /**
   * Rate mode: sends this connection's share on a schedule, in 5 ms batches. Latency counts from
   * the actual send: a server that falls behind still shows it, as the sends do not wait for it.
   */
  private pace(ws: WebSocket, pending: number[], outstanding: () => number): void {
    const perMs = (this.options.rate ?? 0) / this.options.connections / 1000;
    let next = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      while (next <= now && !this.stopping) {
        if (outstanding() >= this.options.maxOutstanding) {
          this.interval.skipped++;
        } else this.send(ws, pending, performance.now());
        next += 1 / perMs;
      }
    }, 5);
    this.timers.push(timer);
  }

  /** Starts counting into `total` (what happened before, e.g. during the ramp-up, is dropped). */
  startMeasuring(): void {
    this.interval = emptyCounters();
    this.measuring = true;
  }

  /** Counters since the previous call (for a progress line), added to `total` while measuring. */
  takeInterval(): LoadCounters {
    const c = this.interval;
    this.interval = emptyCounters();
    if (this.measuring) {
      const t = this.total;
      t.sent += c.sent;
      t.received += c.received;
      t.bytesSent += c.bytesSent;
      t.bytesReceived += c.bytesReceived;
      t.skipped += c.skipped;
      t.latency.merge(c.latency);
    }
    return c;
  }

  /** Stops sending and closes every connection (1000); resolves when they have closed. */
  async stop(): Promise<void> {
    this.takeInterval();
    this.stopping = true;
    this.measuring = false;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(
      this.sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            const kill = setTimeout(() => ws.terminate(), 2000);
            ws.once('close', () => {
              clearTimeout(kill);
              resolve();
            });
            ws.close(1000, 'bench done');
          }),
      ),
    );
  }
}
