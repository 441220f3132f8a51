// Per-session outbound queue: writes go straight to the transport while it keeps up; past
// `highWaterBytes` of unsent data they wait here, bounded, and a policy decides what happens when
// the bound is reached. Corked (a fan-out turn, a replay slice), what would go straight out is
// gathered and leaves as one batch (`Transport.writeMany`: one socket write) when uncorked.
import type { Outgoing, Transport } from './transport.js';

export type SlowConsumerPolicy = 'disconnect' | 'drop' | 'latest';

export interface OutboundLimits {
  /** Messages waiting per connection before the policy applies. Default 1,000. */
  maxQueuedMessages: number;
  /** Bytes waiting per connection before the policy applies. Default 4 MiB. */
  maxQueuedBytes: number;
  /** Unsent socket bytes above which messages wait in the queue. Default 256 KiB. */
  highWaterBytes: number;
  /**
   * When the queue is full: `disconnect` (close 4409; the client reconnects and recovers from
   * history), `drop` (the new message is not sent to this connection; counted in metrics), or
   * `latest` (a queued message with the same key is replaced, keeping only the latest value per
   * key; messages without a key fall back to `disconnect`). Default `disconnect`.
   */
  policy: SlowConsumerPolicy;
}

export const DEFAULT_OUTBOUND: OutboundLimits = {
  maxQueuedMessages: 1000,
  maxQueuedBytes: 4 * 1024 * 1024,
  highWaterBytes: 256 * 1024,
  policy: 'disconnect',
};

/** Where the queue writes: a `Transport` (`writeMany` optional: batches then go one by one). */
export type Sink = Pick<Transport, 'bufferedAmount' | 'write'> & Partial<Pick<Transport, 'writeMany'>>;

interface Item {
  data: Outgoing;
  bytes: number;
  key: string | undefined;
}

export type EnqueueResult = 'sent' | 'queued' | 'replaced' | 'dropped' | 'overflow';

const encodedLength = (d: string | Uint8Array) => (typeof d === 'string' ? d.length * 3 : d.byteLength);

/** Bytes `data` may take on the wire (strings: at most 3 UTF-8 bytes per UTF-16 unit). */
export const byteLength = (d: Outgoing): number =>
  typeof d === 'string' || d instanceof Uint8Array ? encodedLength(d) : encodedLength(d.data);

export class OutboundQueue {
  private items: Item[] = [];
  private head = 0;
  private bytes = 0;
  private readonly byKey = new Map<string, Item>();
  /** Called once each, the next time the queue is writable (or is cleared). */
  private readonly waiters = new Set<() => void>();
  /** Nesting of `cork` calls; while above 0, what would be written waits in `batch`. */
  private corks = 0;
  /** Messages gathered while corked, written as one batch by the last `uncork`. */
  private batch: Outgoing[] = [];
  /** Bytes in `batch`, counted as written: the high-water mark sees them. */
  private batchBytes = 0;

  constructor(
    private readonly sink: Sink,
    private readonly limits: OutboundLimits,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /** Unsent bytes: the transport's, and those gathered while corked. */
  private get buffered(): number {
    return this.sink.bufferedAmount + this.batchBytes;
  }

  /** Whether a message pushed now would go straight to the socket. */
  get writable(): boolean {
    return this.length === 0 && this.buffered < this.limits.highWaterBytes;
  }

  /**
   * Gathers what would be written from now on until the matching `uncork`, which writes it as
   * one batch. Limits and policies apply to each message as if it had been written.
   */
  cork(): void {
    this.corks++;
  }

  /** Ends a `cork`; the outermost writes what was gathered, in order. */
  uncork(): void {
    if (this.corks === 0 || --this.corks !== 0 || this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 1) this.sink.write(batch[0]!, this.onWritten);
    else if (this.sink.writeMany) this.sink.writeMany(batch, this.onWritten);
    else for (const data of batch) this.sink.write(data, this.onWritten);
  }

  /** Writes `data` now, or into the batch while corked. */
  private write(data: Outgoing): void {
    if (this.corks === 0) {
      this.sink.write(data, this.onWritten);
      return;
    }
    this.batch.push(data);
    this.batchBytes += byteLength(data);
  }

  /**
   * Calls `callback` once the queue is writable again, after a write of this queue completes or
   * when it is cleared. Returns a function that cancels the call.
   */
  onWritable(callback: () => void): () => void {
    this.waiters.add(callback);
    return () => this.waiters.delete(callback);
  }

  private wake(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /**
   * Sends or queues `data`. `key` names the value it carries for the `latest` policy. Returns
   * 'overflow' when the caller must disconnect the peer (the message was not queued).
   */
  push(data: Outgoing, key?: string): EnqueueResult {
    if (this.length === 0 && this.buffered < this.limits.highWaterBytes) {
      this.write(data);
      return 'sent';
    }
    const bytes = byteLength(data);
    if (this.limits.policy === 'latest' && key !== undefined) {
      const queued = this.byKey.get(key);
      if (queued) {
        this.bytes += bytes - queued.bytes;
        queued.data = data;
        queued.bytes = bytes;
        return 'replaced';
      }
    }
    if (this.length + 1 > this.limits.maxQueuedMessages || this.bytes + bytes > this.limits.maxQueuedBytes) {
      return this.limits.policy === 'drop' ? 'dropped' : 'overflow';
    }
    const item: Item = { data, bytes, key };
    this.items.push(item);
    this.bytes += bytes;
    if (key !== undefined && this.limits.policy === 'latest') this.byKey.set(key, item);
    return 'queued';
  }

  private readonly onWritten = () => this.flush();

  /** Moves queued messages to the socket while it is below the high-water mark. */
  flush(): void {
    while (this.length > 0 && this.buffered < this.limits.highWaterBytes) {
      const item = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as Item;
      this.bytes -= item.bytes;
      if (item.key !== undefined && this.byKey.get(item.key) === item) this.byKey.delete(item.key);
      this.write(item.data);
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.writable) this.wake();
  }

  clear(): void {
    this.batch = [];
    this.batchBytes = 0;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    this.byKey.clear();
    this.wake();
  }
}
