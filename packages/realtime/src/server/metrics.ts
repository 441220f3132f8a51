// Prometheus metrics for a realtime server (prom-client). Rates (messages and bytes per second)
// are `rate()` over these counters in Prometheus, or `ieum top` style tools reading them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';

export interface MetricsOptions {
  /** Registry to register into. Default: a new registry of this server's own. */
  registry?: Registry;
  /** Metric name prefix. Default `ieum_`. */
  prefix?: string;
}

export class RealtimeMetrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly messagesIn: Counter;
  readonly messagesOut: Counter;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly queued: Gauge;
  readonly dropped: Counter;
  readonly disconnects: Counter<'code'>;
  /** Authenticated connections opened (reconnects included). */
  readonly connectionsOpened: Counter;
  /** Subscriptions resumed from a client's position, by outcome: `recovered` or `reset`. */
  readonly recoveries: Counter<'outcome'>;

  constructor(options: MetricsOptions = {}, queuedMessages: () => number = () => 0) {
    this.registry = options.registry ?? new Registry();
    const p = options.prefix ?? 'ieum_';
    const registers = [this.registry];
    this.connections = new Gauge({ name: `${p}connections`, help: 'Open realtime connections', registers });
    this.messagesIn = new Counter({
      name: `${p}messages_received_total`,
      help: 'Messages received from clients',
      registers,
    });
    this.messagesOut = new Counter({
      name: `${p}messages_sent_total`,
      help: 'Messages sent to clients',
      registers,
    });
    this.bytesIn = new Counter({
      name: `${p}bytes_received_total`,
      help: 'Message bytes received',
      registers,
    });
    this.bytesOut = new Counter({
      name: `${p}bytes_sent_total`,
      help: 'Message bytes sent (before framing)',
      registers,
    });
    this.queued = new Gauge({
      name: `${p}outbound_queued_messages`,
      help: 'Messages waiting in per-connection outbound queues',
      registers,
      collect() {
        this.set(queuedMessages());
      },
    });
    this.dropped = new Counter({
      name: `${p}outbound_dropped_total`,
      help: 'Messages not sent to a slow connection (drop and latest policies)',
      registers,
    });
    this.disconnects = new Counter({
      name: `${p}disconnects_total`,
      help: 'Closed connections by close code',
      labelNames: ['code'],
      registers,
    });
    this.connectionsOpened = new Counter({
      name: `${p}connections_opened_total`,
      help: 'Authenticated connections opened, reconnects included',
      registers,
    });
    this.recoveries = new Counter({
      name: `${p}recoveries_total`,
      help: 'Subscriptions resumed from a client position (reconnects), by outcome: recovered or reset',
      labelNames: ['outcome'],
      registers,
    });
  }

  /** An HTTP handler answering with the Prometheus text format. */
  handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message),
      );
    };
  }
}
