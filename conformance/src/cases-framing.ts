// Sections 1-5 and 10: framing, pings, reserved bits, opcodes, fragmentation.
import { binary, type Case, echoCase, failCase, text } from './case-kinds.js';
import { type FrameSpec, OP } from './frames.js';

const T = (payload: string | Buffer, fin = true): FrameSpec => ({ opcode: OP.TEXT, payload, fin });
const C = (payload: string | Buffer, fin = true): FrameSpec => ({ opcode: OP.CONT, payload, fin });
const PING = (payload: string | Buffer = ''): FrameSpec => ({ opcode: OP.PING, payload });
const star = (n: number): string => '*'.repeat(n);
const bytes = (n: number): Buffer => Buffer.alloc(n, 0xfe);

export function framingCases(): Case[] {
  const cases: Case[] = [];
  // 1. Framing: text and binary messages of the sizes around each length encoding.
  const sizes = [0, 125, 126, 127, 128, 65535, 65536];
  sizes.forEach((n, i) => {
    cases.push(echoCase(`1.1.${i + 1}`, `text message of ${n} bytes`, [T(star(n))], [text(star(n))]));
  });
  cases.push(
    echoCase(
      '1.1.8',
      'text message of 65536 bytes, sent in 997-byte chops',
      [T(star(65536))],
      [text(star(65536))],
      { chop: 997 },
    ),
  );
  sizes.forEach((n, i) => {
    cases.push(
      echoCase(
        `1.2.${i + 1}`,
        `binary message of ${n} bytes`,
        [{ opcode: OP.BINARY, payload: bytes(n) }],
        [binary(bytes(n))],
      ),
    );
  });
  cases.push(
    echoCase(
      '1.2.8',
      'binary message of 65536 bytes, sent in 997-byte chops',
      [{ opcode: OP.BINARY, payload: bytes(65536) }],
      [binary(bytes(65536))],
      { chop: 997 },
    ),
  );

  // 2. Pings and pongs.
  const p = (id: string, d: string, payload: Buffer) =>
    echoCase(id, d, [PING(payload)], [], { pongs: [payload] });
  cases.push(p('2.1', 'ping without payload', Buffer.alloc(0)));
  cases.push(p('2.2', 'ping with a small text payload', Buffer.from('Hello, world!')));
  cases.push(
    p('2.3', 'ping with a small binary payload', Buffer.from([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff])),
  );
  cases.push(p('2.4', 'ping with a 125-byte binary payload', bytes(125)));
  cases.push(
    failCase('2.5', 'ping with a 126-byte payload (control frames are at most 125 bytes)', [
      PING(bytes(126)),
    ]),
  );
  cases.push(
    echoCase('2.6', 'ping with a 125-byte payload sent one byte at a time', [PING(bytes(125))], [], {
      pongs: [bytes(125)],
      chop: 1,
    }),
  );
  cases.push(echoCase('2.7', 'unsolicited pong without payload: ignored', [{ opcode: OP.PONG }], []));
  cases.push(
    echoCase(
      '2.8',
      'unsolicited pong with payload: ignored',
      [{ opcode: OP.PONG, payload: 'unsolicited pong payload' }],
      [],
    ),
  );
  cases.push(
    echoCase(
      '2.9',
      'unsolicited pong, then ping: one pong for the ping',
      [{ opcode: OP.PONG, payload: 'unsolicited' }, PING('ping payload')],
      [],
      { pongs: [Buffer.from('ping payload')] },
    ),
  );
  const ten = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
  cases.push(
    echoCase(
      '2.10',
      '10 pings: a pong for each, in order',
      ten.map((b) => PING(b)),
      [],
      { pongs: ten },
    ),
  );
  cases.push(
    echoCase(
      '2.11',
      '10 pings sent one byte at a time',
      ten.map((b) => PING(b)),
      [],
      { pongs: ten, chop: 1 },
    ),
  );

  // 3. Reserved bits (no extension negotiated).
  cases.push(
    failCase('3.1', 'text frame with RSV1 set', [{ opcode: OP.TEXT, payload: 'Hello, world!', rsv: 4 }]),
  );
  cases.push(
    failCase(
      '3.2',
      'valid text, then text with RSV2',
      [T('small'), { opcode: OP.TEXT, payload: 'small', rsv: 2 }],
      { before: [text('small')] },
    ),
  );
  cases.push(
    failCase(
      '3.3',
      'valid text, text with RSV1+RSV2, ping',
      [T('small'), { opcode: OP.TEXT, payload: 'small', rsv: 6 }, PING()],
      { before: [text('small')] },
    ),
  );
  cases.push(
    failCase(
      '3.4',
      'valid text, text with RSV3, ping; one byte at a time',
      [T('small'), { opcode: OP.TEXT, payload: 'small', rsv: 1 }, PING()],
      { before: [text('small')], chop: 1 },
    ),
  );
  cases.push(
    failCase('3.5', 'binary frame with RSV1+RSV3', [{ opcode: OP.BINARY, payload: bytes(8), rsv: 5 }]),
  );
  cases.push(failCase('3.6', 'ping with RSV2+RSV3', [{ opcode: OP.PING, payload: 'ping', rsv: 3 }]));
  cases.push(
    failCase('3.7', 'close with all RSV bits', [
      { opcode: OP.CLOSE, payload: Buffer.from([3, 232]), rsv: 7 },
    ]),
  );

  // 4. Reserved opcodes.
  const reserved = (section: string, ops: number[]) => {
    cases.push(failCase(`${section}.1`, `frame with reserved opcode ${ops[0]}`, [{ opcode: ops[0]! }]));
    cases.push(
      failCase(`${section}.2`, `frame with reserved opcode ${ops[1]} and payload`, [
        { opcode: ops[1]!, payload: 'reserved' },
      ]),
    );
    cases.push(
      failCase(
        `${section}.3`,
        `text, reserved opcode ${ops[2]}, ping`,
        [T('small'), { opcode: ops[2]! }, PING()],
        { before: [text('small')] },
      ),
    );
    cases.push(
      failCase(
        `${section}.4`,
        `text, reserved opcode ${ops[3]} with payload, ping`,
        [T('small'), { opcode: ops[3]!, payload: 'reserved' }, PING()],
        { before: [text('small')] },
      ),
    );
    cases.push(
      failCase(
        `${section}.5`,
        `text, reserved opcode ${ops[4]}, ping; one byte at a time`,
        [T('small'), { opcode: ops[4]!, payload: 'reserved' }, PING()],
        { before: [text('small')], chop: 1 },
      ),
    );
  };
  reserved('4.1', [3, 4, 5, 6, 7]);
  reserved('4.2', [11, 12, 13, 14, 15]);

  // 5. Fragmentation.
  cases.push(
    failCase('5.1', 'ping in two fragments', [{ opcode: OP.PING, payload: 'frag1', fin: false }, C('frag2')]),
  );
  cases.push(
    failCase('5.2', 'pong in two fragments', [{ opcode: OP.PONG, payload: 'frag1', fin: false }, C('frag2')]),
  );
  cases.push(echoCase('5.3', 'text in two fragments', [T('frag1', false), C('frag2')], [text('frag1frag2')]));
  cases.push(
    echoCase('5.4', 'text in two fragments, sent with a pause', [T('frag1', false)], [text('frag1frag2')], {
      after: async (s) => {
        await s.sleep(100);
        await s.send(C('frag2'));
      },
    }),
  );
  cases.push(
    echoCase(
      '5.5',
      'text in two fragments, one byte at a time',
      [T('frag1', false), C('frag2')],
      [text('frag1frag2')],
      { chop: 1 },
    ),
  );
  cases.push(
    echoCase(
      '5.6',
      'text fragment, ping, text fragment',
      [T('frag1', false), PING('pongme!'), C('frag2')],
      [text('frag1frag2')],
      { pongs: [Buffer.from('pongme!')] },
    ),
  );
  cases.push(
    echoCase(
      '5.7',
      'text fragment, ping, text fragment, with pauses',
      [T('frag1', false)],
      [text('frag1frag2')],
      {
        pongs: [Buffer.from('pongme!')],
        after: async (s) => {
          await s.sleep(50);
          await s.send(PING('pongme!'));
          await s.sleep(50);
          await s.send(C('frag2'));
        },
      },
    ),
  );
  cases.push(
    echoCase(
      '5.8',
      'text fragment, ping, text fragment, one byte at a time',
      [T('frag1', false), PING('pongme!'), C('frag2')],
      [text('frag1frag2')],
      { pongs: [Buffer.from('pongme!')], chop: 1 },
    ),
  );
  const contFirst = [C('non-continuation payload'), T('Hello, world!')];
  cases.push(failCase('5.9', 'continuation (FIN) without a message, then text', contFirst));
  cases.push(
    failCase('5.10', 'continuation (FIN) without a message, then text; one byte at a time', contFirst, {
      chop: 1,
    }),
  );
  cases.push(
    failCase(
      '5.11',
      'continuation (FIN) without a message, then text; with a pause',
      [C('non-continuation payload')],
      { later: [T('Hello, world!')] },
    ),
  );
  const contNoFin = [C('non-continuation payload', false), T('Hello, world!')];
  cases.push(failCase('5.12', 'continuation (no FIN) without a message, then text', contNoFin));
  cases.push(
    failCase('5.13', 'continuation (no FIN) without a message; one byte at a time', contNoFin, { chop: 1 }),
  );
  cases.push(
    failCase(
      '5.14',
      'continuation (no FIN) without a message; with a pause',
      [C('non-continuation payload', false)],
      { later: [T('Hello, world!')] },
    ),
  );
  cases.push(
    failCase(
      '5.15',
      'text in two fragments, then a continuation that continues nothing',
      [T('fragment1', false), C('fragment2'), C('fragment3', false), T('fragment4')],
      { before: [text('fragment1fragment2')] },
    ),
  );
  const stray = [C('fragment1', false), T('fragment2', false), C('fragment3')];
  cases.push(failCase('5.16', 'continuation first, then a fragmented text, repeated', [...stray, ...stray]));
  const strayFin = [C('fragment1'), T('fragment2', false), C('fragment3')];
  cases.push(
    failCase('5.17', 'continuation (FIN) first, then a fragmented text, repeated', [
      ...strayFin,
      ...strayFin,
    ]),
  );
  cases.push(
    failCase('5.18', 'text fragment, then a new text message inside it', [
      T('fragment1', false),
      T('fragment2'),
    ]),
  );
  const fivePart = async (s: Parameters<NonNullable<import('./case-kinds.js').EchoOptions['after']>>[0]) => {
    await s.sleep(100);
    await s.send([C('fragment2', false), PING('pongme 1!')]);
    await s.sleep(100);
    await s.send([C('fragment3', false), C('fragment4', false), PING('pongme 2!')]);
    await s.sleep(100);
    await s.send(C('fragment5'));
  };
  cases.push(
    echoCase(
      '5.19',
      'text in five fragments with two pings in between, with pauses',
      [T('fragment1', false)],
      [text('fragment1fragment2fragment3fragment4fragment5')],
      { pongs: [Buffer.from('pongme 1!'), Buffer.from('pongme 2!')], after: fivePart },
    ),
  );
  cases.push(
    echoCase(
      '5.20',
      'as 5.19, frames written one at a time',
      [T('fragment1', false)],
      [text('fragment1fragment2fragment3fragment4fragment5')],
      { pongs: [Buffer.from('pongme 1!'), Buffer.from('pongme 2!')], after: fivePart, chop: 7 },
    ),
  );

  // 10. Auto-fragmentation: a message in frames of 1300 bytes.
  const big = star(65536);
  const frags: FrameSpec[] = [];
  for (let i = 0; i < big.length; i += 1300)
    frags.push({
      opcode: i === 0 ? OP.TEXT : OP.CONT,
      payload: big.slice(i, i + 1300),
      fin: i + 1300 >= big.length,
    });
  cases.push(echoCase('10.1.1', 'text message of 65536 bytes in 1300-byte frames', frags, [text(big)]));
  return cases;
}
