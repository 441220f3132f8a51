// The behaviours a case checks, modelled on Autobahn|Testsuite's expectations: a peer either
// echoes what it should and closes cleanly, or fails the connection with the right close code.
import { closePayload, type FrameSpec, OP } from './frames.js';
import type { CaseResult, Message, Session } from './session.js';

export interface Case {
  id: string;
  description: string;
  /** permessage-deflate: the offer sent as a client (fuzzingclient mode). */
  deflateOffer?: string;
  /** permessage-deflate: the response to a client's offer (fuzzingserver mode); undefined declines. */
  deflateResponse?: (offer: string) => string | undefined;
  /** Milliseconds the case may take before it is FAILED for hanging. */
  timeoutMs?: number;
  run(session: Session): Promise<CaseResult>;
}

const ok = (reason = ''): CaseResult => ({ outcome: 'OK', reason });
const failed = (reason: string): CaseResult => ({ outcome: 'FAILED', reason });

function sameMessages(got: Message[], want: Message[]): string | undefined {
  if (got.length !== want.length) return `expected ${want.length} message(s), got ${got.length}`;
  for (let i = 0; i < want.length; i++) {
    if (got[i]!.opcode !== want[i]!.opcode)
      return `message ${i + 1}: opcode ${got[i]!.opcode}, expected ${want[i]!.opcode}`;
    if (!got[i]!.data.equals(want[i]!.data)) {
      return `message ${i + 1}: payload differs (${got[i]!.data.length} bytes, expected ${want[i]!.data.length})`;
    }
  }
  return undefined;
}

export const text = (s: string | Buffer): Message => ({ opcode: OP.TEXT, data: Buffer.from(s) });
export const binary = (b: Buffer): Message => ({ opcode: OP.BINARY, data: b });

export interface EchoOptions {
  /** Split the bytes into TCP writes of this size. */
  chop?: number;
  /** Pongs expected (payloads), in order. */
  pongs?: Buffer[];
  /** Steps run after the frames are sent (e.g. more frames after a pause). */
  after?: (s: Session) => Promise<void>;
  waitMs?: number;
}

/** The peer must echo `expected` (and answer pings), then complete a clean close. */
export function echoCase(
  id: string,
  description: string,
  frames: FrameSpec[],
  expected: Message[],
  options: EchoOptions = {},
): Case {
  const waitMs = options.waitMs ?? 5000;
  return {
    id,
    description,
    timeoutMs: waitMs + 10_000,
    async run(s) {
      await s.send(frames, options.chop ? { chop: options.chop } : {});
      if (options.after) await options.after(s);
      const pongs = options.pongs ?? [];
      await s.until(() => {
        const v = s.view();
        return (v.messages.length >= expected.length && v.pongs.length >= pongs.length) || s.peerClosed();
      }, waitMs);
      const v = s.view();
      if (v.violation) return failed(v.violation);
      if (v.close || v.tcpClosed) {
        return failed(
          `peer closed the connection (${v.close ? `code ${v.close.code}` : 'TCP'}) instead of echoing`,
        );
      }
      const diff = sameMessages(v.messages, expected);
      if (diff) return failed(diff);
      for (let i = 0; i < pongs.length; i++) {
        if (!v.pongs[i]?.equals(pongs[i]!)) return failed(`pong ${i + 1} missing or with the wrong payload`);
      }
      if (v.pongs.length > pongs.length)
        return failed(`unexpected pong(s): ${v.pongs.length - pongs.length}`);
      return cleanClose(s, 1000);
    },
  };
}

/** Starts a close with `code` and checks the peer answers with a close frame (code echoed or 1000). */
export async function cleanClose(s: Session, code: number, reason?: Buffer | string): Promise<CaseResult> {
  await s.send({ opcode: OP.CLOSE, payload: closePayload(code, reason) });
  await s.finishClose(code);
  const v = s.view();
  if (v.violation) return failed(v.violation);
  if (!v.close) return failed('peer did not answer our close frame');
  if (v.close.code !== code && v.close.code !== 1000)
    return failed(`peer answered close ${code} with ${v.close.code}`);
  return ok();
}

export interface FailOptions {
  /** Acceptable close codes (an empty close frame or a dropped TCP connection is also accepted). */
  codes?: number[];
  /** Messages the peer must echo before it fails (those sent before the violation). */
  before?: Message[];
  /** Pongs the peer must send before failing. */
  pongs?: Buffer[];
  chop?: number;
  /**
   * Fail-fast check: frames sent after a pause. If the peer had not failed the connection by
   * then, but fails after them, the outcome is NON-STRICT (RFC 6455 §8.1 asks to fail fast).
   */
  later?: FrameSpec[];
  /** Result when the peer does not fail at all (default FAILED). */
  lenient?: 'INFORMATIONAL';
}

/** The peer must fail the connection (RFC 6455 §7.1.7) with one of `codes`. */
export function failCase(
  id: string,
  description: string,
  frames: FrameSpec[],
  options: FailOptions = {},
): Case {
  const codes = options.codes ?? [1002];
  return {
    id,
    description,
    timeoutMs: 15_000,
    async run(s) {
      let nonStrict = false;
      await s.send(frames, options.chop ? { chop: options.chop } : {});
      if (options.later) {
        await s.until(() => s.peerClosed(), 1000);
        if (!s.peerClosed()) {
          nonStrict = true;
          await s.send(options.later);
        }
      }
      await s.until(() => s.peerClosed(), 3000);
      const v = s.view();
      if (v.violation) return failed(v.violation);
      const diff = sameMessages(v.messages, options.before ?? []);
      if (diff) return failed(`${diff} (the peer must not deliver data after the violation)`);
      for (let i = 0; i < (options.pongs ?? []).length; i++) {
        if (!v.pongs[i]?.equals(options.pongs![i]!))
          return failed(`pong ${i + 1} missing or with the wrong payload`);
      }
      if (!v.close && !v.tcpClosed) {
        await s.finishClose(1000);
        if (options.lenient) return { outcome: options.lenient, reason: 'peer accepted it' };
        return failed('peer did not fail the connection');
      }
      if (v.close && v.close.code !== 1005 && !codes.includes(v.close.code)) {
        await s.answerClose();
        return failed(`peer closed with ${v.close.code}; expected ${codes.join(' or ')}`);
      }
      await s.answerClose();
      return nonStrict
        ? { outcome: 'NON-STRICT', reason: 'failed only at the end of the message, not as soon as possible' }
        : ok();
    },
  };
}

/** Appends a case (a statement, for use in forEach callbacks). */
export function add(cases: Case[], c: Case): void {
  cases.push(c);
}
