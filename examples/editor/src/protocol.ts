// What the editor's server and clients exchange over @ieum/realtime: event names, channel names
// and payloads. Browser-safe (no Node API). Positions and lengths in operations are Unicode code
// points, as in ot-text-unicode; the page converts to and from UTF-16 indices at the textarea.
import type { TextOp } from 'ot-text-unicode';

/** Document names: lower-case letters, digits and `-`, 1 to 64 characters. */
export const DOC_NAME = /^[a-z0-9-]{1,64}$/;

/** The channel whose messages are the document's committed operations (event `op`). */
export const docChannel = (doc: string): string => `editor:doc:${doc}`;

/** Client-to-server events (`client.request`), answered by the server's handlers. */
export const EditorEvents = {
  /** `{ doc }` → `Snapshot`: the current text and version (no history replay). */
  open: 'editor:open',
  /** `SubmitRequest` → `SubmitReply`: commit one operation. */
  submit: 'editor:submit',
  /** `{ doc, since }` → `{ ops: CommittedOp[] }`: operations after version `since`. */
  ops: 'editor:ops',
} as const;

/** Error codes the editor's handlers reply with (besides the realtime layer's own). */
export const EditorErrors = {
  /** The operation is malformed or does not fit the document. */
  BAD_OP: 'bad-op',
  /** `base` or `since` is older than the operations the server keeps: reopen the document. */
  TOO_OLD: 'too-old',
  /** The document would exceed `maxDocumentChars`. */
  TOO_LARGE: 'document-too-large',
} as const;

/** A selection: `[anchor, head]` in code points (equal for a caret). */
export type Selection = [number, number];

/** A document's text at a version. */
export interface Snapshot {
  v: number;
  text: string;
}

/** An operation as committed by the server, broadcast as the `op` message of `docChannel`. */
export interface CommittedOp {
  /** The version this operation produced: the document's `v`-th operation. */
  v: number;
  op: TextOp;
  /** The submitting client's id, and its operation number (deduplication of retries). */
  src: string;
  seq: number;
  /** The submitting user (from the realtime layer's authentication). */
  user?: string;
  /** The submitter's selection after this operation, at version `v`. */
  sel?: Selection;
}

/** One operation of one client, made against version `base`. */
export interface SubmitRequest {
  doc: string;
  base: number;
  op: TextOp;
  src: string;
  seq: number;
  /** The client's selection after `op` (same coordinates as `op`'s result). */
  sel?: Selection;
}

export interface SubmitReply {
  /** The version at which the operation was committed (its first commit, for a retry). */
  v: number;
  duplicate: boolean;
}

/**
 * Each connection's presence state on `docChannel` (realtime presence, `updatePresence`): its
 * selection at version `v` of the document, sent when it had no unacknowledged operation.
 * `null` instead: the session closed (hide its cursor).
 */
export interface CursorPresence {
  /** The editor session's id (`src` of its operations). */
  src: string;
  v: number;
  sel: Selection;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Another connection's presence state as a cursor, or undefined when it is none (`null`, or not
 * shaped like one: presence state comes from other clients and is checked before use).
 */
export function parseCursorPresence(x: unknown): CursorPresence | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const r = x as Record<string, unknown>;
  if (typeof r.src !== 'string' || r.src.length === 0 || r.src.length > 64 || !isCount(r.v)) return undefined;
  const sel = r.sel;
  if (!Array.isArray(sel) || sel.length !== 2 || !isCount(sel[0]) || !isCount(sel[1])) return undefined;
  return { src: r.src, v: r.v, sel: [sel[0], sel[1]] };
}
