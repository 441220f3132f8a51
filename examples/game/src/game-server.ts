// The game's netcode on the server: a 60 Hz fixed-timestep simulation fed by numbered client
// inputs, and per-client binary snapshots at `snapshotHz`, each a delta against the last snapshot
// that client acknowledged. Snapshots are sent with `connection.emit(..., { key })` under the
// realtime server's `latest` outbound policy: a client that cannot keep up gets the newest
// snapshot when its socket drains, never a backlog (a delta against an acknowledged base stays
// decodable whichever snapshots in between were dropped).
import type { Connection, RealtimeServer } from '@ieum/realtime/server';
import { FixedTimestepLoop, type TickInfo } from './fixed-timestep-loop.js';
import { GameEvents, type GameInfo, SNAPSHOT_EVENT } from './game-protocol.js';
import { GameWorld, type Player } from './game-world.js';
import { decodeInput } from './input-codec.js';
import { type Arena, TICK_HZ } from './movement.js';
import { type EntityMap, SnapshotWriter } from './snapshot-codec.js';

/** Snapshots the server keeps per client as possible delta bases. */
const MAX_BASES = 32;

export interface GameServerOptions {
  /** Snapshots per second per client; a divisor of 60 is sent evenly. Default 20. */
  snapshotHz?: number;
  /** Playing field in world units. Default 2000 × 1400. */
  arena?: Arena;
  /** Orbs on the field. Default one per 40,000 square units (70 on the default arena). */
  orbs?: number;
  /** Half-size of what a client is sent around its player, world units. Default 560 × 340. */
  view?: { halfWidth: number; halfHeight: number };
  /** Seed of spawn positions. Default 1. */
  seed?: number;
  /** Players at once; more are refused (close 1013). Default 1000. */
  maxPlayers?: number;
}

interface Client {
  readonly connection: Connection;
  readonly player: Player;
  /** The states sent, by tick, while not superseded by an acknowledged one. */
  readonly sent: Map<number, EntityMap>;
  ackTick: number;
  /** Snapshots go out on ticks where (tick + phase) % interval === 0: spread over ticks. */
  readonly phase: number;
}

/** Tick timing samples, for the bench. */
export interface TickSample {
  /** Milliseconds the tick started after it was due. */
  lateMs: number;
  /** Milliseconds the tick took (simulation and snapshots), wall clock. */
  durationMs: number;
  /**
   * Milliseconds of CPU the process used during the tick: the tick's cost without the time the
   * process waited for a core (on a busy machine the wall clock includes that).
   */
  cpuMs: number;
}

const NAME = /^[\p{L}\p{N} _.-]{1,24}$/u;

/** Player name from a client's token: trimmed, 1-24 letters, digits, spaces, `_.-`, else "player". */
export function playerName(token: string | undefined): string {
  const name = (token ?? '').trim();
  return NAME.test(name) ? name : 'player';
}

export class GameServer {
  readonly world: GameWorld;
  readonly loop: FixedTimestepLoop;
  private readonly clients = new Map<Connection, Client>();
  private readonly writer = new SnapshotWriter();
  private readonly interval: number;
  private readonly view: { halfWidth: number; halfHeight: number };
  private readonly maxPlayers: number;
  private nextPhase = 0;
  /** Snapshot bytes sent (before the realtime envelope). */
  snapshotBytes = 0;
  snapshotsSent = 0;
  /** Called after every tick with its timing (the bench records them). */
  onTickSample: ((s: TickSample) => void) | undefined;

  constructor(rt: RealtimeServer, options: GameServerOptions = {}) {
    const hz = options.snapshotHz ?? 20;
    if (!(hz >= 1 && hz <= TICK_HZ)) throw new RangeError(`snapshotHz must be within 1..${TICK_HZ}`);
    this.interval = Math.round(TICK_HZ / hz);
    const arena = options.arena ?? { width: 2000, height: 1400 };
    this.world = new GameWorld({
      arena,
      orbs: options.orbs ?? Math.round((arena.width * arena.height) / 40_000),
      seed: options.seed ?? 1,
    });
    this.view = options.view ?? { halfWidth: 560, halfHeight: 340 };
    this.maxPlayers = options.maxPlayers ?? 1000;
    this.loop = new FixedTimestepLoop({ hz: TICK_HZ, onTick: (info) => this.tick(info) });
    rt.on('connection', (c) => this.join(c));
    rt.on('disconnect', (c) => this.leave(c));
    rt.handle(GameEvents.input, (data, c) => this.receiveInput(c, data));
    rt.handle(GameEvents.ping, () => null);
    const info: GameInfo = { arena, tickHz: TICK_HZ, snapshotHz: TICK_HZ / this.interval, view: this.view };
    rt.handle(GameEvents.info, () => info);
  }

  /** Players in the game. */
  get players(): number {
    return this.clients.size;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  private join(connection: Connection): void {
    if (this.clients.size >= this.maxPlayers) {
      connection.close(1013, 'the arena is full, try again later');
      return;
    }
    const player = this.world.addPlayer(playerName(connection.user));
    this.clients.set(connection, {
      connection,
      player,
      sent: new Map(),
      ackTick: 0,
      phase: this.nextPhase++ % this.interval,
    });
  }

  private leave(connection: Connection): void {
    const client = this.clients.get(connection);
    if (!client) return;
    this.clients.delete(connection);
    this.world.removePlayer(client.player.id);
  }

  private receiveInput(connection: Connection, data: unknown): void {
    const client = this.clients.get(connection);
    if (!client) return;
    let input: ReturnType<typeof decodeInput>;
    try {
      input = decodeInput(data);
    } catch (error) {
      connection.close(4400, `bad input: ${(error as Error).message}`);
      return;
    }
    if (input.ackTick === 0) {
      client.ackTick = 0; // the client lost its bases: the next snapshot is a full one
    } else if (input.ackTick > client.ackTick && client.sent.has(input.ackTick)) {
      client.ackTick = input.ackTick;
      for (const tick of client.sent.keys()) if (tick < input.ackTick) client.sent.delete(tick);
    }
    this.world.queueInputs(client.player, input.firstSeq, input.buttons);
  }

  private tick(info: TickInfo): void {
    const started = performance.now();
    const cpu = this.onTickSample ? process.cpuUsage() : undefined;
    this.world.step();
    const tick = this.world.tick;
    const players = this.clients.size;
    for (const client of this.clients.values()) {
      if ((tick + client.phase) % this.interval !== 0) continue;
      const view = this.world.viewOf(client.player, this.view.halfWidth, this.view.halfHeight);
      const base = client.ackTick === 0 ? undefined : client.sent.get(client.ackTick);
      const bytes = this.writer.encode(
        { tick, ackSeq: client.player.ackSeq, you: client.player.id, players },
        view,
        base && { tick: client.ackTick, entities: base },
      );
      client.connection.emit(SNAPSHOT_EVENT, bytes, { key: SNAPSHOT_EVENT });
      this.snapshotBytes += bytes.length;
      this.snapshotsSent++;
      client.sent.set(tick, view);
      if (client.sent.size > MAX_BASES) {
        const oldest = client.sent.keys().next().value!;
        client.sent.delete(oldest);
        if (oldest === client.ackTick) client.ackTick = 0;
      }
    }
    if (this.onTickSample) {
      const used = process.cpuUsage(cpu);
      const durationMs = performance.now() - started;
      this.onTickSample({ lateMs: info.lateMs, durationMs, cpuMs: (used.user + used.system) / 1000 });
    }
  }
}
