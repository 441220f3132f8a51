// Sampler: turns a StatsSource's cumulative counters into one `Sample` per interval (rates are
// the counters' differences over the measured time), with the event-loop delay of the interval.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChannelStats, Rates, Sample, Totals } from './sample.js';
import { ZERO_TOTALS } from './sample.js';
import type { StatsSource } from './stats-source.js';

/** Milliseconds between event-loop probes (`monitorEventLoopDelay`). */
const LOOP_RESOLUTION_MS = 10;

export interface SamplerOptions {
  /** Busiest channels kept per sample. */
  maxChannels: number;
  /** Connections (fullest queues first) kept per sample. */
  maxConnections: number;
}

export class Sampler {
  private previous: { at: number; totals: Totals } | undefined;
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

  constructor(
    private readonly source: StatsSource,
    private readonly options: SamplerOptions,
  ) {
    this.loop.enable();
  }

  /** Takes a sample; the first one has zero rates (nothing to compare with yet). */
  async take(): Promise<Sample> {
    const at = Date.now();
    const totals = await this.source.totals();
    const prev = this.previous ?? { at, totals };
    const seconds = Math.max(at - prev.at, 1) / 1000;
    const rates = {} as Rates;
    for (const k of Object.keys(ZERO_TOTALS) as Array<keyof Totals>) {
      rates[k] = Math.max(0, totals[k] - prev.totals[k]) / seconds;
    }
    const channels: ChannelStats[] = [...this.source.takeChannels()]
      .map(([name, c]) => ({
        name,
        subscribers: c.subscribers,
        messagesPerSecond: c.messages / seconds,
        deliveriesPerSecond: c.deliveries / seconds,
        bytesOutPerSecond: c.bytesOut / seconds,
      }))
      .sort((a, b) => b.deliveriesPerSecond - a.deliveriesPerSecond)
      .slice(0, this.options.maxChannels);
    // The histogram records the time between probes, which includes the probe interval itself.
    const ms = (ns: number) =>
      Number.isFinite(ns) ? Math.max(0, Math.round((ns - LOOP_RESOLUTION_MS * 1e6) / 1e4) / 100) : 0;
    const eventLoop =
      this.loop.count > 0
        ? { p50: ms(this.loop.percentile(50)), p99: ms(this.loop.percentile(99)), max: ms(this.loop.max) }
        : { p50: 0, p99: 0, max: 0 };
    this.loop.reset();
    const sample: Sample = {
      at,
      intervalMs: this.previous ? at - prev.at : 0,
      source: this.source.kind,
      connections: this.source.connections(),
      totals,
      rates,
      queued: await this.source.queued(),
      eventLoop,
      channels,
      connectionList: this.source.connectionList(this.options.maxConnections),
    };
    this.previous = { at, totals };
    return sample;
  }

  stop(): void {
    this.loop.disable();
  }
}
