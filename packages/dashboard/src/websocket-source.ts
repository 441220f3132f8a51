// WebSocketSource: a plain @ieum/websocket WebSocketServer's numbers for the dashboard. Such a
// server has no metrics of its own, so this counts them: every connection's `message` events,
// and its `send` calls (wrapped on each connection object; the prototype is left alone).
import type { RawData, WebSocket, WebSocketServer } from '@ieum/websocket';
import { type ConnectionStats, type TailTarget, type Totals, ZERO_TOTALS } from './sample.js';
import type { ChannelCount, StatsSource, TapFrame } from './stats-source.js';

/** A WebSocket close code for a slow consumer, as @ieum/realtime uses it. */
const SLOW_CONSUMER = 4409;

function size(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (Array.isArray(data)) return data.reduce((n: number, b: Uint8Array) => n + b.byteLength, 0);
  return 0;
}

function bytesOf(data: unknown): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Buffer.concat(data as Uint8Array[]);
  return '';
}

export class WebSocketSource implements StatsSource {
  readonly kind = 'websocket' as const;
  private readonly counts: Totals = { ...ZERO_TOTALS };
  private readonly ids = new WeakMap<WebSocket, string>();
  private readonly byId = new Map<string, WebSocket>();
  private readonly tails = new Map<string, Set<TapFrame>>();
  private nextId = 1;
  private readonly onConnection = (ws: WebSocket) => this.watch(ws);

  constructor(private readonly wss: WebSocketServer) {
    // Sockets are counted by this source, not from `clients` (empty with `clientTracking: false`),
    // from their `connection` event on (with `noServer`, emit it as ws users do).
    for (const ws of wss.clients) this.watch(ws);
    // First, so that its `message` listener sees a message before the application answers it.
    wss.prependListener('connection', this.onConnection);
  }

  private watch(ws: WebSocket): void {
    if (this.ids.has(ws)) return;
    const id = `ws-${this.nextId++}`;
    this.ids.set(ws, id);
    this.byId.set(id, ws);
    this.counts.opened++;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.counts.messagesIn++;
      this.counts.bytesIn += size(data);
      const tails = this.tails.get(id);
      if (tails) for (const f of tails) f('in', isBinary ? bytesOf(data) : String(data), isBinary);
    });
    ws.on('close', (code: number) => {
      this.counts.disconnects++;
      if (code === SLOW_CONSUMER) this.counts.slowConsumerDisconnects++;
      this.byId.delete(id);
      this.tails.delete(id);
    });
    const send = ws.send;
    ws.send = ((data: unknown, ...rest: unknown[]) => {
      this.counts.messagesOut++;
      this.counts.bytesOut += size(data);
      const tails = this.tails.get(id);
      if (tails) {
        // As ws: `binary` defaults to whether the data is not a string.
        const option = (rest[0] as { binary?: boolean } | undefined)?.binary;
        const binary = typeof option === 'boolean' ? option : typeof data !== 'string';
        const bytes = bytesOf(data);
        const shown = binary || typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
        for (const f of tails) f('out', shown, binary);
      }
      return (send as (...args: unknown[]) => void).call(ws, data, ...rest);
    }) as typeof ws.send;
  }

  totals(): Promise<Totals> {
    return Promise.resolve({ ...this.counts });
  }

  connections(): number {
    return this.byId.size;
  }

  /** A plain WebSocketServer queues bytes, not messages: nothing to report. */
  queued(): Promise<{ total: number; max: number }> {
    return Promise.resolve({ total: 0, max: 0 });
  }

  connectionList(max: number): ConnectionStats[] {
    const list: ConnectionStats[] = [];
    for (const [id] of this.byId) {
      if (list.length >= max) break;
      list.push({ id, user: undefined, transport: 'websocket', queued: 0, channels: 0 });
    }
    return list;
  }

  /** A plain WebSocketServer has no channels. */
  takeChannels(): Map<string, ChannelCount> {
    return new Map();
  }

  tail(target: TailTarget, onFrame: TapFrame): () => void {
    if (target.kind !== 'connection')
      throw new Error('a plain WebSocketServer has no channels; tail a connection');
    if (!this.byId.has(target.id)) throw new Error(`no open connection ${target.id}`);
    let set = this.tails.get(target.id);
    if (!set) {
      set = new Set();
      this.tails.set(target.id, set);
    }
    set.add(onFrame);
    return () => set.delete(onFrame);
  }

  close(): void {
    this.wss.off('connection', this.onConnection);
    this.tails.clear();
  }
}
