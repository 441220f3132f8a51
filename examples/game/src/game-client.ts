// The game's netcode on the client, without any DOM: the page draws what it holds, the bench's
// bots run it in Node. Inputs are sampled at the server's 60 Hz on the client's own clock, applied
// at once (prediction) and sent numbered, batched `inputsPerMessage` at a time; snapshots are
// decoded against the acknowledged base, reconcile the own player and feed the interpolation.
import {
  type ConnectionState,
  msgpackCodec,
  RealtimeClient,
  type WebSocketConstructor,
} from '@ieum/realtime/client';
import { GameEvents, type GameInfo, SNAPSHOT_EVENT } from './game-protocol.js';
import { encodeInput, MAX_INPUTS_PER_MESSAGE } from './input-codec.js';
import { Interpolator } from './interpolator.js';
import { TICK_HZ } from './movement.js';
import { Predictor } from './prediction.js';
import { RenderClock } from './render-clock.js';
import {
  decodeSnapshot,
  type EntityMap,
  type Snapshot,
  SnapshotError,
  snapshotBaseTick,
} from './snapshot-codec.js';

/** Decoded snapshot states kept as bases for the next deltas. */
const MAX_BASES = 64;
/** Longest stretch of time the client catches up on at once (a background tab, a debugger). */
const MAX_CATCH_UP_MS = 250;

export interface GameClientOptions {
  /** The player's name (sent as the realtime token). */
  name: string;
  /** WebSocket implementation (Node < 22: from `@ieum/websocket`). Default the global one. */
  WebSocket?: WebSocketConstructor;
  /** Inputs per message: 1 sends every step (60 Hz), 3 sends at 20 Hz. Default 1. */
  inputsPerMessage?: number;
  /** Milliseconds between pings. Default 1,000. */
  pingIntervalMs?: number;
  /** Reconnect after a disconnect (a server restart). Default true. */
  reconnect?: boolean;
}

export class GameClient {
  readonly rt: RealtimeClient;
  readonly interpolator = new Interpolator();
  readonly clock = new RenderClock();
  predictor: Predictor | undefined;
  info: GameInfo | undefined;
  /** The newest snapshot decoded. */
  latest: Snapshot | undefined;
  /** Round trip of the last ping, milliseconds. */
  pingMs: number | undefined;
  /** Snapshots received, bytes received (snapshot payloads), corrections applied. */
  readonly stats = { snapshots: 0, bytes: 0, corrections: 0, fullSnapshots: 0 };
  /** Called with (seq, milliseconds from sending input `seq` to the first snapshot acknowledging it). */
  onAck: ((seq: number, ms: number) => void) | undefined;
  private readonly bases = new Map<number, EntityMap>();
  private readonly inputsPerMessage: number;
  private batch: number[] = [];
  private batchFirstSeq = 0;
  private readonly sentAt = new Map<number, number>();
  private lastAck = 0;
  private lastStepAt: number | undefined;
  private accumulator = 0;
  private pingTimer: ReturnType<typeof setInterval> | undefined;

  constructor(url: string, options: GameClientOptions) {
    this.inputsPerMessage = Math.min(MAX_INPUTS_PER_MESSAGE, Math.max(1, options.inputsPerMessage ?? 1));
    this.rt = new RealtimeClient(url, {
      token: options.name,
      codec: msgpackCodec,
      transports: ['websocket'],
      // Each tab is a player: no connection shared with the other tabs of the browser.
      shareConnection: false,
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      ...(options.reconnect === false ? { reconnect: false } : {}),
    });
    this.rt.handle(SNAPSHOT_EVENT, (data) => {
      this.receiveSnapshot(data as Uint8Array, performance.now());
      return null;
    });
    this.rt.on('state', (state) => this.onState(state));
    this.pingTimer = setInterval(() => void this.ping(), options.pingIntervalMs ?? 1000);
  }

  get state(): ConnectionState {
    return this.rt.state;
  }

  /** Milliseconds of one simulation step. */
  get stepMs(): number {
    return 1000 / TICK_HZ;
  }

  /** Fraction of a step elapsed since the last one, to draw the own player between steps. */
  get alpha(): number {
    return this.accumulator / this.stepMs;
  }

  private onState(state: ConnectionState): void {
    if (state === 'open') {
      this.rt
        .request(GameEvents.info, null)
        .then((reply) => {
          const info = reply as GameInfo;
          this.info = info;
          this.predictor = new Predictor(info.arena);
        })
        .catch(() => {});
    } else {
      // A new connection is a new player: nothing of the old one carries over.
      this.predictor?.reset();
      this.bases.clear();
      this.latest = undefined;
      this.batch = [];
      this.sentAt.clear();
      this.lastAck = 0;
      this.interpolator.reset();
      this.clock.reset();
    }
  }

  private async ping(): Promise<void> {
    if (this.rt.state !== 'open') return;
    const started = performance.now();
    try {
      await this.rt.request(GameEvents.ping, null, { timeoutMs: 5000 });
      this.pingMs = performance.now() - started;
    } catch {
      // a lost ping shows as the previous value; the connection state says the rest
    }
  }

  /**
   * Runs the simulation steps due at `nowMs` (monotonic milliseconds), each with the buttons held
   * now, and sends the inputs. Call it every frame.
   */
  update(nowMs: number, buttons: number): void {
    if (this.lastStepAt === undefined) this.lastStepAt = nowMs;
    this.accumulator = Math.min(this.accumulator + nowMs - this.lastStepAt, MAX_CATCH_UP_MS);
    this.lastStepAt = nowMs;
    const predictor = this.predictor;
    while (this.accumulator >= this.stepMs) {
      this.accumulator -= this.stepMs;
      // Until the first snapshot there is nothing to steer.
      if (!predictor?.body || this.rt.state !== 'open') continue;
      const seq = predictor.apply(buttons);
      if (this.batch.length === 0) this.batchFirstSeq = seq;
      this.batch.push(buttons);
      if (this.batch.length >= this.inputsPerMessage) this.flush(nowMs);
    }
  }

  private flush(nowMs: number): void {
    if (this.batch.length === 0) return;
    for (let i = 0; i < this.batch.length; i++) this.sentAt.set(this.batchFirstSeq + i, nowMs);
    const message = encodeInput({
      ackTick: this.latest?.tick ?? 0,
      firstSeq: this.batchFirstSeq,
      buttons: this.batch,
    });
    this.batch = [];
    this.rt.emit(GameEvents.input, message);
  }

  /** Decodes a snapshot (exposed for tests); `nowMs` is its arrival time. */
  receiveSnapshot(bytes: Uint8Array, nowMs: number): void {
    let snapshot: Snapshot;
    try {
      const baseTick = snapshotBaseTick(bytes);
      snapshot = decodeSnapshot(bytes, baseTick === 0 ? undefined : this.bases.get(baseTick));
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      // A base we no longer have: ask for a full snapshot (ack tick 0) with the next input.
      this.latest = undefined;
      return;
    }
    if (this.latest && snapshot.tick <= this.latest.tick) return;
    this.stats.snapshots++;
    this.stats.bytes += bytes.length;
    if (snapshot.baseTick === 0) this.stats.fullSnapshots++;
    this.bases.set(snapshot.tick, snapshot.entities);
    // The server picks bases from our acks, which only move forward: older ones are useless.
    for (const tick of this.bases.keys()) {
      if (tick < snapshot.baseTick || this.bases.size > MAX_BASES) this.bases.delete(tick);
      else break;
    }
    this.latest = snapshot;
    const own = snapshot.entities.get(snapshot.you);
    if (own && this.predictor) {
      if (this.predictor.reconcile(snapshot.ackSeq, own) > 0) this.stats.corrections++;
    }
    for (let seq = this.lastAck + 1; seq <= snapshot.ackSeq; seq++) {
      const at = this.sentAt.get(seq);
      if (at === undefined) continue;
      this.sentAt.delete(seq);
      this.onAck?.(seq, nowMs - at);
    }
    this.lastAck = Math.max(this.lastAck, snapshot.ackSeq);
    this.interpolator.push(snapshot.tick, snapshot.entities);
    this.clock.observe(snapshot.tick, nowMs);
  }

  close(): void {
    clearInterval(this.pingTimer);
    this.rt.close();
  }
}
