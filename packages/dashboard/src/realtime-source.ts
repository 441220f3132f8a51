// RealtimeSource: a RealtimeServer's numbers for the dashboard. Totals are read from the
// server's own prom-client metrics (so they equal what its Prometheus endpoint shows); channel
// rates and the frame inspector use a TrafficTap (`rt.taps`), channel tails an adapter
// subscription (every process's messages, not only this one's).
import type {
  AdapterEvent,
  Connection,
  RealtimeMetrics,
  RealtimeServer,
  TrafficTap,
} from '@ieum/realtime/server';
import { DisconnectCode } from '@ieum/realtime/server';
import type { ConnectionStats, TailTarget, Totals } from './sample.js';
import type { ChannelCount, StatsSource, TapFrame } from './stats-source.js';

/** Most channels counted per interval: beyond it new channels are not counted until the next one. */
export const MAX_COUNTED_CHANNELS = 1000;

function jsonSize(data: unknown): number {
  try {
    return JSON.stringify(data ?? null).length;
  } catch {
    return 0;
  }
}

async function sum(metric: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  const { values } = await metric.get();
  let n = 0;
  for (const v of values) n += v.value;
  return n;
}

async function byLabel(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  label: string,
  value: string,
): Promise<number> {
  const { values } = await metric.get();
  let n = 0;
  for (const v of values) if (String(v.labels[label]) === value) n += v.value;
  return n;
}

export class RealtimeSource implements StatsSource {
  readonly kind = 'realtime' as const;
  private readonly metrics: RealtimeMetrics;
  private channels = new Map<string, ChannelCount>();
  private readonly tap: TrafficTap<Connection>;
  private readonly connectionTails = new Map<string, Set<TapFrame>>();

  constructor(private readonly rt: RealtimeServer) {
    if (!rt.metrics) {
      throw new Error(
        'The dashboard reads the server’s metrics: create the RealtimeServer without `metrics: false`',
      );
    }
    this.metrics = rt.metrics;
    this.tap = {
      channelMessage: (channel, entry, subscribers) => {
        let c = this.channels.get(channel);
        if (!c) {
          if (this.channels.size >= MAX_COUNTED_CHANNELS) return;
          c = { messages: 0, deliveries: 0, bytesOut: 0, subscribers: 0 };
          this.channels.set(channel, c);
        }
        c.messages++;
        c.deliveries += subscribers;
        // The payload's JSON size (the packet adds the channel, event and offset): cheap and
        // close, without encoding the message again.
        c.bytesOut += jsonSize(entry.d) * subscribers;
        c.subscribers = subscribers;
      },
      received: (connection, data, isBinary) => {
        const tails = this.connectionTails.get(connection.id);
        if (tails)
          for (const f of tails) f('in', isBinary ? data : Buffer.from(data).toString('utf8'), isBinary);
      },
      sent: (connection, data) => {
        const tails = this.connectionTails.get(connection.id);
        if (tails) for (const f of tails) f('out', data, typeof data !== 'string');
      },
    };
    rt.taps.add(this.tap);
    rt.on('disconnect', this.onDisconnect);
  }

  private readonly onDisconnect = (connection: Connection) => {
    this.connectionTails.delete(connection.id);
  };

  async totals(): Promise<Totals> {
    const m = this.metrics;
    return {
      messagesIn: await sum(m.messagesIn),
      messagesOut: await sum(m.messagesOut),
      bytesIn: await sum(m.bytesIn),
      bytesOut: await sum(m.bytesOut),
      dropped: await sum(m.dropped),
      slowConsumerDisconnects: await byLabel(m.disconnects, 'code', String(DisconnectCode.SLOW_CONSUMER)),
      opened: await sum(m.connectionsOpened),
      disconnects: await sum(m.disconnects),
      recovered: await byLabel(m.recoveries, 'outcome', 'recovered'),
      reset: await byLabel(m.recoveries, 'outcome', 'reset'),
    };
  }

  connections(): number {
    return this.rt.connections.size;
  }

  async queued(): Promise<{ total: number; max: number }> {
    let max = 0;
    for (const c of this.rt.connections.values()) max = Math.max(max, c.queuedMessages);
    return { total: await sum(this.metrics.queued), max };
  }

  connectionList(max: number): ConnectionStats[] {
    const all: Connection[] = [...this.rt.connections.values()];
    all.sort((a, b) => b.queuedMessages - a.queuedMessages);
    return all.slice(0, max).map((c) => ({
      id: c.id,
      user: c.user,
      transport: c.transport,
      queued: c.queuedMessages,
      channels: c.channels.length,
    }));
  }

  takeChannels(): Map<string, ChannelCount> {
    const taken = this.channels;
    this.channels = new Map();
    return taken;
  }

  tail(target: TailTarget, onFrame: TapFrame): () => void {
    if (target.kind === 'connection') {
      if (!this.rt.connections.has(target.id)) throw new Error(`no open connection ${target.id}`);
      let set = this.connectionTails.get(target.id);
      if (!set) {
        set = new Set();
        this.connectionTails.set(target.id, set);
      }
      set.add(onFrame);
      return () => {
        set.delete(onFrame);
        if (set.size === 0) this.connectionTails.delete(target.id);
      };
    }
    const listener = (event: AdapterEvent) => {
      if (event.type === 'message')
        onFrame('pub', JSON.stringify({ ev: event.entry.ev, d: event.entry.d }), false);
    };
    const subscribed = this.rt.adapter.subscribe(target.name, listener);
    subscribed.catch(() => {});
    return () => {
      subscribed.then(
        () => this.rt.adapter.unsubscribe(target.name, listener).catch(() => {}),
        () => {},
      );
    };
  }

  close(): void {
    this.rt.taps.delete(this.tap);
    this.rt.off('disconnect', this.onDisconnect);
    this.connectionTails.clear();
  }
}
