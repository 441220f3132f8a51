// Where documents survive a restart: a snapshot plus the operations kept around it. Three
// implementations share this shape: MemoryDocumentStore (here, the default: nothing survives),
// RedisDocumentStore and PostgresDocumentStore.
import type { CommittedOp, Snapshot } from './protocol.js';

/** A document as stored: its latest snapshot and the operations kept (before and after it). */
export interface StoredDocument {
  snapshot: Snapshot;
  /** Contiguous, in version order, ending at the document's newest version. */
  ops: CommittedOp[];
}

/** Thrown by `append` when the version is not the stored head + 1 (another writer got there first). */
export class DocumentConflictError extends Error {
  override name = 'DocumentConflictError';
  constructor(doc: string, v: number) {
    super(`document "${doc}": version ${v} is not the next one (is another process writing it?)`);
  }
}

/**
 * Storage of documents for `DocumentService`. One process writes a document at a time; `append`
 * refuses a version that is not the next one, so a second writer fails loudly instead of forking.
 */
export interface DocumentStore {
  /** The stored document, or null if it was never written. */
  load(doc: string): Promise<StoredDocument | null>;
  /** Stores one committed operation; throws `DocumentConflictError` unless `op.v` is head + 1. */
  append(doc: string, op: CommittedOp): Promise<void>;
  /** Stores a snapshot and forgets the operations before version `keepFrom` (never the newest). */
  saveSnapshot(doc: string, snapshot: Snapshot, keepFrom: number): Promise<void>;
  close(): Promise<void>;
}

/** Keeps documents in this process's memory: the default, lost on restart. */
export class MemoryDocumentStore implements DocumentStore {
  private readonly docs = new Map<string, StoredDocument>();

  async load(doc: string): Promise<StoredDocument | null> {
    const d = this.docs.get(doc);
    return d ? { snapshot: { ...d.snapshot }, ops: [...d.ops] } : null;
  }

  async append(doc: string, op: CommittedOp): Promise<void> {
    let d = this.docs.get(doc);
    const head = d ? (d.ops.at(-1)?.v ?? d.snapshot.v) : 0;
    if (op.v !== head + 1) throw new DocumentConflictError(doc, op.v);
    if (!d) {
      d = { snapshot: { v: 0, text: '' }, ops: [] };
      this.docs.set(doc, d);
    }
    d.ops.push(op);
  }

  async saveSnapshot(doc: string, snapshot: Snapshot, keepFrom: number): Promise<void> {
    const d = this.docs.get(doc) ?? { snapshot, ops: [] };
    d.snapshot = { ...snapshot };
    d.ops = d.ops.filter((o) => o.v >= keepFrom);
    this.docs.set(doc, d);
  }

  async close(): Promise<void> {}
}
