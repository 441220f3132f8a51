// Section 6: UTF-8 handling (RFC 6455 §8.1, RFC 3629), following the structure of Markus Kuhn's
// UTF-8 decoder stress test: valid text must be echoed; invalid text must fail with 1007, and
// fail fast inside a fragmented message.
import { add, type Case, echoCase, failCase, text } from './case-kinds.js';
import { type FrameSpec, OP } from './frames.js';

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const KOSME = h('cebae1bdb9cf83cebcceb5'); // "κόσμε"

function whole(b: Buffer): FrameSpec[] {
  return [{ opcode: OP.TEXT, payload: b }];
}
function perByte(b: Buffer): FrameSpec[] {
  if (b.length === 0) return whole(b);
  return [...b].map((x, i) => ({
    opcode: i === 0 ? OP.TEXT : OP.CONT,
    payload: Buffer.from([x]),
    fin: i === b.length - 1,
  }));
}

/** One sequence, checked as a single frame and (for id suffixes) nothing more. */
function seq(id: string, description: string, bytes: Buffer, valid: boolean): Case {
  return valid
    ? echoCase(id, `valid UTF-8: ${description}`, whole(bytes), [text(bytes)])
    : failCase(id, `invalid UTF-8: ${description}`, whole(bytes), { codes: [1007] });
}

export function utf8Cases(): Case[] {
  const cases: Case[] = [];
  // 6.1 Empty text in various fragmentations.
  cases.push(echoCase('6.1.1', 'empty text message', whole(Buffer.alloc(0)), [text('')]));
  cases.push(
    echoCase(
      '6.1.2',
      'empty text in three empty fragments',
      [{ opcode: OP.TEXT, fin: false }, { opcode: OP.CONT, fin: false }, { opcode: OP.CONT }],
      [text('')],
    ),
  );
  cases.push(
    echoCase(
      '6.1.3',
      'empty fragment, "middle", empty final fragment',
      [
        { opcode: OP.TEXT, fin: false },
        { opcode: OP.CONT, payload: 'middle', fin: false },
        { opcode: OP.CONT },
      ],
      [text('middle')],
    ),
  );
  // 6.2 Valid UTF-8 split at and inside code points.
  const hello = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
  cases.push(echoCase('6.2.1', 'valid UTF-8 in one frame', whole(hello), [text(hello)]));
  const chars = [...'Hello-µ@ßöäüàá-UTF-8!!'].map((c) => Buffer.from(c));
  cases.push(
    echoCase(
      '6.2.2',
      'valid UTF-8, one code point per fragment',
      chars.map((b, i) => ({ opcode: i === 0 ? OP.TEXT : OP.CONT, payload: b, fin: i === chars.length - 1 })),
      [text(hello)],
    ),
  );
  cases.push(
    echoCase('6.2.3', 'valid UTF-8, one byte per fragment (split inside code points)', perByte(hello), [
      text(hello),
    ]),
  );
  cases.push(echoCase('6.2.4', '"κόσμε", one byte per fragment', perByte(KOSME), [text(KOSME)]));
  // 6.3 Invalid UTF-8, whole and per byte.
  const bad = Buffer.concat([KOSME, h('eda080'), Buffer.from('edited')]);
  cases.push(failCase('6.3.1', 'invalid UTF-8 (a surrogate) in one frame', whole(bad), { codes: [1007] }));
  cases.push(failCase('6.3.2', 'invalid UTF-8, one byte per fragment', perByte(bad), { codes: [1007] }));
  // 6.4 Fail fast: the invalid byte is in an early fragment; the rest follows after a pause.
  // `sent`: fragments sent at once (the last of them holds the invalid bytes); `rest` follows
  // after a pause, and a strict peer has failed the connection before it.
  const ff = (id: string, d: string, sent: Buffer[], rest: Buffer[]) =>
    failCase(
      id,
      d,
      sent.map((b, i) => ({ opcode: i === 0 ? OP.TEXT : OP.CONT, payload: b, fin: false })),
      {
        codes: [1007],
        later: rest.map((b, i) => ({ opcode: OP.CONT, payload: b, fin: i === rest.length - 1 })),
      },
    );
  cases.push(
    ff(
      '6.4.1',
      'fail fast: code point above U+10FFFF in the first fragment',
      [Buffer.concat([KOSME, h('f4908080')])],
      [Buffer.from('edited')],
    ),
  );
  cases.push(
    ff(
      '6.4.2',
      'fail fast: invalid in the second of three fragments',
      [KOSME, h('f490')],
      [Buffer.from('edited')],
    ),
  );
  cases.push({
    ...ff('6.4.3', 'fail fast inside one frame: invalid bytes arrive before the frame ends', [], []),
    async run(s) {
      const payload = Buffer.concat([KOSME, h('f4908080'), Buffer.from('edited')]);
      const head = Buffer.from([0x81, 0x80 | payload.length, 1, 2, 3, 4]);
      const masked = Buffer.from(payload.map((x, i) => x ^ [1, 2, 3, 4][i & 3]!));
      const bytes =
        s.role === 'client'
          ? Buffer.concat([head, masked])
          : Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
      const cut = bytes.length - 6; // everything up to the invalid sequence, not the end of the frame
      s.socket.write(bytes.subarray(0, cut));
      await s.until(() => s.peerClosed(), 1000);
      const strict = s.peerClosed();
      if (!strict) s.socket.write(bytes.subarray(cut));
      await s.until(() => s.peerClosed(), 3000);
      const v = s.view();
      await s.answerClose();
      if (!v.close && !v.tcpClosed) return { outcome: 'FAILED', reason: 'peer did not fail the connection' };
      if (v.messages.length > 0) return { outcome: 'FAILED', reason: 'peer delivered invalid text' };
      if (v.close && v.close.code !== 1007 && v.close.code !== 1005)
        return { outcome: 'FAILED', reason: `closed with ${v.close.code}; expected 1007` };
      return strict
        ? { outcome: 'OK', reason: '' }
        : { outcome: 'NON-STRICT', reason: 'failed only once the frame was complete' };
    },
  });
  cases.push(
    ff(
      '6.4.4',
      'fail fast: a lone continuation byte in the second fragment',
      [KOSME, h('80')],
      [Buffer.from('edited')],
    ),
  );

  // 6.5 Valid sequences of each length.
  const valid5 = ['cebae1bdb9cf83cebcceb5', 'f09f9880', '7f', 'dfbf', 'efbfbf', 'f48fbfbf'];
  valid5.forEach((x, i) => {
    add(cases, seq(`6.5.${i + 1}`, x, h(x), true));
  });
  // 6.6 Every prefix of "κόσμε": complete code points are valid, cut ones are not.
  const boundaries = new Set([0, 2, 5, 7, 9, 11]);
  for (let n = 1; n <= KOSME.length; n++)
    cases.push(seq(`6.6.${n}`, `first ${n} bytes of "κόσμε"`, KOSME.subarray(0, n), boundaries.has(n)));
  // 6.7 First code point of each length; 6.8 five- and six-byte forms; 6.9 last of each length.
  ['00', 'c280', 'e0a080', 'f0908080'].forEach((x, i) => {
    add(cases, seq(`6.7.${i + 1}`, `first code point of ${i + 1} bytes (${x})`, h(x), true));
  });
  ['f888808080', 'fc8480808080'].forEach((x, i) => {
    add(cases, seq(`6.8.${i + 1}`, `${5 + i}-byte sequence ${x}`, h(x), false));
  });
  ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'].forEach((x, i) => {
    add(cases, seq(`6.9.${i + 1}`, `last code point of ${i + 1} bytes (${x})`, h(x), true));
  });
  ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'].forEach((x, i) => {
    add(cases, seq(`6.10.${i + 1}`, `beyond U+10FFFF: ${x}`, h(x), false));
  });
  // 6.11 Other boundary conditions.
  [
    ['ed9fbf', true],
    ['ee8080', true],
    ['efbfbd', true],
    ['f48fbfbf', true],
    ['f4908080', false],
  ].forEach(([x, ok], i) => {
    add(cases, seq(`6.11.${i + 1}`, `boundary ${x}`, h(x as string), ok as boolean));
  });
  // 6.12 Unexpected continuation bytes.
  const cont12 = ['80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf', '80bf80bf80bf80'];
  cont12.forEach((x, i) => {
    add(cases, seq(`6.12.${i + 1}`, `unexpected continuation ${x}`, h(x), false));
  });
  const allCont = Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i));
  cases.push(seq('6.12.9', 'all 64 continuation bytes', allCont, false));
  // 6.13 Lonely start bytes, each followed by a space.
  const lonely = (from: number, to: number) =>
    Buffer.from(Array.from({ length: to - from + 1 }, (_, i) => [from + i, 0x20]).flat());
  [
    [0xc0, 0xdf],
    [0xe0, 0xef],
    [0xf0, 0xf7],
    [0xf8, 0xfb],
    [0xfc, 0xfd],
  ].forEach(([a, b], i) => {
    add(
      cases,
      seq(
        `6.13.${i + 1}`,
        `lonely start bytes ${a!.toString(16)}-${b!.toString(16)}, each followed by a space`,
        lonely(a!, b!),
        false,
      ),
    );
  });
  // 6.14 Sequences missing their last byte; 6.15 all of them concatenated.
  const cut14 = [
    'c0',
    'e080',
    'f08080',
    'f8808080',
    'fc80808080',
    'df',
    'efbf',
    'f7bfbf',
    'fbbfbfbf',
    'fdbfbfbfbf',
  ];
  cut14.forEach((x, i) => {
    add(cases, seq(`6.14.${i + 1}`, `last byte missing: ${x}`, h(x), false));
  });
  cases.push(seq('6.15.1', 'all incomplete sequences concatenated', h(cut14.join('')), false));
  // 6.16 Impossible bytes.
  ['fe', 'ff', 'fefeffff'].forEach((x, i) => {
    add(cases, seq(`6.16.${i + 1}`, `impossible bytes ${x}`, h(x), false));
  });
  // 6.17 Overlong "/"; 6.18 maximum overlong forms; 6.19 overlong NUL.
  ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].forEach((x, i) => {
    add(cases, seq(`6.17.${i + 1}`, `overlong "/" ${x}`, h(x), false));
  });
  ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].forEach((x, i) => {
    add(cases, seq(`6.18.${i + 1}`, `maximum overlong ${x}`, h(x), false));
  });
  ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].forEach((x, i) => {
    add(cases, seq(`6.19.${i + 1}`, `overlong NUL ${x}`, h(x), false));
  });
  // 6.20 Single UTF-16 surrogates; 6.21 paired surrogates (both invalid in UTF-8).
  ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].forEach((x, i) => {
    add(cases, seq(`6.20.${i + 1}`, `surrogate ${x}`, h(x), false));
  });
  [
    'eda080edb080',
    'eda080edbfbf',
    'edadbfedb080',
    'edadbfedbfbf',
    'edae80edb080',
    'edae80edbfbf',
    'edafbfedb080',
    'edafbfedbfbf',
  ].forEach((x, i) => {
    add(cases, seq(`6.21.${i + 1}`, `surrogate pair ${x}`, h(x), false));
  });
  // 6.22 Noncharacters are valid UTF-8: U+FFFE, U+FFFF, U+nFFFE/U+nFFFF for planes 1-16, U+FDD0-U+FDEF.
  const nonchars: number[] = [0xfffe, 0xffff];
  for (let plane = 1; plane <= 16; plane++) nonchars.push(plane * 0x10000 + 0xfffe, plane * 0x10000 + 0xffff);
  nonchars.forEach((cp, i) => {
    add(
      cases,
      seq(
        `6.22.${i + 1}`,
        `noncharacter U+${cp.toString(16).toUpperCase()}`,
        Buffer.from(String.fromCodePoint(cp)),
        true,
      ),
    );
  });
  const fdd = Array.from({ length: 32 }, (_, i) => 0xfdd0 + i)
    .map((cp) => String.fromCodePoint(cp))
    .join('');
  cases.push(seq(`6.22.${nonchars.length + 1}`, 'noncharacters U+FDD0..U+FDEF', Buffer.from(fdd), true));
  // 6.23 Specials.
  ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbbbf', '61efbbbf62'].forEach((x, i) => {
    add(cases, seq(`6.23.${i + 1}`, `special ${x}`, h(x), true));
  });
  return cases;
}
