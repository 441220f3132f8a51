// Presence in a JetStream KV bucket: one entry per (channel, user) holding the user's info and its
// connections, each with an expiry time. Every change is a compare-and-set on the entry's revision,
// so two processes joining or leaving the same user at once never both (or neither) report the
// first join or the last leave. Each process refreshes its own connections every third of
// `presenceTtlMs`, and sweeps expired connections (a crashed process's) in the channels it uses,
// publishing `leave` for users left without any. The bucket's own TTL (twice `presenceTtlMs`)
// removes the entries of channels nobody sweeps any more.
import { decode, encode } from '@msgpack/msgpack';
import { headers, type KV, type KvEntry, type NatsConnection } from 'nats';
import { encodePresence, encodePresenceUpdate } from './frames.js';
import { type ChannelNames, channelNames, hashName } from './names.js';

interface Record {
  /** The user. */
  u: string;
  /** Info given by the user's first connection. */
  i?: unknown;
  /** connection -> expiry time (ms since the epoch, the writer's clock). */
  c: { [connection: string]: number };
  /** connection -> its presence state (connections that set one). */
  s?: { [connection: string]: unknown };
}

/** `r` without the states of connections no longer in `r.c`. */
function pruneStates(r: Record): Record {
  if (!r.s) return r;
  const s = Object.fromEntries(Object.entries(r.s).filter(([c]) => c in r.c));
  const { s: _, ...rest } = r;
  return Object.keys(s).length === 0 ? rest : { ...rest, s };
}

/** Connections of `before` with a state that `after` no longer has (or that is deleted). */
function statesGone(before: Record | undefined, after: Record | undefined): string[] {
  return Object.keys(before?.s ?? {}).filter((c) => !(after?.s && c in after.s));
}

export interface PresenceHost {
  readonly prefix: string;
  readonly ttlMs: number;
  connection(): Promise<NatsConnection>;
  bucket(): Promise<KV>;
  /** Channels this process listens to (swept with those it has presence in). */
  listened(): string[];
  report(error: Error): void;
}

/** Compare-and-set attempts before giving up (each retry means another process changed the user). */
const MAX_ATTEMPTS = 50;

export class Presence {
  /** channel -> user -> this process's connections. */
  private readonly mine = new Map<string, Map<string, Set<string>>>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly host: PresenceHost) {
    this.timer = setInterval(() => void this.upkeep(), Math.max(1, Math.floor(host.ttlMs / 3)));
    this.timer.unref();
  }

  private key(n: ChannelNames, user: string): string {
    return `${n.presence}.${hashName(user)}`;
  }

  private decode(e: KvEntry | null): Record | undefined {
    if (e?.operation !== 'PUT' || e.value.length === 0) return undefined;
    // From a plain Uint8Array view: from a Buffer, binary values in states and info would come
    // back as Buffers.
    const v = e.value;
    return decode(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) as Record;
  }

  /**
   * Applies `change` to the user's record with compare-and-set until it sticks. `change` returns
   * the new record (undefined: delete it) and what to return, or null to leave it as it is.
   */
  private async modify<T>(
    n: ChannelNames,
    user: string,
    change: (r: Record | undefined) => { next: Record | undefined; result: T } | { keep: T },
  ): Promise<T> {
    const kv = await this.host.bucket();
    const key = this.key(n, user);
    for (let attempt = 0; ; attempt++) {
      const e = await kv.get(key);
      const r = this.decode(e);
      const c = change(r);
      if ('keep' in c) return c.keep;
      try {
        if (c.next === undefined) await kv.delete(key, { previousSeq: e!.revision });
        else if (!r && e?.operation !== 'PUT') await kv.create(key, encode(c.next));
        else await kv.update(key, encode(c.next), e!.revision);
        return c.result;
      } catch (error) {
        // Another process changed the entry since we read it: read again.
        if (
          attempt >= MAX_ATTEMPTS ||
          !/wrong last sequence|exists/i.test(String((error as Error).message))
        ) {
          throw error;
        }
      }
    }
  }

  private async announceUpdate(
    n: ChannelNames,
    user: string,
    connection: string,
    state?: { state: unknown },
  ): Promise<void> {
    const nc = await this.host.connection();
    const h = headers();
    h.set('Ieum-Kind', 'update');
    nc.publish(n.events, encodePresenceUpdate(user, connection, state), { headers: h });
  }

  /** Sets a present connection's state; false when the connection is not present. */
  async update(channel: string, user: string, connection: string, state: unknown): Promise<boolean> {
    const n = channelNames(this.host.prefix, channel);
    const now = Date.now();
    const ok = await this.modify<boolean>(n, user, (r) => {
      if (!r || !((r.c[connection] ?? 0) > now)) return { keep: false };
      return { next: { ...r, s: { ...r.s, [connection]: state } }, result: true };
    });
    if (ok) await this.announceUpdate(n, user, connection, { state });
    return ok;
  }

  private async announce(
    n: ChannelNames,
    kind: 'join' | 'leave',
    user: string,
    info?: unknown,
  ): Promise<void> {
    const nc = await this.host.connection();
    const h = headers();
    h.set('Ieum-Kind', kind);
    nc.publish(n.events, encodePresence(user, kind === 'join' ? info : undefined), { headers: h });
  }

  async join(
    channel: string,
    user: string,
    connection: string,
    info?: unknown,
  ): Promise<{ changed: boolean }> {
    const n = channelNames(this.host.prefix, channel);
    const now = Date.now();
    const changed = await this.modify(n, user, (r) => {
      const live = r ? Object.entries(r.c).filter(([, t]) => t > now) : [];
      const first = live.length === 0;
      const next: Record = first ? { u: user, c: {} } : pruneStates({ ...r!, c: Object.fromEntries(live) });
      if (first && info !== undefined) next.i = info;
      next.c[connection] = now + this.host.ttlMs;
      return { next, result: first };
    });
    const users = this.mine.get(channel) ?? new Map<string, Set<string>>();
    this.mine.set(channel, users);
    const conns = users.get(user) ?? new Set<string>();
    users.set(user, conns);
    conns.add(connection);
    if (changed) await this.announce(n, 'join', user, info);
    return { changed };
  }

  async leave(channel: string, user: string, connection: string): Promise<{ changed: boolean }> {
    const n = channelNames(this.host.prefix, channel);
    const users = this.mine.get(channel);
    users?.get(user)?.delete(connection);
    if (users?.get(user)?.size === 0) users.delete(user);
    if (users?.size === 0) this.mine.delete(channel);
    const now = Date.now();
    let gone: string[] = [];
    const changed = await this.modify<boolean>(n, user, (r) => {
      gone = []; // an attempt lost to another process's write counts for nothing
      if (!r || !(connection in r.c)) return { keep: false };
      const rest = Object.entries(r.c).filter(([c, t]) => c !== connection && t > now);
      const next = rest.length === 0 ? undefined : pruneStates({ ...r, c: Object.fromEntries(rest) });
      gone = statesGone(r, next);
      return { next, result: rest.length === 0 };
    });
    for (const c of gone) await this.announceUpdate(n, user, c);
    if (changed) await this.announce(n, 'leave', user);
    return { changed };
  }

  private async records(n: ChannelNames): Promise<Array<{ key: string; record: Record }>> {
    const kv = await this.host.bucket();
    const keys: string[] = [];
    for await (const k of await kv.keys(`${n.presence}.*`)) keys.push(k);
    const entries = await Promise.all(
      keys.map(async (key) => ({ key, record: this.decode(await kv.get(key)) })),
    );
    return entries.filter((e): e is { key: string; record: Record } => e.record !== undefined);
  }

  async list(
    channel: string,
  ): Promise<Array<{ user: string; info?: unknown; states?: { [connection: string]: unknown } }>> {
    const now = Date.now();
    const records = await this.records(channelNames(this.host.prefix, channel));
    return records
      .filter(({ record }) => Object.values(record.c).some((t) => t > now))
      .map(({ record }) => {
        const live = pruneStates({
          ...record,
          c: Object.fromEntries(Object.entries(record.c).filter(([, t]) => t > now)),
        });
        return {
          user: record.u,
          ...(record.i === undefined ? {} : { info: record.i }),
          ...(live.s ? { states: live.s } : {}),
        };
      });
  }

  /** Refreshes this process's connections, then sweeps expired ones in the channels it uses. */
  private async upkeep(): Promise<void> {
    try {
      for (const [channel, users] of this.mine) {
        const n = channelNames(this.host.prefix, channel);
        for (const [user, conns] of users) {
          const expires = Date.now() + this.host.ttlMs;
          await this.modify(n, user, (r) => {
            const next: Record = r ? { ...r, c: { ...r.c } } : { u: user, c: {} };
            for (const c of conns) next.c[c] = expires;
            return { next, result: undefined };
          });
        }
      }
      for (const channel of new Set([...this.mine.keys(), ...this.host.listened()]))
        await this.sweep(channel);
    } catch (error) {
      this.host.report(error as Error);
    }
  }

  /** Removes expired connections from the channel's records; `leave` for users left with none. */
  private async sweep(channel: string): Promise<void> {
    const n = channelNames(this.host.prefix, channel);
    for (const { record } of await this.records(n)) {
      const now = Date.now();
      if (Object.values(record.c).every((t) => t > now)) continue;
      let states: string[] = [];
      const gone = await this.modify<boolean>(n, record.u, (r) => {
        states = []; // an attempt lost to another process's write (its sweep) counts for nothing
        if (!r) return { keep: false };
        const live = Object.entries(r.c).filter(([, t]) => t > Date.now());
        if (live.length === Object.keys(r.c).length) return { keep: false };
        const next = live.length === 0 ? undefined : pruneStates({ ...r, c: Object.fromEntries(live) });
        states = statesGone(r, next);
        return { next, result: live.length === 0 };
      });
      for (const c of states) await this.announceUpdate(n, record.u, c);
      if (gone) await this.announce(n, 'leave', record.u);
    }
  }

  /** Removes every connection of this process (close): their users get `leave` now. */
  async leaveAll(): Promise<void> {
    for (const [channel, users] of [...this.mine]) {
      for (const [user, conns] of [...users]) {
        for (const c of [...conns])
          await this.leave(channel, user, c).catch((e: Error) => this.host.report(e));
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
