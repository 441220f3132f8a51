// Publishes kept in IndexedDB until the server acknowledges them, so those made offline survive
// closing the browser and are sent when any tab of the app comes back. Plain IndexedDB: one
// database per name, one object store keyed by message id.
import type { StoredPublish } from './outbox.js';

// The part of IndexedDB used (the package is compiled without the DOM library).
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbStore {
  put(value: unknown): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
  count(): IdbRequest<number>;
}
interface IdbDatabase {
  createObjectStore(name: string, options: { keyPath: string }): unknown;
  transaction(store: string, mode: 'readonly' | 'readwrite'): { objectStore(name: string): IdbStore };
  close(): void;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

function indexedDb(): IdbFactory | undefined {
  return (globalThis as { indexedDB?: IdbFactory }).indexedDB;
}

/** Whether IndexedDB is available. */
export function hasIndexedDb(): boolean {
  return indexedDb() !== undefined;
}

function done<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

const STORE = 'outbox';

/** The durable outbox of one app (see the file comment). */
export class DurableOutbox {
  private constructor(private readonly db: IdbDatabase) {}

  /** Opens (creating) the database `ieum-realtime:<name>`. Throws where there is no IndexedDB. */
  static async open(name: string): Promise<DurableOutbox> {
    const request = indexedDb()!.open(`ieum-realtime:${name}`, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'mid' });
    const db = await done(request);
    return new DurableOutbox(db);
  }

  private store(mode: 'readonly' | 'readwrite'): IdbStore {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  /** Keeps a publish (replacing one with the same id). */
  async put(p: StoredPublish): Promise<void> {
    await done(this.store('readwrite').put(p));
  }

  /** Forgets an acknowledged publish. */
  async delete(mid: string): Promise<void> {
    await done(this.store('readwrite').delete(mid));
  }

  /** Every kept publish, in message id order. */
  all(): Promise<StoredPublish[]> {
    return done(this.store('readonly').getAll()) as Promise<StoredPublish[]>;
  }

  /** How many publishes are kept. */
  count(): Promise<number> {
    return done(this.store('readonly').count());
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
