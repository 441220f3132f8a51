// Inputs, client to server: one button mask per simulation step, numbered.
//
//   u8 type (2)   u32 ack tick (newest snapshot decoded; 0: none, send a full one)
//   u32 sequence number of the first input   u8 count (1..MAX_INPUTS_PER_MESSAGE)
//   count × u8 button mask
//
// Little-endian. Consecutive inputs have consecutive sequence numbers; a client may batch several
// steps in one message (the bench bots send three at 20 Hz, the page one per step, 60 Hz).
import { BUTTONS_MASK } from './movement.js';

/** First byte of an input message. */
export const INPUT_TYPE = 2;
/** Most inputs one message may carry. */
export const MAX_INPUTS_PER_MESSAGE = 32;

export interface InputMessage {
  /** Tick of the newest snapshot the client decoded, the base it wants deltas against (0: none). */
  ackTick: number;
  /** Sequence number of `buttons[0]`; the next ones follow by one. Starts at 1. */
  firstSeq: number;
  /** One `Buttons` mask per step. */
  buttons: number[];
}

/** Encodes an input message. Throws a RangeError for an empty or too long batch. */
export function encodeInput(m: InputMessage): Uint8Array {
  const n = m.buttons.length;
  if (n < 1 || n > MAX_INPUTS_PER_MESSAGE) {
    throw new RangeError(`an input message carries 1 to ${MAX_INPUTS_PER_MESSAGE} inputs (got ${n})`);
  }
  const bytes = new Uint8Array(10 + n);
  const v = new DataView(bytes.buffer);
  v.setUint8(0, INPUT_TYPE);
  v.setUint32(1, m.ackTick, true);
  v.setUint32(5, m.firstSeq, true);
  v.setUint8(9, n);
  for (let i = 0; i < n; i++) bytes[10 + i] = m.buttons[i]! & BUTTONS_MASK;
  return bytes;
}

/** Decodes an input message; throws a RangeError that says what is wrong with malformed bytes. */
export function decodeInput(data: unknown): InputMessage {
  if (!(data instanceof Uint8Array)) throw new RangeError('an input message is binary');
  if (data.length < 11 || data[0] !== INPUT_TYPE) throw new RangeError('not an input message');
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = v.getUint8(9);
  if (n < 1 || n > MAX_INPUTS_PER_MESSAGE || data.length !== 10 + n) {
    throw new RangeError(`an input message of ${data.length} bytes cannot carry ${n} inputs`);
  }
  const firstSeq = v.getUint32(5, true);
  if (firstSeq === 0) throw new RangeError('input sequence numbers start at 1');
  const buttons: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = data[10 + i]!;
    if (b & ~BUTTONS_MASK) throw new RangeError(`unknown button bits ${b}`);
    buttons.push(b);
  }
  return { ackTick: v.getUint32(1, true), firstSeq, buttons };
}
