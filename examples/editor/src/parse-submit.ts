// Validation of what clients send, before any of it reaches the OT type or storage: the type's own
// checkOp lets some malformed components through (booleans, objects with extra keys), and text with
// NUL or a lone surrogate cannot be stored alike everywhere (PostgreSQL text refuses NUL; a lone
// surrogate has no code point position).
import { RealtimeError } from '@ieum/realtime/server';
import { type TextOp, type as text } from 'ot-text-unicode';
import { DOC_NAME, EditorErrors, type Selection, type SubmitRequest } from './protocol.js';

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const isStorableText = (s: string) => s.length > 0 && !s.includes('\u0000') && !LONE_SURROGATE.test(s);

/** Client ids: 1 to 64 letters, digits, `_` or `-`. */
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function bad(message: string): never {
  throw new RealtimeError('bad-request', message);
}

/** A document name, or a `bad-request` error saying what names look like. */
export function parseDocName(x: unknown): string {
  if (typeof x !== 'string' || !DOC_NAME.test(x)) bad('doc must be 1-64 characters: a-z, 0-9 and -');
  return x;
}

/** A text operation, or a `bad-op` error. */
export function parseOp(x: unknown, maxComponents: number): TextOp {
  const fail = (why: string): never => {
    throw new RealtimeError(EditorErrors.BAD_OP, `op: ${why}`);
  };
  if (!Array.isArray(x)) fail('must be an array of components');
  const op = x as unknown[];
  if (op.length > maxComponents) fail(`more than ${maxComponents} components`);
  for (const c of op) {
    if (typeof c === 'number') {
      if (!isCount(c) || c === 0) fail('a skip is a positive integer');
    } else if (typeof c === 'string') {
      if (!isStorableText(c)) fail('an insert is non-empty text without NUL or lone surrogates');
    } else if (typeof c === 'object' && c !== null && Object.keys(c).length === 1 && 'd' in c) {
      const d = (c as { d: unknown }).d;
      if (!(typeof d === 'string' ? isStorableText(d) : isCount(d) && d > 0))
        fail('a delete is { d: count or text }');
    } else fail('components are skips (numbers), inserts (strings) or deletes ({ d })');
  }
  try {
    text.checkOp(op as TextOp);
  } catch (error) {
    fail((error as Error).message);
  }
  return op as TextOp;
}

function parseSelection(x: unknown): Selection | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x) || x.length !== 2 || !isCount(x[0]) || !isCount(x[1])) {
    bad('sel must be [anchor, head], two code point positions');
  }
  return [x[0], x[1]];
}

/** A submit request, or a `bad-request` / `bad-op` error. */
export function parseSubmit(x: unknown, maxComponents: number): SubmitRequest {
  if (typeof x !== 'object' || x === null) bad('submit { doc, base, op, src, seq, sel? }');
  const r = x as Record<string, unknown>;
  const doc = parseDocName(r.doc);
  if (!isCount(r.base)) bad('base must be the version the op was made on');
  if (!isCount(r.seq) || r.seq === 0) bad('seq must be a positive integer');
  if (typeof r.src !== 'string' || !CLIENT_ID.test(r.src)) bad('src must be 1-64 of A-Z a-z 0-9 _ -');
  const sel = parseSelection(r.sel);
  return {
    doc,
    base: r.base,
    op: parseOp(r.op, maxComponents),
    src: r.src,
    seq: r.seq,
    ...(sel ? { sel } : {}),
  };
}
