// The subscriber side of RedisAdapter on Redis Cluster: one connection per master (shard), each
// carrying the sharded pub/sub topics of the slots that master owns, and the catch-up scripts of
// those topics (on the same connection, so frames and replies keep their order; see
// subscriptions.ts). The command side is ioredis's `Cluster`, which follows MOVED/ASK itself;
// this file follows the slot map it keeps: when a slot's owner changes (a failover, a
// resharding), the topics of that slot move to the new owner's connection and catch up there.
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import type { ChannelKeys } from './keys.js';

/** What the shards need from their adapter. */
export interface ClusterShardsHost {
  /** The command connection, whose slot map (`slots`) says which master owns a slot. */
  readonly cluster: Cluster;
  /**
   * A new connection to one node; it stops reconnecting once `stopped()` says so (its failed
   * attempt then ends it, and commands waiting for it reject).
   */
  connect(host: string, port: number, stopped: () => boolean): Redis;
  /** Called once per new connection (to listen to its frames). */
  created(connection: Redis): void;
  /**
   * Topics to subscribe again: those on `connection` (it is back after a drop), or, without it,
   * those whose slot moved or whose catch-up waits for a re-route.
   */
  resubscribe(connection?: Redis): void;
  report(error: Error): void;
}

/** Shard connections, by node key (`host:port`). */
export class ClusterShards {
  private readonly connections = new Map<string, Redis>();
  private readonly dropped = new WeakSet<Redis>();

  constructor(private readonly host: ClusterShardsHost) {
    // The cluster refreshes its slot map after a MOVED, a failed node, and every
    // `slotsRefreshInterval`: topics follow their slots to the new owners.
    host.cluster.on('refresh', () => {
      this.host.resubscribe();
      this.dropIdle();
    });
  }

  /** The slot owner's connection for a topic (created on first use). */
  route(keys: ChannelKeys): Redis {
    const owner = this.host.cluster.slots[calculateSlot(keys.topic)]?.[0];
    if (!owner) {
      // No owner known (the slot map is not loaded, or the slot is uncovered): the first master
      // known answers, and its MOVED/CLUSTERDOWN reply starts a re-route.
      const any = this.connections.values().next().value ?? this.node(this.host.cluster.nodes('master')[0]);
      if (!any) throw new Error('RedisAdapter: the Redis Cluster has no known master');
      return any;
    }
    return this.connection(owner);
  }

  private node(redis: Redis | undefined): Redis | undefined {
    if (!redis) return undefined;
    return this.connection(`${redis.options.host}:${redis.options.port}`);
  }

  private connection(key: string): Redis {
    const existing = this.connections.get(key);
    if (existing) return existing;
    const colon = key.lastIndexOf(':');
    const c: Redis = this.host.connect(key.slice(0, colon), Number(key.slice(colon + 1)), () =>
      this.dropped.has(c),
    );
    let readies = 0;
    c.on('ready', () => {
      if (this.dropped.has(c)) {
        c.disconnect();
        return;
      }
      // Back after a drop: Redis forgot this connection's subscriptions.
      if (++readies > 1) this.host.resubscribe(c);
    });
    // A shard went away: ask the cluster for the slot map now rather than at the next interval.
    c.on('close', () => {
      if (this.connections.get(key) === c) this.host.cluster.refreshSlotsCache();
    });
    c.on('error', (error: Error) => this.host.report(error));
    this.connections.set(key, c);
    this.host.created(c);
    return c;
  }

  /** Closes connections to nodes that own no slot any more (a failed master, now a replica or gone). */
  private dropIdle(): void {
    const masters = new Set<string>();
    for (const owners of this.host.cluster.slots) if (owners?.[0]) masters.add(owners[0]);
    for (const [key, c] of this.connections) {
      if (masters.has(key)) continue;
      this.connections.delete(key);
      this.drop(c);
    }
  }

  /**
   * Stops a connection for good. Not by disconnect() while it waits to reconnect: ioredis would
   * then neither reconnect nor reject the commands queued for it, which would wait for ever. Its
   * next attempt fails for good instead (`stopped()`), which rejects them.
   */
  private drop(c: Redis): void {
    this.dropped.add(c);
    if (c.status !== 'reconnecting') c.disconnect();
  }

  /** Every shard connection now. */
  all(): Redis[] {
    return [...this.connections.values()];
  }

  /** Drops every connection at once, without quitting (a crash, for tests). */
  disconnect(): void {
    for (const c of this.connections.values()) this.drop(c);
    this.connections.clear();
  }

  /** Quits the connections that are up and stops the others. */
  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(all.filter((c) => c.status === 'ready').map((c) => c.quit()));
    for (const c of all) this.drop(c);
  }
}
