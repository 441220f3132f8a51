// Presence across processes. Every connection is a member with an expiry time; this process
// renews its own every presenceTtlMs/3 and sweeps everyone's expired members in the channels it
// cares about, so the users of a process that died get their `leave` (from whichever process
// sweeps first: the sweep is atomic, so exactly once).
import type { PresenceChange, PresenceListEntry } from '@ieum/realtime/adapter';
import type { Cluster, Redis } from 'ioredis';
import { decodeInfo, decodeState, encodeInfo, encodeJoinFrame, encodeState, parseMember } from './frames.js';
import { type ChannelKeys, channelKeys, presenceMember } from './keys.js';
import type { ScriptCommands } from './scripts.js';

/** What presence needs from its adapter. */
export interface PresenceHost {
  readonly connection: (Redis | Cluster) & ScriptCommands;
  readonly prefix: string;
  readonly ttlMs: number;
  sharded(): boolean;
  /** Runs `op` once Redis is reachable, turning a lost connection into REDIS_ERR_UNAVAILABLE. */
  run<T>(what: string, op: () => Promise<T>): Promise<T>;
  /** Whether both connections are up now (upkeep is skipped, not queued, while they are not). */
  up(): boolean;
  /** Channels this process listens to: their expired members are swept too. */
  listened(): string[];
  report(error: Error): void;
}

interface Member {
  user: string;
  connection: string;
  info: unknown;
}

export class Presence {
  /** This process's members: channel -> member -> who. */
  private readonly mine = new Map<string, Map<string, Member>>();
  private readonly timer: NodeJS.Timeout;
  private refreshing = false;

  constructor(private readonly host: PresenceHost) {
    this.timer = setInterval(() => void this.refresh(), Math.max(10, host.ttlMs / 3));
    this.timer.unref();
  }

  private keys(channel: string): ChannelKeys {
    return channelKeys(this.host.prefix, channel);
  }

  private flag(): string {
    return this.host.sharded() ? '1' : '0';
  }

  private async add(m: Member, k: ChannelKeys): Promise<boolean> {
    const changed = await this.host.connection.ieumPresenceJoin(
      k.users,
      k.counts,
      k.conns,
      k.states,
      m.user,
      presenceMember(m.user, m.connection),
      encodeInfo(m.info),
      this.host.ttlMs,
      2 * this.host.ttlMs,
      this.flag(),
      k.topic,
      encodeJoinFrame(m.user, m.info),
    );
    return changed === 1;
  }

  async join(channel: string, user: string, connection: string, info: unknown): Promise<PresenceChange> {
    const k = this.keys(channel); // refuses a malformed name before anything is remembered
    const member: Member = { user, connection, info };
    const key = presenceMember(user, connection);
    // Remembered before the script is sent, so a leave issued while it runs forgets it again
    // (remembering it afterwards would renew a member that has left, for ever).
    let members = this.mine.get(channel);
    if (!members) {
      members = new Map();
      this.mine.set(channel, members);
    }
    members.set(key, member);
    try {
      return {
        changed: await this.host.run(`presence join in "${channel}"`, () => this.add(member, k)),
      };
    } catch (error) {
      if (this.mine.get(channel)?.get(key) === member) this.forget(channel, key);
      throw error;
    }
  }

  private forget(channel: string, key: string): void {
    const members = this.mine.get(channel);
    members?.delete(key);
    if (members?.size === 0) this.mine.delete(channel);
  }

  async leave(channel: string, user: string, connection: string): Promise<PresenceChange> {
    const k = this.keys(channel);
    const member = presenceMember(user, connection);
    // Forgotten first: should Redis be unreachable, the member expires instead of being renewed.
    this.forget(channel, member);
    const changed = await this.host.run(`presence leave in "${channel}"`, () =>
      this.host.connection.ieumPresenceLeave(
        k.users,
        k.counts,
        k.conns,
        k.states,
        user,
        member,
        this.flag(),
        k.topic,
      ),
    );
    return { changed: changed === 1 };
  }

  /**
   * Sets a present connection's state; false when it is not present. The state is not kept in
   * `mine`: a member swept while this process was cut off joins again without it (its client
   * sets it again on its next update).
   */
  async update(channel: string, user: string, connection: string, state: unknown): Promise<boolean> {
    const k = this.keys(channel);
    const member = presenceMember(user, connection);
    const done = await this.host.run(`presence update in "${channel}"`, () =>
      this.host.connection.ieumPresenceUpdate(
        k.users,
        k.counts,
        k.conns,
        k.states,
        member,
        encodeState(state),
        2 * this.host.ttlMs,
        this.flag(),
        k.topic,
      ),
    );
    return done === 1;
  }

  async list(channel: string): Promise<PresenceListEntry[]> {
    const k = this.keys(channel);
    const [flat, states] = (await this.host.run(`presence list of "${channel}"`, () =>
      this.host.connection.ieumPresenceListBuffer(k.users, k.counts, k.conns, k.states, this.flag(), k.topic),
    )) as [Buffer[], Buffer[]];
    const byUser = new Map<string, PresenceListEntry>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const user = flat[i]!.toString();
      byUser.set(user, { user, ...decodeInfo(flat[i + 1]!) });
    }
    for (let i = 0; i + 1 < states.length; i += 2) {
      const { user, connection } = parseMember(states[i]!);
      const entry = byUser.get(user);
      if (!entry) continue;
      entry.states ??= {};
      entry.states[connection] = decodeState(states[i + 1]!);
    }
    return [...byUser.values()];
  }

  /**
   * Renews this process's members and sweeps expired ones in every channel it has presence in or
   * listens to. Members swept while this process was cut off from Redis are joined again.
   */
  async refresh(): Promise<void> {
    if (this.refreshing || !this.host.up()) return;
    this.refreshing = true;
    try {
      const channels = new Set([...this.mine.keys(), ...this.host.listened()]);
      await Promise.all(
        [...channels].map(async (channel) => {
          const k = this.keys(channel);
          const missing = (await this.host.connection.ieumPresenceRefreshBuffer(
            k.users,
            k.counts,
            k.conns,
            k.states,
            this.host.ttlMs,
            2 * this.host.ttlMs,
            this.flag(),
            k.topic,
            ...(this.mine.get(channel)?.keys() ?? []),
          )) as Buffer[];
          for (const raw of missing) {
            const m = this.mine.get(channel)?.get(raw.toString());
            if (m) await this.add(m, k);
          }
        }),
      );
    } catch (error) {
      this.host.report(error as Error);
    } finally {
      this.refreshing = false;
    }
  }

  /** Removes every member of this process (a clean shutdown). */
  async leaveAll(): Promise<void> {
    const all = [...this.mine].flatMap(([channel, members]) =>
      [...members.values()].map((m) => this.leave(channel, m.user, m.connection)),
    );
    await Promise.allSettled(all);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
