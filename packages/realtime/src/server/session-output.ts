// What a session sends, counted: every message goes through its outbound queue (the slow-consumer
// policy decides what a backed-up queue does), the metrics count what was sent and dropped, and a
// queue past its limits closes the session (4409).
import type { Codec } from '../codec/codec.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import type { OutboundQueue } from '../transports/outbound-queue.js';
import { isShared, type Outgoing } from '../transports/transport.js';
import type { LiveMessage } from './hub.js';
import type { SessionMetrics } from './session-deps.js';
import type { TrafficTap } from './traffic-tap.js';

/** What the output needs from its session. */
export interface OutputHost {
  /** Whether the session is closing: nothing more is sent. */
  closing(): boolean;
  fail(code: number, reason: string): void;
}

export class SessionOutput<S> {
  constructor(
    private readonly session: S,
    private readonly queue: OutboundQueue,
    private readonly codec: Codec,
    private readonly metrics: SessionMetrics | undefined,
    /** Observers of the traffic (`rt.taps`), told of each message sent. */
    private readonly taps: ReadonlySet<TrafficTap<S>>,
    private readonly host: OutputHost,
  ) {}

  /** Sends (or queues) `data`; `key` names the value it carries for the `latest` policy. */
  send(data: Outgoing, key?: string): void {
    if (this.host.closing()) return;
    const result = this.queue.push(data, key);
    const m = this.metrics;
    if (result === 'overflow') {
      this.overflow();
      return;
    }
    if (result === 'dropped' || result === 'replaced') m?.dropped.inc();
    if (result === 'dropped') return;
    const raw = isShared(data) ? data.data : data;
    if (m) {
      m.messagesOut.inc();
      m.bytesOut.inc(typeof raw === 'string' ? raw.length : raw.byteLength);
    }
    for (const tap of this.taps) tap.sent?.(this.session, raw);
  }

  /** `send` for each of a fan-out's messages (shared, in the session's codec), counted once. */
  sendLive(messages: readonly LiveMessage[]): void {
    if (this.host.closing()) return;
    const codec = this.codec;
    let sent = 0;
    let bytes = 0;
    let dropped = 0;
    for (let i = 0; i < messages.length; i++) {
      const live = messages[i]!;
      const data = live.shared(codec);
      const result = this.queue.push(data, live.queueKey);
      if (result === 'overflow') {
        this.overflow();
        break;
      }
      if (result === 'dropped' || result === 'replaced') dropped++;
      if (result !== 'dropped') {
        sent++;
        const raw = data.data;
        bytes += typeof raw === 'string' ? raw.length : raw.byteLength;
        if (this.taps.size !== 0) for (const tap of this.taps) tap.sent?.(this.session, raw);
      }
    }
    const m = this.metrics;
    if (m) {
      if (dropped !== 0) m.dropped.inc(dropped);
      if (sent !== 0) {
        m.messagesOut.inc(sent);
        m.bytesOut.inc(bytes);
      }
    }
  }

  private overflow(): void {
    this.queue.clear();
    this.host.fail(DisconnectCode.SLOW_CONSUMER, 'outbound queue full');
  }
}
