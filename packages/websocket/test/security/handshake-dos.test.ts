// Denial of service through the opening handshake: hostile header values must cost linear work
// with bounded output, and oversized heads are refused with 431. Work is measured by counting
// the characters the parsers read (String#charCodeAt calls plus the span every String#indexOf
// scans), never by wall-clock time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ErrorCode,
  HandshakeError,
  type HandshakeRequest,
  headerHasToken,
  parseExtensionHeader,
  parseTokenList,
  validateClientHandshake,
} from '../../src/protocol/index.js';

const KB100 = 100 * 1024;

/** Runs `fn`, counting characters read through charCodeAt and scanned by indexOf. */
function countReads(fn: () => void): { reads: number; error: unknown } {
  const proto = String.prototype;
  const charCodeAt = proto.charCodeAt;
  const indexOf = proto.indexOf;
  let reads = 0;
  proto.charCodeAt = function (this: string, index: number): number {
    reads++;
    return charCodeAt.call(this, index);
  };
  proto.indexOf = function (this: string, search: string, from?: number): number {
    const start = Math.max(0, from ?? 0);
    const found = indexOf.call(this, search, from);
    reads += (found === -1 ? this.length : found + search.length) - start;
    return found;
  };
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  } finally {
    proto.charCodeAt = charCodeAt;
    proto.indexOf = indexOf;
  }
  return { reads, error };
}

/** Builds a string of about `size` characters by repeating `unit` between `prefix` and `suffix`. */
function fill(prefix: string, unit: string, suffix: string, size: number): string {
  return prefix + unit.repeat(Math.ceil((size - prefix.length - suffix.length) / unit.length)) + suffix;
}

/**
 * Asserts that `parse` reads every character at most a constant number of times: doubling the
 * input at most doubles the reads (10% slack), where quadratic work would quadruple them. When
 * the parse succeeds it must have read its whole input (so a rewrite that hides its work from
 * the counter fails here instead of passing vacuously).
 */
function assertLinear(make: (size: number) => string, parse: (value: string) => void): void {
  const small = make(KB100 / 2);
  const large = make(KB100);
  const a = countReads(() => parse(small));
  const b = countReads(() => parse(large));
  if (a.error === undefined) {
    assert.ok(a.reads >= small.length / 2, `only ${a.reads} reads for ${small.length} characters`);
  }
  assert.ok(b.reads <= 2.2 * a.reads + 100, `doubling the input took ${b.reads} reads instead of ${a.reads}`);
  assert.ok(b.reads <= 8 * large.length, `${b.reads} reads for ${large.length} characters`);
}

const isHandshakeError = (status: number | undefined) => (e: unknown) =>
  e instanceof HandshakeError && e.code === ErrorCode.HANDSHAKE && e.httpStatus === status;

describe('Sec-WebSocket-Extensions of 100 KB', () => {
  // Patterns that stress separators, whitespace, quoting and escapes.
  const patterns: Array<[string, (size: number) => string]> = [
    ['many extensions', (n) => fill('', 'x, ', 'x', n)],
    ['many parameters', (n) => fill('x', '; p', '', n)],
    ['many valued parameters', (n) => fill('x', '; p=1', '', n)],
    ['separators only', (n) => fill('', ';,', '', n)],
    ['empty elements', (n) => fill('', ', \t', '', n)],
    ['whitespace before a bad character', (n) => fill('x', ' \t', '/', n)],
    ['whitespace around "="', (n) => fill('x; p', ' \t', '= 1', n)],
    ['one huge quoted value', (n) => fill('x; p="', 'a', '"', n)],
    ['escapes in a quoted value', (n) => fill('x; p="', '\\a', '"', n)],
    ['an unterminated quoted value', (n) => fill('x; p="', 'a\\', '', n)],
    ['quotes and semicolons', (n) => fill('x', '; p=";"', '', n)],
  ];

  for (const [label, make] of patterns) {
    it(`rejects or parses ${label} with the default limits, throwing only a 400`, () => {
      const { error } = countReads(() => parseExtensionHeader(make(KB100)));
      if (error !== undefined) assert.ok(isHandshakeError(400)(error), String(error));
    });

    it(`parses ${label} in linear time even with the count limits lifted`, () => {
      assertLinear(make, (v) => parseExtensionHeader(v, { maxOffers: 1e9, maxParams: 1e9 }));
    });
  }

  it('stops at the 17th extension, whatever follows', () => {
    const value = fill('', 'x, ', 'x', KB100);
    const { reads, error } = countReads(() => parseExtensionHeader(value));
    assert.ok(isHandshakeError(400)(error));
    assert.match((error as Error).message, /Too many/);
    assert.ok(reads < 200, `${reads} reads`);
  });

  it('stops at the 17th parameter, whatever follows', () => {
    const value = fill('x', '; p', '', KB100);
    const { reads, error } = countReads(() => parseExtensionHeader(value));
    assert.match((error as Error).message, /Too many parameters/);
    assert.ok(reads < 200, `${reads} reads`);
  });

  it('never throws anything but a 400 on 100 KB of random separator soup', () => {
    let seed = 0x2545f491;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const alphabet = ' \t,;="\\ab\r\n\u00ff';
    for (let round = 0; round < 20; round++) {
      let value = 'x';
      for (let i = 0; i < 5000; i++) value += alphabet[Math.floor(random() * alphabet.length)];
      for (const limits of [{}, { maxOffers: 1e9, maxParams: 1e9 }]) {
        try {
          const offers = parseExtensionHeader(value, limits);
          assert.ok(offers.length > 0);
        } catch (error) {
          assert.ok(isHandshakeError(400)(error), String(error));
        }
      }
    }
  });
});

describe('Sec-WebSocket-Protocol of 100 KB', () => {
  const patterns: Array<[string, (size: number) => string]> = [
    ['many protocols', (n) => fill('', 'a,', 'a', n)],
    ['empty elements', (n) => fill('', ',', '', n)],
    ['whitespace only', (n) => fill('', ' \t', '', n)],
    ['whitespace between commas', (n) => fill('', ' , \t', '', n)],
    ['one long token ending in a bad character', (n) => fill('', 'a', ' b', n)],
    ['padding around a token', (n) => fill(' '.repeat(n / 4), ' ', 'chat', n)],
    ['alternating token characters and spaces', (n) => fill('', 'a ', '', n)],
  ];

  // A client handshake whose subprotocol header is hostile; maxHandshakeBytes is raised so the
  // header reaches the parser instead of being refused by size first.
  const request = (protocols: string): HandshakeRequest => ({
    method: 'GET',
    httpVersion: '1.1',
    url: '/',
    rawHeaderCount: 6,
    headers: {
      host: 'h',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': protocols,
    },
  });
  const roomy = { maxHandshakeBytes: 1024 * 1024 };

  for (const [label, make] of patterns) {
    it(`handles ${label} in linear time and bounded output`, () => {
      const { error } = countReads(() => validateClientHandshake(request(make(KB100)), roomy));
      if (error !== undefined) assert.ok(isHandshakeError(400)(error), String(error));
      assertLinear(make, (v) => validateClientHandshake(request(v), roomy));
      assertLinear(make, (v) => parseTokenList(v, 1e9));
    });
  }

  it('refuses the 65th protocol after a bounded amount of work', () => {
    const value = fill('', 'a,', 'a', KB100);
    const { reads, error } = countReads(() => validateClientHandshake(request(value), roomy));
    assert.ok(isHandshakeError(400)(error));
    assert.match((error as Error).message, /Too many/);
    assert.ok(reads < 1000, `${reads} reads`);
  });

  it('is refused with 431 before parsing under the default maxHandshakeBytes', () => {
    const { reads, error } = countReads(() => validateClientHandshake(request(fill('', 'a,', 'a', KB100))));
    assert.ok(isHandshakeError(431)(error), String(error));
    assert.ok(reads < 100, `${reads} reads`);
  });
});

describe('Connection and Upgrade of 100 KB', () => {
  for (const [label, make] of [
    ['many elements', (n: number) => fill('', 'keep-alive, ', 'upgrade', n)],
    ['one long element', (n: number) => fill('', 'u', '', n)],
    ['whitespace', (n: number) => fill('', ' \t', 'upgrade', n)],
  ] as Array<[string, (n: number) => string]>) {
    it(`scans ${label} in linear time`, () => {
      assertLinear(make, (v) => headerHasToken(v, 'upgrade'));
    });
  }
});

describe('too many header lines', () => {
  const request = (rawHeaderCount: number): HandshakeRequest => ({
    method: 'GET',
    httpVersion: '1.1',
    url: '/',
    rawHeaderCount,
    headers: {
      host: 'h',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
    },
  });

  it('accepts exactly maxHeaderCount lines (default 100)', () => {
    assert.equal(validateClientHandshake(request(100)).path, '/');
  });

  it('refuses one more with 431', () => {
    assert.throws(() => validateClientHandshake(request(101)), isHandshakeError(431));
  });

  it('refuses 10,000 lines with 431 under a custom limit too', () => {
    assert.throws(
      () => validateClientHandshake(request(10_000), { maxHeaderCount: 5000 }),
      isHandshakeError(431),
    );
  });

  it('refuses headers whose total size exceeds maxHandshakeBytes with 431, however they are split', () => {
    const headers: HandshakeRequest['headers'] = { ...request(6).headers };
    for (let i = 0; i < 90; i++) headers[`x-pad-${i}`] = 'v'.repeat(200);
    assert.throws(
      () => validateClientHandshake({ ...request(96), headers }),
      (e: unknown) => isHandshakeError(431)(e) && /too large/.test((e as Error).message),
    );
  });
});
