// One client's editing session on one document: binds an OtClient to a RealtimeClient (browser or
// Node). Committed operations arrive on the document's channel (recovered across reconnects by the
// realtime layer); gaps and resets are filled with `editor:ops`; the in-flight operation is
// submitted again after every reconnect with the same seq (the server commits it once); cursors
// are each connection's presence state on the document's channel, and others' are moved along
// with every operation.
import type { Channel, PresenceUpdate, RealtimeClient, RequestError } from '@ieum/realtime/client';
import { type TextOp, type as text } from 'ot-text-unicode';
import { codePointLength } from './code-points.js';
import { type Applied, OtClient, type OtClientState, type Outgoing } from './ot-client.js';
import {
  type CommittedOp,
  type CursorPresence,
  docChannel,
  EditorErrors,
  EditorEvents,
  parseCursorPresence,
  type Selection,
  type Snapshot,
  type SubmitReply,
} from './protocol.js';

/** A remote cursor: where it was sent (server version `v`) and who it is. */
interface CursorState {
  user: string;
  v: number;
  sel: Selection;
}

export type SessionEvents = {
  /** Operations of others were applied to `text` (each already transformed to the local text). */
  change: (applied: Applied[]) => void;
  /** The text was replaced (opened, or reopened after the server could not catch us up). */
  reset: (text: string) => void;
  /** Local edits that could not be merged (reopened because they were too old or refused). */
  lost: (text: string, reason: string) => void;
  /** Pending edits, cursors or members changed. */
  update: () => void;
  error: (error: Error) => void;
};

/** `sessionStorage`-shaped storage. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface EditorSessionOptions {
  /** The session's id; default random (or the saved session's, with `storage`). */
  id?: string;
  /**
   * Where uncommitted edits are kept across a page reload, e.g. `sessionStorage` (per tab: two
   * tabs must not share one). Written only while edits are pending, at most every 300 ms.
   */
  storage?: StorageLike;
}

/** Failures after which the same submit is sent again; any other code is a refusal. */
const TRANSIENT = new Set(['disconnected', 'timeout', 'handler-error', 'unavailable', 'too-many-channels']);

function randomId(): string {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(12));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class EditorSession {
  ot: OtClient | undefined;
  /** Users present (realtime presence of the document channel). */
  readonly members = new Set<string>();
  /** Others' cursors by session id (`src`). */
  private readonly cursors = new Map<string, CursorState>();
  /** Presence connection id -> the session id its cursor state names. */
  private readonly cursorOf = new Map<string, string>();
  private docs: Channel<{ op: CommittedOp }> | undefined;
  private readonly listeners = new Map<keyof SessionEvents, Set<(...args: never[]) => void>>();
  private early: CommittedOp[] = [];
  private submitting = false;
  /** Number of the latest submit request (replies to older ones are stale). */
  private attempt = 0;
  private catching: Promise<void> | undefined;
  private again = false;
  /** The local selection (code points), moved along when others' edits arrive. */
  selection: Selection = [0, 0];
  private sentSelection = '';
  private cursorTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  /** This session's id (`src` of its operations): random, or the saved session's. */
  readonly id: string;
  private readonly storage: StorageLike | undefined;
  private readonly storageKey: string;
  private saved: OtClientState | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly client: RealtimeClient,
    readonly doc: string,
    options: EditorSessionOptions = {},
  ) {
    this.storage = options.storage;
    this.storageKey = `ieum-editor:${doc}`;
    this.saved = this.load();
    this.id = this.saved?.id ?? options.id ?? randomId();
  }

  on<E extends keyof SessionEvents>(event: E, fn: SessionEvents[E]): this {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as (...args: never[]) => void);
    return this;
  }

  private fire<E extends keyof SessionEvents>(event: E, ...args: Parameters<SessionEvents[E]>): void {
    for (const fn of this.listeners.get(event) ?? [])
      (fn as (...a: Parameters<SessionEvents[E]>) => void)(...args);
  }

  /** The local text ('' before `start` resolves). */
  get text(): string {
    return this.ot?.text ?? '';
  }

  /** Whether local edits wait to be committed (offline, or in flight). */
  get pending(): boolean {
    return this.ot?.pending ?? false;
  }

  /** Subscribes to the document and its cursors, then loads the current snapshot. */
  async start(): Promise<void> {
    const docs = this.client.channel<{ op: CommittedOp }>(docChannel(this.doc), { presence: true });
    this.docs = docs;
    docs.on('message', (m) => {
      if (m.event === 'op') this.receive([m.data]);
    });
    // The channel's history is gone (e.g. a server restart): fetch what we missed from the service.
    docs.on('reset', () => void this.catchUp());
    docs.on('join', (m) => {
      this.members.add(m.user);
      this.fire('update');
    });
    docs.on('leave', (m) => {
      this.members.delete(m.user);
      for (const [src, c] of this.cursors) if (c.user === m.user) this.cursors.delete(src);
      for (const [conn, src] of this.cursorOf) if (!this.cursors.has(src)) this.cursorOf.delete(conn);
      this.fire('update');
    });
    docs.on('update', (u) => this.remoteCursor(u));
    this.client.on('state', (s) => {
      if (s !== 'open' || !this.ot) return;
      void this.catchUp();
      this.submit();
      this.sentSelection = '';
      this.scheduleCursor();
    });
    await docs.subscribe();
    if (this.saved) {
      // Edits left pending by a reload: resume from the saved version, catch up, send them.
      this.ot = OtClient.restore(this.saved);
      this.saved = undefined;
      this.fire('reset', this.ot.text);
      this.receive(this.early.splice(0));
      await this.catchUp();
      this.submit();
      return;
    }
    // Subscribed first, so nothing committed after the snapshot is missed (older ones are ignored).
    this.open((await this.client.request(EditorEvents.open, { doc: this.doc })) as Snapshot);
  }

  private load(): OtClientState | undefined {
    try {
      const raw = this.storage?.getItem(this.storageKey);
      const s = raw ? (JSON.parse(raw) as OtClientState) : undefined;
      return s && typeof s.id === 'string' && Number.isSafeInteger(s.v) && typeof s.server === 'string'
        ? s
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Keeps the pending edits in `storage` (or forgets them once committed), soon. */
  private persist(): void {
    if (!this.storage || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.persistNow(), 300);
  }

  /** Writes the pending edits to `storage` now (also done by `close`, e.g. when the page is hidden). */
  persistNow(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.storage || !this.ot) return;
    try {
      if (this.ot.pending) this.storage.setItem(this.storageKey, JSON.stringify(this.ot.save()));
      else this.storage.removeItem(this.storageKey);
    } catch {
      // Storage full or refused: the edits stay in memory, as without storage.
    }
  }

  /** Applies a local edit (code point positions) and submits it when nothing is in flight. */
  edit(op: TextOp, selection?: Selection): void {
    if (!this.ot) throw new Error('EditorSession.edit before start() resolved');
    this.ot.edit(op);
    if (selection) this.selection = selection;
    this.submit();
    this.persist();
    this.fire('update');
  }

  /** Replaces the text with `next` by one edit (the change between them), as typed in a textarea. */
  replace(next: string, selection?: Selection): void {
    const op = diff(this.text, next);
    if (op.length > 0 || selection) this.edit(op, selection);
  }

  /** The local selection moved (code points); others see it shortly. */
  select(selection: Selection): void {
    this.selection = selection;
    this.scheduleCursor();
  }

  /** Others' cursors placed in the local text (code points); those not placeable yet are left out. */
  remoteCursors(): Array<{ src: string; user: string; sel: Selection }> {
    const out: Array<{ src: string; user: string; sel: Selection }> = [];
    for (const [src, c] of this.cursors) {
      const sel = this.ot?.toLocal(c.sel, c.v);
      if (sel) out.push({ src, user: c.user, sel });
    }
    return out;
  }

  /** Tells the others this cursor is gone, and stops. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.cursorTimer);
    this.persistNow();
    if (this.client.state === 'open') this.docs?.updatePresence(null).catch(() => {});
  }

  private open(snapshot: Snapshot): void {
    if (this.ot) {
      const lost = this.ot.reset(snapshot);
      if (lost !== null) this.fire('lost', lost, 'the server could not merge these edits');
    } else this.ot = new OtClient(this.id, snapshot);
    this.submitting = false;
    this.attempt++;
    this.persist();
    this.fire('reset', this.ot.text);
    const early = this.early;
    this.early = [];
    this.receive(early);
  }

  private receive(ops: CommittedOp[]): void {
    const ot = this.ot;
    if (!ot) {
      this.early.push(...ops);
      return;
    }
    const applied: Applied[] = [];
    for (const c of ops) applied.push(...ot.receive(c));
    if (applied.length === 0) {
      if (ot.gap !== null) void this.catchUp();
      return;
    }
    let acked = false;
    for (const a of applied) {
      const c = a.committed;
      // Cursors travel with the operations: move every cursor at the previous version along.
      for (const cur of this.cursors.values()) {
        if (cur.v === c.v - 1) {
          cur.sel = [text.transformPosition(cur.sel[0], c.op), text.transformPosition(cur.sel[1], c.op)];
          cur.v = c.v;
        }
      }
      if (c.sel && !a.own && c.user !== undefined)
        this.cursors.set(c.src, { user: c.user, v: c.v, sel: c.sel });
      if (a.own) acked = true;
      if (!a.own) this.selection = moveSelection(this.selection, a.op);
    }
    const remote = applied.filter((a) => !a.own);
    if (remote.length > 0) this.fire('change', remote);
    if (acked) {
      this.submitting = false;
      this.attempt++;
      this.submit();
      this.scheduleCursor();
    }
    if (ot.gap !== null) void this.catchUp();
    if (acked) this.persist();
    this.fire('update');
  }

  /** Sends the in-flight operation again if its request failed, else the buffered edits. */
  private submit(): void {
    const ot = this.ot;
    if (!ot || this.submitting || this.closed || this.client.state !== 'open') return;
    const out: Outgoing | null = ot.retry() ?? ot.next(this.selection);
    if (!out) return;
    if (out.sel) this.sentSelection = JSON.stringify([ot.version + 1, out.sel]);
    this.submitting = true;
    const attempt = ++this.attempt;
    this.client
      .request(EditorEvents.submit, { doc: this.doc, src: this.id, ...out })
      .then((reply) => {
        if (attempt !== this.attempt) return;
        // Normally its commit has arrived on the channel already; if not, ask for it.
        const { v } = reply as SubmitReply;
        setTimeout(() => {
          if (this.ot === ot && ot.version < v) void this.catchUp();
        }, 1000);
      })
      .catch((error: RequestError) => {
        if (this.ot !== ot || attempt !== this.attempt) return;
        this.submitting = false;
        if (!TRANSIENT.has(error.code)) {
          // Refused (too-old, bad-op, document-too-large...): sending it again cannot help.
          this.fire('error', error);
          void this.reopen();
        } else if (this.client.state === 'open') {
          // A timeout or a failure of the service: the same operation again, a little later.
          setTimeout(() => this.submit(), 1000);
        } // else: sent again when the connection is back (the 'state' listener).
      });
  }

  /** Fetches committed operations after our version until there are none (after a gap or reset). */
  private catchUp(): Promise<void> {
    if (this.catching) {
      this.again = true;
      return this.catching;
    }
    this.catching = (async () => {
      try {
        do {
          this.again = false;
          const ot = this.ot;
          if (!ot || this.closed) return;
          const r = (await this.client.request(EditorEvents.ops, { doc: this.doc, since: ot.version })) as {
            ops: CommittedOp[];
          };
          if (this.ot !== ot) return;
          this.receive(r.ops);
          if (r.ops.length > 0 && ot.gap === null) this.again ||= r.ops.length >= 500;
        } while (this.again);
      } catch (error) {
        if ((error as RequestError).code === EditorErrors.TOO_OLD) await this.reopen();
        // Otherwise (disconnected): done again when the connection is back.
      } finally {
        this.catching = undefined;
      }
    })();
    return this.catching;
  }

  private async reopen(): Promise<void> {
    try {
      this.open((await this.client.request(EditorEvents.open, { doc: this.doc })) as Snapshot);
    } catch (error) {
      this.fire('error', error as Error);
    }
  }

  /** Another connection's presence state changed: its cursor moved, or is gone. */
  private remoteCursor(u: PresenceUpdate): void {
    const before = this.cursorOf.get(u.connection);
    const c = 'state' in u ? parseCursorPresence(u.state) : undefined;
    if (before !== undefined && before !== c?.src) this.cursors.delete(before);
    if (!c || c.src === this.id) {
      this.cursorOf.delete(u.connection);
    } else {
      this.cursorOf.set(u.connection, c.src);
      this.cursors.set(c.src, { user: u.user, v: c.v, sel: c.sel });
    }
    this.fire('update');
  }

  /** Sends our selection (throttled), only when nothing is pending: it is then at a server version. */
  private scheduleCursor(): void {
    if (this.cursorTimer || this.closed) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      const ot = this.ot;
      if (!ot || ot.pending || this.client.state !== 'open') return;
      const key = JSON.stringify([ot.version, this.selection]);
      if (key === this.sentSelection) return;
      this.sentSelection = key;
      const state: CursorPresence = { src: this.id, v: ot.version, sel: this.selection };
      // Latest value wins: the server coalesces rapid moves. Sent again after a reconnect by the
      // client itself; a failure here is a disconnect, or a refusal worth reporting.
      this.docs?.updatePresence(state).catch((error: RequestError) => {
        if (!TRANSIENT.has(error.code)) this.fire('error', error);
      });
    }, 50);
  }
}

function moveSelection(sel: Selection, op: TextOp): Selection {
  return [text.transformPosition(sel[0], op), text.transformPosition(sel[1], op)];
}

/**
 * The operation turning `a` into `b`: one replaced span between their common prefix and suffix
 * (what a textarea's input event amounts to), in code points, never splitting a surrogate pair.
 */
export function diff(a: string, b: string): TextOp {
  if (a === b) return [];
  let start = 0;
  const max = Math.min(a.length, b.length);
  while (start < max && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && a.charCodeAt(a.length - 1 - end) === b.charCodeAt(b.length - 1 - end)) end++;
  // Do not cut a surrogate pair in two: move the boundaries outwards.
  const high = (c: number) => c >= 0xd800 && c <= 0xdbff;
  const low = (c: number) => c >= 0xdc00 && c <= 0xdfff;
  if (start > 0 && high(a.charCodeAt(start - 1))) start--;
  if (end > 0 && low(a.charCodeAt(a.length - end))) end--;
  const removed = a.slice(start, a.length - end);
  const inserted = b.slice(start, b.length - end);
  const op: TextOp = [];
  const skip = codePointLength(a.slice(0, start));
  if (skip > 0) op.push(skip);
  if (removed.length > 0) op.push({ d: codePointLength(removed) });
  if (inserted.length > 0) op.push(inserted);
  return op;
}
