// Section 7: the closing handshake, close payloads and close codes (RFC 6455 §5.5.1, §7).
import { type Case, cleanClose, echoCase, failCase, text } from './case-kinds.js';
import { closePayload, OP } from './frames.js';
import type { CaseResult, Session } from './session.js';

const CLOSE = (payload: Buffer) => ({ opcode: OP.CLOSE, payload });

/** We close first, then send more: the peer must reply to the close and ignore the rest. */
function afterClose(
  id: string,
  description: string,
  extra: Parameters<Session['send']>[0],
  prefix: Parameters<Session['send']>[0] = [],
): Case {
  return {
    id,
    description,
    async run(s): Promise<CaseResult> {
      await s.send(prefix);
      await s.send(CLOSE(closePayload(1000)));
      await s.send(extra);
      await s.finishClose(1000);
      const v = s.view();
      if (v.violation) return { outcome: 'FAILED', reason: v.violation };
      if (!v.close) return { outcome: 'FAILED', reason: 'peer did not answer our close frame' };
      if (v.close.code !== 1000) return { outcome: 'FAILED', reason: `peer answered with ${v.close.code}` };
      if (v.messages.length > 0 || v.pongs.length > 0) {
        return { outcome: 'FAILED', reason: 'peer processed data sent after the close frame' };
      }
      return { outcome: 'OK', reason: '' };
    },
  };
}

export function closeCases(): Case[] {
  const cases: Case[] = [];
  cases.push(
    echoCase(
      '7.1.1',
      'text message, then a clean close',
      [{ opcode: OP.TEXT, payload: 'Hello World!' }],
      [text('Hello World!')],
    ),
  );
  cases.push(afterClose('7.1.2', 'close, then a second close', CLOSE(closePayload(1000))));
  cases.push(
    afterClose('7.1.3', 'close, then a ping: no pong', { opcode: OP.PING, payload: 'ping after close' }),
  );
  cases.push(
    afterClose('7.1.4', 'close, then a text message: not echoed', {
      opcode: OP.TEXT,
      payload: 'text after close',
    }),
  );
  cases.push(
    afterClose(
      '7.1.5',
      'text fragment, close, continuation: nothing echoed',
      { opcode: OP.CONT, payload: 'fragment2' },
      { opcode: OP.TEXT, payload: 'fragment1', fin: false },
    ),
  );
  cases.push({
    id: '7.1.6',
    description: 'large messages, then close, then a ping (informational: what the peer delivers)',
    async run(s) {
      const big = 'BAsd7&jh23'.repeat(26214);
      for (let i = 0; i < 10; i++) await s.send({ opcode: OP.TEXT, payload: big });
      await s.send([CLOSE(closePayload(1000)), { opcode: OP.PING, payload: 'ping after close' }]);
      await s.finishClose(1000, 10_000);
      const v = s.view();
      if (!v.close) return { outcome: 'FAILED', reason: 'peer did not answer our close frame' };
      return {
        outcome: 'INFORMATIONAL',
        reason: `peer echoed ${v.messages.length} of 10 messages before closing`,
      };
    },
  });
  // 7.3: close payload length.
  cases.push({
    id: '7.3.1',
    description: 'close without payload',
    async run(s) {
      await s.send(CLOSE(Buffer.alloc(0)));
      await s.finishClose();
      const v = s.view();
      if (!v.close) return { outcome: 'FAILED', reason: 'peer did not answer our close frame' };
      if (v.close.code !== 1005 && v.close.code !== 1000)
        return { outcome: 'FAILED', reason: `peer answered with ${v.close.code}` };
      return { outcome: 'OK', reason: '' };
    },
  });
  cases.push(failCase('7.3.2', 'close with a 1-byte payload', [CLOSE(Buffer.from([0x03]))]));
  cases.push({ id: '7.3.3', description: 'close 1000 without reason', run: (s) => cleanClose(s, 1000) });
  cases.push({
    id: '7.3.4',
    description: 'close 1000 with a short reason',
    run: (s) => cleanClose(s, 1000, 'Hello World!'),
  });
  cases.push({
    id: '7.3.5',
    description: 'close 1000 with a 123-byte reason',
    run: (s) => cleanClose(s, 1000, '*'.repeat(123)),
  });
  cases.push(
    failCase('7.3.6', 'close with a 124-byte reason (payload over 125 bytes)', [
      CLOSE(closePayload(1000, '*'.repeat(124))),
    ]),
  );
  cases.push(
    failCase(
      '7.5.1',
      'close with an invalid UTF-8 reason',
      [
        CLOSE(
          closePayload(
            1000,
            Buffer.from([
              0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64,
              0x69, 0x74, 0x65, 0x64,
            ]),
          ),
        ),
      ],
      { codes: [1007] },
    ),
  );
  // 7.7: valid close codes are accepted.
  [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) => {
    cases.push({
      id: `7.7.${i + 1}`,
      description: `close with valid code ${code}`,
      run: (s) => cleanClose(s, code),
    });
  });
  // 7.9: codes that must not appear on the wire.
  [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) => {
    cases.push(failCase(`7.9.${i + 1}`, `close with invalid code ${code}`, [CLOSE(closePayload(code))]));
  });
  cases.push(
    failCase('7.13.1', 'close with code 5000 (outside 1000-4999)', [CLOSE(closePayload(5000))], {
      lenient: 'INFORMATIONAL',
    }),
  );
  cases.push(
    failCase('7.13.2', 'close with code 65535', [CLOSE(closePayload(65535))], { lenient: 'INFORMATIONAL' }),
  );
  return cases;
}
