// Documents in PostgreSQL: a table of operations (primary key document + version, so two writers
// cannot both commit one version) and a table of snapshots. Created on first use.
import pg from 'pg';
import { DocumentConflictError, type DocumentStore, type StoredDocument } from './document-store.js';
import type { CommittedOp, Snapshot } from './protocol.js';

export interface PostgresDocumentStoreOptions {
  /** `postgres://user@host:5432/db`. Default: libpq's environment (PGHOST...). */
  connectionString?: string;
  /** Or a pool of yours (not closed by `close()`). */
  pool?: pg.Pool;
  /** Table name prefix: `<prefix>_ops` and `<prefix>_snapshots`. Default `ieum_editor`. */
  table?: string;
}

/** A `DocumentStore` on PostgreSQL. */
export class PostgresDocumentStore implements DocumentStore {
  private readonly pool: pg.Pool;
  private readonly owned: boolean;
  private readonly ops: string;
  private readonly snaps: string;
  private ready: Promise<void> | undefined;

  constructor(options: PostgresDocumentStoreOptions = {}) {
    const table = options.table ?? 'ieum_editor';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(table))
      throw new TypeError(`table must be a lower-case SQL name, got ${table}`);
    this.ops = `${table}_ops`;
    this.snaps = `${table}_snapshots`;
    this.owned = options.pool === undefined;
    this.pool =
      options.pool ??
      new pg.Pool({
        ...(options.connectionString ? { connectionString: options.connectionString } : {}),
        max: 4,
      });
    // An idle client losing its connection must not take the process down.
    this.pool.on('error', () => {});
  }

  private init(): Promise<void> {
    this.ready ??= this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS ${this.ops} (doc text NOT NULL, v integer NOT NULL, op text NOT NULL, PRIMARY KEY (doc, v));
         CREATE TABLE IF NOT EXISTS ${this.snaps} (doc text PRIMARY KEY, v integer NOT NULL, text text NOT NULL);`,
      )
      .then(() => undefined)
      .catch((error: Error) => {
        this.ready = undefined;
        throw error;
      });
    return this.ready;
  }

  async load(doc: string): Promise<StoredDocument | null> {
    await this.init();
    const [snap, ops] = await Promise.all([
      this.pool.query<{ v: number; text: string }>(`SELECT v, text FROM ${this.snaps} WHERE doc = $1`, [doc]),
      this.pool.query<{ op: string }>(`SELECT op FROM ${this.ops} WHERE doc = $1 ORDER BY v`, [doc]),
    ]);
    if (snap.rows.length === 0 && ops.rows.length === 0) return null;
    const s = snap.rows[0];
    return {
      snapshot: s ? { v: s.v, text: s.text } : { v: 0, text: '' },
      ops: ops.rows.map((r) => JSON.parse(r.op) as CommittedOp),
    };
  }

  async append(doc: string, op: CommittedOp): Promise<void> {
    await this.init();
    try {
      // The newest operation is never trimmed, so max(v) is the head (0 for a new document).
      const r = await this.pool.query(
        `INSERT INTO ${this.ops} (doc, v, op)
         SELECT $1, $2, $3 WHERE (SELECT coalesce(max(v), 0) FROM ${this.ops} WHERE doc = $1) = $2 - 1`,
        [doc, op.v, JSON.stringify(op)],
      );
      if (r.rowCount !== 1) throw new DocumentConflictError(doc, op.v);
    } catch (error) {
      // 23505 unique_violation: another writer committed this version at the same moment.
      if ((error as { code?: string }).code === '23505') throw new DocumentConflictError(doc, op.v);
      throw error;
    }
  }

  async saveSnapshot(doc: string, snapshot: Snapshot, keepFrom: number): Promise<void> {
    await this.init();
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO ${this.snaps} (doc, v, text) VALUES ($1, $2, $3)
         ON CONFLICT (doc) DO UPDATE SET v = excluded.v, text = excluded.text`,
        [doc, snapshot.v, snapshot.text],
      );
      await c.query(`DELETE FROM ${this.ops} WHERE doc = $1 AND v < $2`, [doc, keepFrom]);
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      c.release();
    }
  }

  /** Deletes a document (tests, administration). */
  async delete(doc: string): Promise<void> {
    await this.init();
    await this.pool.query(`DELETE FROM ${this.ops} WHERE doc = $1`, [doc]);
    await this.pool.query(`DELETE FROM ${this.snaps} WHERE doc = $1`, [doc]);
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end();
  }
}
