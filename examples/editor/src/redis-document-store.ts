// Documents in Redis: per document a sorted set of operations (score = version) and a snapshot
// string, both JSON. Appends run as one Lua script that checks the version is the next one.
import { Redis } from 'ioredis';
import { DocumentConflictError, type DocumentStore, type StoredDocument } from './document-store.js';
import type { CommittedOp, Snapshot } from './protocol.js';

// KEYS[1] the operations; ARGV[1] the version, ARGV[2] the operation. Returns 1, or 0 when the
// version is not the newest + 1 (the newest operation is never trimmed, so it tells the head).
const APPEND = `
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local head = 0
if last[2] then head = tonumber(last[2]) end
if head + 1 ~= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1`;

export interface RedisDocumentStoreOptions {
  /** `redis://host:port/db`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Or a client of yours (not closed by `close()`). */
  redis?: Redis;
  /** Prefix of every key. Default `ieum:editor:`. */
  prefix?: string;
}

/** A `DocumentStore` on Redis (give Redis persistence, AOF or RDB, for documents to survive it). */
export class RedisDocumentStore implements DocumentStore {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(options: RedisDocumentStoreOptions = {}) {
    this.owned = options.redis === undefined;
    this.redis =
      options.redis ?? new Redis(options.url ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 });
    this.prefix = options.prefix ?? 'ieum:editor:';
  }

  private keys(doc: string) {
    // The hash tag keeps a document's keys in one cluster slot (the script touches one key, the
    // snapshot goes with it in MULTI).
    return { ops: `${this.prefix}{${doc}}:ops`, snap: `${this.prefix}{${doc}}:snap` };
  }

  async load(doc: string): Promise<StoredDocument | null> {
    const k = this.keys(doc);
    const [snap, ops] = await Promise.all([this.redis.get(k.snap), this.redis.zrange(k.ops, '0', '-1')]);
    if (snap === null && ops.length === 0) return null;
    return {
      snapshot: snap === null ? { v: 0, text: '' } : (JSON.parse(snap) as Snapshot),
      ops: ops.map((o) => JSON.parse(o) as CommittedOp),
    };
  }

  async append(doc: string, op: CommittedOp): Promise<void> {
    const ok = await this.redis.eval(APPEND, 1, this.keys(doc).ops, String(op.v), JSON.stringify(op));
    if (ok !== 1) throw new DocumentConflictError(doc, op.v);
  }

  async saveSnapshot(doc: string, snapshot: Snapshot, keepFrom: number): Promise<void> {
    const k = this.keys(doc);
    await this.redis
      .multi()
      .set(k.snap, JSON.stringify(snapshot))
      .zremrangebyscore(k.ops, '-inf', `(${keepFrom}`)
      .exec();
  }

  /** Deletes a document (tests, administration). */
  async delete(doc: string): Promise<void> {
    const k = this.keys(doc);
    await this.redis.del(k.ops, k.snap);
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
