// One connection's presence state writes: latest value per channel, at most one adapter write per
// channel in flight and one per `presenceFlushIntervalMs`. A client moving its cursor 60 times a
// second costs the adapter (Redis, NATS) 10 writes a second, each carrying the newest state.

/** Default `maxPresenceStateBytes`: 2 KiB (a cursor, a selection, a status and a name fit). */
export const DEFAULT_MAX_PRESENCE_STATE_BYTES = 2048;

interface ChannelWrites {
  /** The newest state not yet written (`has`: whether there is one). */
  next: { state: unknown } | undefined;
  busy: boolean;
  last: number;
  timer: NodeJS.Timeout | undefined;
}

export class PresenceWriter {
  private readonly channels = new Map<string, ChannelWrites>();
  private stopped = false;

  constructor(
    /** Stores the state in the adapter (false/rejection: reported, not retried). */
    private readonly write: (channel: string, state: unknown) => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly report: (error: Error) => void,
  ) {}

  /** Records `state` as the connection's newest in `channel`; written soon, unless replaced. */
  set(channel: string, state: unknown): void {
    if (this.stopped) return;
    let c = this.channels.get(channel);
    if (!c) {
      c = { next: undefined, busy: false, last: Number.NEGATIVE_INFINITY, timer: undefined };
      this.channels.set(channel, c);
    }
    c.next = { state };
    this.schedule(channel, c);
  }

  /** Forgets what waits for `channel` (the subscription ended: the adapter drops the state). */
  drop(channel: string): void {
    const c = this.channels.get(channel);
    if (!c) return;
    clearTimeout(c.timer);
    this.channels.delete(channel);
  }

  /** Forgets everything (the connection closed). */
  stop(): void {
    this.stopped = true;
    for (const c of this.channels.values()) clearTimeout(c.timer);
    this.channels.clear();
  }

  private schedule(channel: string, c: ChannelWrites): void {
    if (c.busy || c.timer || !c.next) return;
    const wait = Math.max(0, c.last + this.intervalMs - Date.now());
    c.timer = setTimeout(() => {
      c.timer = undefined;
      void this.flush(channel, c);
    }, wait);
  }

  private async flush(channel: string, c: ChannelWrites): Promise<void> {
    const next = c.next;
    if (!next || this.channels.get(channel) !== c) return;
    c.next = undefined;
    c.busy = true;
    c.last = Date.now();
    try {
      await this.write(channel, next.state);
    } catch (error) {
      this.report(error as Error);
    } finally {
      c.busy = false;
    }
    if (this.channels.get(channel) === c) this.schedule(channel, c);
  }
}
