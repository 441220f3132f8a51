// The server half of client/server OT. The server is the single point that orders operations: it
// commits them one at a time per document, each at the next version, after transforming a late
// one (made on an older version) past every operation committed since its base. Clients see the
// committed operations in that one total order, which is why every replica converges.
import { RealtimeError } from '@ieum/realtime/server';
import { type as text } from 'ot-text-unicode';
import { type DocumentStore, MemoryDocumentStore } from './document-store.js';
import { parseOp } from './parse-submit.js';
import {
  type CommittedOp,
  EditorErrors,
  type Snapshot,
  type SubmitReply,
  type SubmitRequest,
} from './protocol.js';

export interface DocumentServiceOptions {
  /** Where documents survive a restart. Default: `MemoryDocumentStore` (they do not). */
  store?: DocumentStore;
  /**
   * Sends a committed operation to every client of the document (the editor publishes it on the
   * document's channel). Called in version order, one at a time per document.
   */
  publish: (doc: string, op: CommittedOp) => Promise<unknown> | undefined;
  /**
   * Operations kept per document, in memory and in the store: how far behind a client may be
   * (offline edits included) and still be merged. Older: `too-old`. Default 1,000.
   */
  keepOps?: number;
  /** A snapshot is stored every this many operations (a restart replays at most this many). Default 100. */
  snapshotEvery?: number;
  /** Largest document, in UTF-16 code units; an operation beyond fails with `document-too-large`. Default 1,000,000. */
  maxDocumentChars?: number;
  /** Largest operation, in components; larger: `bad-op`. Default 10,000. */
  maxOpComponents?: number;
  /** Operations one `opsSince` call returns at most (the client asks again for the rest). Default 500. */
  maxOpsPerReply?: number;
  /**
   * Documents held in memory at once (each with its text and kept operations); past it the least
   * recently used idle one is dropped from memory (it stays stored). Default 100.
   */
  maxOpenDocuments?: number;
  /** Called with errors that do not fail a submit (a snapshot or publish that failed). */
  onError?: (error: Error) => void;
}

interface OpenDocument {
  text: string;
  v: number;
  /** The last `keepOps` committed operations. */
  ops: CommittedOp[];
  /** Per client: its last committed seq and that operation's version (retries are answered from here). */
  seqs: Map<string, { seq: number; v: number; user: string | undefined }>;
  snapshotV: number;
  /** Tail of this document's queue of submits (they run one at a time). */
  tail: Promise<unknown>;
  busy: number;
}

export class DocumentService {
  readonly store: DocumentStore;
  private readonly docs = new Map<string, Promise<OpenDocument>>();
  private closed = false;
  private readonly keepOps: number;
  private readonly snapshotEvery: number;
  private readonly maxDocumentChars: number;
  /** Largest operation accepted, in components. */
  readonly maxOpComponents: number;
  private readonly maxOpsPerReply: number;
  private readonly maxOpenDocuments: number;

  constructor(private readonly options: DocumentServiceOptions) {
    this.store = options.store ?? new MemoryDocumentStore();
    const positive = (name: string, x: number | undefined, d: number) => {
      if (x === undefined) return d;
      if (!Number.isSafeInteger(x) || x < 1)
        throw new RangeError(`${name} must be a positive integer, got ${x}`);
      return x;
    };
    this.keepOps = positive('keepOps', options.keepOps, 1_000);
    this.snapshotEvery = positive('snapshotEvery', options.snapshotEvery, 100);
    this.maxDocumentChars = positive('maxDocumentChars', options.maxDocumentChars, 1_000_000);
    this.maxOpComponents = positive('maxOpComponents', options.maxOpComponents, 10_000);
    this.maxOpsPerReply = positive('maxOpsPerReply', options.maxOpsPerReply, 500);
    this.maxOpenDocuments = positive('maxOpenDocuments', options.maxOpenDocuments, 100);
  }

  /** The document's current text and version (what a late joiner starts from). */
  async open(doc: string): Promise<Snapshot> {
    const d = await this.get(doc);
    return { v: d.v, text: d.text };
  }

  /**
   * Commits `req.op` (made on version `req.base`) at the next version, transformed past what was
   * committed since `base`. A retry of an operation already committed (same `src` and `seq`) is
   * answered with its version and not applied again. Throws `RealtimeError` with `too-old`,
   * `bad-op`, `document-too-large` or `bad-request`.
   */
  async submit(req: SubmitRequest, user?: string): Promise<SubmitReply> {
    parseOp(req.op, this.maxOpComponents);
    return await this.run(req.doc, async (d) => {
      const last = d.seqs.get(req.src);
      // A client id belongs to the user who first committed with it: nobody else can pass an
      // operation off as its retry (the client would take it for the commit of its own).
      if (last && last.user !== user) throw new RealtimeError('forbidden', 'src belongs to another user');
      if (last && req.seq <= last.seq) return { v: last.v, duplicate: true };
      if (req.base > d.v)
        throw new RealtimeError('bad-request', `base ${req.base} is ahead of version ${d.v}`);
      const oldest = d.v - d.ops.length;
      if (req.base < oldest) {
        throw new RealtimeError(
          EditorErrors.TOO_OLD,
          `base ${req.base} is older than the kept operations (from ${oldest})`,
        );
      }
      let op = req.op;
      let sel = req.sel;
      for (const c of d.ops.slice(req.base - oldest)) {
        // `sel` is where the client was after its op: move it past c as seen after that op.
        if (sel) {
          const after = text.transform(c.op, op, 'right');
          sel = [text.transformPosition(sel[0], after), text.transformPosition(sel[1], after)];
        }
        op = text.transform(op, c.op, 'left');
      }
      let next: string;
      try {
        next = text.apply(d.text, op);
      } catch (error) {
        throw new RealtimeError(
          EditorErrors.BAD_OP,
          `op does not fit version ${req.base}: ${(error as Error).message}`,
        );
      }
      if (next.length > this.maxDocumentChars) {
        throw new RealtimeError(
          EditorErrors.TOO_LARGE,
          `documents hold at most ${this.maxDocumentChars} characters`,
        );
      }
      const committed: CommittedOp = {
        v: d.v + 1,
        op,
        src: req.src,
        seq: req.seq,
        ...(user !== undefined ? { user } : {}),
        ...(sel ? { sel } : {}),
      };
      // Stored before anyone hears of it: what a client has seen survives a restart.
      await this.store.append(req.doc, committed);
      d.text = next;
      d.v = committed.v;
      d.ops.push(committed);
      d.seqs.set(req.src, { seq: req.seq, v: committed.v, user });
      if (d.ops.length > this.keepOps) this.forget(d, d.ops.length - this.keepOps);
      if (d.v - d.snapshotV >= this.snapshotEvery) await this.snapshot(req.doc, d);
      try {
        await this.options.publish(req.doc, committed);
      } catch (error) {
        // Committed all the same: clients fetch it when they notice the gap (`opsSince`).
        this.options.onError?.(error as Error);
      }
      return { v: committed.v, duplicate: false };
    });
  }

  /**
   * Committed operations after version `since`, oldest first, at most `maxOpsPerReply`. Throws
   * `too-old` when they are no longer kept (the client must reopen the document).
   */
  async opsSince(doc: string, since: number): Promise<CommittedOp[]> {
    const d = await this.get(doc);
    if (since > d.v) throw new RealtimeError('bad-request', `version ${since} is ahead of ${d.v}`);
    const oldest = d.v - d.ops.length;
    if (since < oldest)
      throw new RealtimeError(EditorErrors.TOO_OLD, `operations before ${oldest + 1} are gone`);
    return d.ops.slice(since - oldest, since - oldest + this.maxOpsPerReply);
  }

  /** Stores a snapshot of every open document and closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [name, p] of this.docs) {
      const d = await p.catch(() => undefined);
      if (d && d.v > d.snapshotV) await d.tail.then(() => this.snapshot(name, d));
    }
    this.docs.clear();
    await this.store.close();
  }

  private async snapshot(doc: string, d: OpenDocument): Promise<void> {
    try {
      await this.store.saveSnapshot(doc, { v: d.v, text: d.text }, Math.max(1, d.v - this.keepOps + 1));
      d.snapshotV = d.v;
    } catch (error) {
      this.options.onError?.(error as Error);
    }
  }

  private forget(d: OpenDocument, n: number): void {
    d.ops.splice(0, n);
    const oldest = d.ops[0]?.v ?? d.v;
    for (const [src, s] of d.seqs) if (s.v < oldest) d.seqs.delete(src);
  }

  /** Runs `fn` on the document after the submits queued before it. */
  private async run<T>(doc: string, fn: (d: OpenDocument) => Promise<T>): Promise<T> {
    const d = await this.get(doc);
    d.busy++;
    const result = d.tail.then(() => fn(d));
    d.tail = result.catch(() => {}).finally(() => d.busy--);
    return result;
  }

  private get(doc: string): Promise<OpenDocument> {
    // A closed service must not load (and then write) a document another process now serves.
    if (this.closed) return Promise.reject(new RealtimeError('unavailable', 'the editor is shutting down'));
    let p = this.docs.get(doc);
    if (p) {
      // Most recently used last, so eviction takes the first idle one.
      this.docs.delete(doc);
      this.docs.set(doc, p);
      return p;
    }
    p = this.load(doc);
    this.docs.set(doc, p);
    p.catch(() => this.docs.delete(doc));
    void this.evict();
    return p;
  }

  private async evict(): Promise<void> {
    if (this.docs.size <= this.maxOpenDocuments) return;
    for (const [name, p] of this.docs) {
      const d = await p.catch(() => undefined);
      if (this.docs.size <= this.maxOpenDocuments) return;
      if (d && d.busy === 0 && d.v === d.snapshotV) this.docs.delete(name);
      else if (d && d.busy === 0) await this.run(name, (x) => this.snapshot(name, x));
    }
  }

  private async load(doc: string): Promise<OpenDocument> {
    const stored = await this.store.load(doc);
    const d: OpenDocument = {
      text: stored?.snapshot.text ?? '',
      v: stored?.snapshot.v ?? 0,
      ops: [],
      seqs: new Map(),
      snapshotV: stored?.snapshot.v ?? 0,
      tail: Promise.resolve(),
      busy: 0,
    };
    for (const c of stored?.ops ?? []) {
      if (c.v > d.v) {
        if (c.v !== d.v + 1)
          throw new Error(`document "${doc}": stored operations skip from ${d.v} to ${c.v}`);
        d.text = text.apply(d.text, c.op);
        d.v = c.v;
      }
      d.ops.push(c);
      d.seqs.set(c.src, { seq: c.seq, v: c.v, user: c.user });
    }
    if (d.ops.length > this.keepOps) this.forget(d, d.ops.length - this.keepOps);
    return d;
  }
}
