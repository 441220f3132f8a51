// Section 9: limited-size performance: large messages, many fragments, chopped writes, many messages.
import { binary, type Case, echoCase, text } from './case-kinds.js';
import { type FrameSpec, OP } from './frames.js';
import type { CaseResult } from './session.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/**
 * Splits `data` into frames of `size` bytes the way Autobahn|Testsuite's fragmenter does: a
 * message that fits in one fragment is one frame; otherwise a frame is final only once the
 * next fragment would run past the end, so when `size` divides the length evenly the message
 * ends with an extra empty final frame (4 MiB in 64-byte fragments is 65,536 frames + 1).
 */
export function fragmented(opcode: number, data: Buffer, size: number): FrameSpec[] {
  if (data.length <= size) return [{ opcode, payload: data, fin: true }];
  const out: FrameSpec[] = [];
  for (let start = 0; ; start += size) {
    const last = start + size > data.length;
    out.push({
      opcode: start === 0 ? opcode : OP.CONT,
      payload: data.subarray(start, start + size),
      fin: last,
    });
    if (last) return out;
  }
}

export function largeCases(): Case[] {
  const cases: Case[] = [];
  const sizes = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB];
  const textOf = (n: number) => Buffer.alloc(n, '*');
  const binOf = (n: number) => Buffer.alloc(n, 0xfe);
  sizes.forEach((n, i) => {
    cases.push(
      echoCase(
        `9.1.${i + 1}`,
        `text message of ${n} bytes`,
        [{ opcode: OP.TEXT, payload: textOf(n) }],
        [text(textOf(n))],
        { waitMs: 60_000 },
      ),
    );
  });
  sizes.forEach((n, i) => {
    cases.push(
      echoCase(
        `9.2.${i + 1}`,
        `binary message of ${n} bytes`,
        [{ opcode: OP.BINARY, payload: binOf(n) }],
        [binary(binOf(n))],
        { waitMs: 60_000 },
      ),
    );
  });
  const fragSizes = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
  fragSizes.forEach((f, i) => {
    cases.push(
      echoCase(
        `9.3.${i + 1}`,
        `4 MiB text message in ${f}-byte fragments`,
        fragmented(OP.TEXT, textOf(4 * MiB), f),
        [text(textOf(4 * MiB))],
        { waitMs: 60_000 },
      ),
    );
  });
  fragSizes.forEach((f, i) => {
    cases.push(
      echoCase(
        `9.4.${i + 1}`,
        `4 MiB binary message in ${f}-byte fragments`,
        fragmented(OP.BINARY, binOf(4 * MiB), f),
        [binary(binOf(4 * MiB))],
        { waitMs: 60_000 },
      ),
    );
  });
  const chops = [64, 128, 256, 512, 1024, 2048];
  chops.forEach((c, i) => {
    cases.push(
      echoCase(
        `9.5.${i + 1}`,
        `1 MiB text message written in ${c}-byte chops`,
        [{ opcode: OP.TEXT, payload: textOf(MiB) }],
        [text(textOf(MiB))],
        { chop: c, waitMs: 60_000 },
      ),
    );
  });
  chops.forEach((c, i) => {
    cases.push(
      echoCase(
        `9.6.${i + 1}`,
        `1 MiB binary message written in ${c}-byte chops`,
        [{ opcode: OP.BINARY, payload: binOf(MiB) }],
        [binary(binOf(MiB))],
        { chop: c, waitMs: 60_000 },
      ),
    );
  });
  const counts = [0, 16, 64, 256, 1024, 4096];
  for (const [section, opcode] of [
    ['9.7', OP.TEXT],
    ['9.8', OP.BINARY],
  ] as const) {
    counts.forEach((n, i) => {
      cases.push({
        id: `${section}.${i + 1}`,
        description: `1000 ${opcode === OP.TEXT ? 'text' : 'binary'} messages of ${n} bytes, one round trip each`,
        timeoutMs: 70_000,
        async run(s): Promise<CaseResult> {
          const payload = opcode === OP.TEXT ? textOf(n) : binOf(n);
          const started = Date.now();
          for (let k = 0; k < 1000; k++) {
            await s.send({ opcode, payload });
            const got = await s.until(() => s.view().messages.length > k || s.peerClosed(), 10_000);
            if (!got || s.peerClosed()) return { outcome: 'FAILED', reason: `no echo for message ${k + 1}` };
          }
          const v = s.view();
          if (v.violation) return { outcome: 'FAILED', reason: v.violation };
          if (!v.messages.every((m) => m.opcode === opcode && m.data.equals(payload))) {
            return { outcome: 'FAILED', reason: 'an echo differs' };
          }
          const ms = Date.now() - started;
          await s.finishClose();
          return { outcome: 'OK', reason: `${ms} ms` };
        },
      });
    });
  }
  return cases;
}
