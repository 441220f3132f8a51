// What the editor's server and clients exchange over @ieum/realtime: event names, channel names
// and payloads. Browser-safe (no Node API). Positions and lengths in operations are Unicode code
// points, as in ot-text-unicode; the page converts to and from UTF-16 indices at the textarea.
import type { TextOp } from 'ot-text-unicode';

/** Document names: lower-case letters, digits and `-`, 1 to 64 characters. */
export const DOC_NAME = /^[a-z0-9-]{1,64}$/;

/** The channel whose messages are the document's committed operations (event `op`). */
export const docChannel = (doc: string): string => `editor:doc:${doc}`;
/** The live-only channel carrying cursor and selection moves (event `cursor`). */
export const cursorChannel = (doc: string): string => `editor:cursors:${doc}`;

/** Client-to-server events (`client.request`), answered by the server's handlers. */
export const EditorEvents = {
  /** `{ doc }` → `Snapshot`: the current text and version (no history replay). */
  open: 'editor:open',
  /** `SubmitRequest` → `SubmitReply`: commit one operation. */
  submit: 'editor:submit',
  /** `{ doc, since }` → `{ ops: CommittedOp[] }`: operations after version `since`. */
  ops: 'editor:ops',
  /** `CursorUpdate` (emit): a selection move, relayed to the others on `cursorChannel`. */
  cursor: 'editor:cursor',
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

/** A cursor move, at version `v` of the document (the sender had no unacknowledged operation). */
export interface CursorUpdate {
  doc: string;
  src: string;
  v: number;
  /** `null`: the sender left (hide its cursor). */
  sel: Selection | null;
}

/** A cursor as relayed to the others: stamped with the sender's user by the server. */
export interface RemoteCursor extends CursorUpdate {
  user: string;
}
