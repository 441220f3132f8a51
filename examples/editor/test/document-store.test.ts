// Documents survive a restart: one suite run on every DocumentStore (memory, Redis, PostgreSQL).
// Redis (REDIS_URL, default 127.0.0.1:6379) and PostgreSQL (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test) must be there; outside CI a missing one is skipped
// with a message saying so, in CI (CI=true) it is a failure.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { insert, remove } from 'ot-text-unicode';
import pg from 'pg';
import { DocumentService } from '../src/document-service.js';
import { DocumentConflictError, type DocumentStore, MemoryDocumentStore } from '../src/document-store.js';
import { PostgresDocumentStore } from '../src/postgres-document-store.js';
import type { CommittedOp } from '../src/protocol.js';
import { RedisDocumentStore } from '../src/redis-document-store.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const inCi = process.env.CI === 'true';

async function reachable(name: string, probe: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await probe();
    return undefined;
  } catch (error) {
    const why = `${name} not reachable (${(error as Error).message}): start it or set its URL variable`;
    if (inCi) throw new Error(why);
    return why;
  }
}

const redisMissing = await reachable(`Redis at ${redisUrl}`, async () => {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
});
const postgresMissing = await reachable(`PostgreSQL at ${databaseUrl}`, async () => {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
  } finally {
    await c.end().catch(() => {});
  }
});

const unique = `t${process.pid}-${Date.now().toString(36)}`;
const op = (v: number, o: CommittedOp['op'], src = 'a', seq = v): CommittedOp => ({
  v,
  op: o,
  src,
  seq,
  user: 'ann',
});

function storeSuite(name: string, missing: string | undefined, make: () => DocumentStore) {
  describe(`${name} document store`, { skip: missing ?? false, timeout: 30_000 }, () => {
    const stores: DocumentStore[] = [];
    const open = () => {
      const s = make();
      stores.push(s);
      return s;
    };
    after(async () => {
      for (const s of stores) await s.close();
    });

    it('keeps operations and snapshots, trims before keepFrom, and refuses a version out of turn', async () => {
      const store = open();
      const doc = `${unique}-rt`;
      assert.equal(await store.load(doc), null);
      await store.append(doc, op(1, insert(0, 'héllo 😀')));
      await store.append(doc, op(2, insert(8, '!')));
      await assert.rejects(store.append(doc, op(2, insert(0, 'x'))), DocumentConflictError);
      await assert.rejects(store.append(doc, op(4, insert(0, 'x'))), DocumentConflictError);
      await store.append(doc, op(3, remove(0, 1)));
      await store.saveSnapshot(doc, { v: 3, text: 'éllo 😀!' }, 3);
      const again = await open().load(doc);
      assert.deepEqual(again?.snapshot, { v: 3, text: 'éllo 😀!' });
      assert.deepEqual(
        again?.ops.map((o) => o.v),
        [3],
      );
      assert.deepEqual(again?.ops[0], op(3, remove(0, 1)));
      await store.append(doc, op(4, insert(0, '𝄞')));
      assert.deepEqual(
        (await store.load(doc))?.ops.map((o) => o.v),
        [3, 4],
      );
    });

    it('a document edited through the service comes back after a restart, retries still deduplicated', async () => {
      const doc = `${unique}-svc`;
      const first = new DocumentService({ store: open(), publish: () => undefined, snapshotEvery: 3 });
      for (let i = 0; i < 7; i++)
        await first.submit({ doc, base: i, op: insert(i, String(i)), src: 'bob', seq: i + 1 });
      // A late operation, made on version 2: transformed past 3..7.
      await first.submit({ doc, base: 2, op: insert(0, '𠀋'), src: 'cy', seq: 1 });
      const before = await first.open(doc);
      assert.deepEqual(before, { v: 8, text: '𠀋0123456' });

      const second = new DocumentService({ store: open(), publish: () => undefined, snapshotEvery: 3 });
      assert.deepEqual(await second.open(doc), before);
      assert.deepEqual(
        (await second.opsSince(doc, 5)).map((c) => c.v),
        [6, 7, 8],
      );
      // A client that did not hear back before the restart sends its operation again: same version.
      assert.deepEqual(await second.submit({ doc, base: 2, op: insert(0, '𠀋'), src: 'cy', seq: 1 }), {
        v: 8,
        duplicate: true,
      });
      assert.deepEqual(await second.submit({ doc, base: 8, op: remove(0, 1), src: 'cy', seq: 2 }), {
        v: 9,
        duplicate: false,
      });
      assert.equal((await second.open(doc)).text, '0123456');
    });
  });
}

storeSuite(
  'memory',
  undefined,
  (() => {
    const shared = new MemoryDocumentStore();
    // One backing map for every "process" of the test, as a database would be.
    return () => ({
      load: (d: string) => shared.load(d),
      append: (d: string, o: CommittedOp) => shared.append(d, o),
      saveSnapshot: (d: string, s: { v: number; text: string }, k: number) => shared.saveSnapshot(d, s, k),
      close: async () => {},
    });
  })(),
);
storeSuite(
  'Redis',
  redisMissing,
  () => new RedisDocumentStore({ url: redisUrl, prefix: `ieum-test:editor:${unique}:` }),
);
storeSuite(
  'PostgreSQL',
  postgresMissing,
  () => new PostgresDocumentStore({ connectionString: databaseUrl, table: 'ieum_editor_test' }),
);

describe('cleanup', () => {
  it('removes the test documents', { timeout: 10_000 }, async () => {
    if (!redisMissing) {
      const r = new Redis(redisUrl);
      const keys = await r.keys(`ieum-test:editor:${unique}:*`);
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    }
    if (!postgresMissing) {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DELETE FROM ieum_editor_test_ops WHERE doc LIKE $1`, [`${unique}%`]);
      await c.query(`DELETE FROM ieum_editor_test_snapshots WHERE doc LIKE $1`, [`${unique}%`]);
      await c.end();
    }
  });
});
