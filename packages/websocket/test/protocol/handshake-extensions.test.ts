// RFC 6455 §9.1: the Sec-WebSocket-Extensions grammar.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ErrorCode,
  type ExtensionOffer,
  formatExtensionHeader,
  HandshakeError,
  parseExtensionHeader,
} from '../../src/protocol/index.js';

const isBadRequest = (pattern: RegExp) => (e: unknown) =>
  e instanceof HandshakeError &&
  e.code === ErrorCode.HANDSHAKE &&
  e.httpStatus === 400 &&
  pattern.test(e.message);

describe('RFC 6455 §9.1 extension header parsing', () => {
  it('parses the permessage-deflate offer Chromium sends', () => {
    assert.deepEqual(parseExtensionHeader('permessage-deflate; client_max_window_bits'), [
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    ]);
  });

  it('parses several offers, each with parameters, in order', () => {
    assert.deepEqual(
      parseExtensionHeader(
        'permessage-deflate; client_max_window_bits=10; server_no_context_takeover, permessage-deflate, x-foo',
      ),
      [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', '10'],
            ['server_no_context_takeover', true],
          ],
        },
        { name: 'permessage-deflate', params: [] },
        { name: 'x-foo', params: [] },
      ],
    );
  });

  it('allows optional whitespace around ";", "=" and ","', () => {
    assert.deepEqual(parseExtensionHeader(' \tfoo \t; \ta \t= \t1 \t;b\t,\tbar '), [
      {
        name: 'foo',
        params: [
          ['a', '1'],
          ['b', true],
        ],
      },
      { name: 'bar', params: [] },
    ]);
  });

  it('skips empty list elements (RFC 7230 §7)', () => {
    assert.deepEqual(parseExtensionHeader(', foo, , bar,'), [
      { name: 'foo', params: [] },
      { name: 'bar', params: [] },
    ]);
  });

  it('unquotes a quoted-string value', () => {
    assert.deepEqual(parseExtensionHeader('foo; a="10"; b=10'), [
      {
        name: 'foo',
        params: [
          ['a', '10'],
          ['b', '10'],
        ],
      },
    ]);
  });

  it('unescapes quoted-pairs inside a quoted value', () => {
    assert.deepEqual(parseExtensionHeader('foo; a="1\\0"'), [{ name: 'foo', params: [['a', '10']] }]);
  });

  it('keeps repeated parameters, so the extension can reject them', () => {
    assert.deepEqual(
      parseExtensionHeader('permessage-deflate; server_max_window_bits=10; server_max_window_bits=11'),
      [
        {
          name: 'permessage-deflate',
          params: [
            ['server_max_window_bits', '10'],
            ['server_max_window_bits', '11'],
          ],
        },
      ],
    );
  });

  it('keeps names and values as sent (no case folding)', () => {
    assert.deepEqual(parseExtensionHeader('X-Foo; Bar=Baz'), [{ name: 'X-Foo', params: [['Bar', 'Baz']] }]);
  });

  it('joins repeated header lines given as an array', () => {
    assert.deepEqual(
      parseExtensionHeader(['a; x=1', 'b']).map((o) => o.name),
      ['a', 'b'],
    );
  });

  it('returns [] for an absent header', () => {
    assert.deepEqual(parseExtensionHeader(undefined), []);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['an empty header', '', /no extension named/],
    ['a header of only commas and spaces', ' , ,, ', /no extension named/],
    ['a parameter without an extension', '; a=1', /expected an extension name/],
    ['a missing parameter name', 'foo; =1', /expected a parameter name/],
    ['a trailing semicolon', 'foo;', /expected a parameter name/],
    ['a missing value after "="', 'foo; a=', /expected a parameter value/],
    ['an empty quoted value', 'foo; a=""', /empty quoted/],
    ['a quoted value with a space', 'foo; a="1 0"', /not a token/],
    ['a quoted value with a comma', 'foo; a="1,0"', /not a token/],
    ['an escaped non-token character', 'foo; a="1\\ 0"', /not a token/],
    ['an unterminated quoted value', 'foo; a="10', /unterminated/],
    ['a dangling escape', 'foo; a="10\\', /unterminated/],
    ['a quote inside a token value', 'foo; a=1"0"', /unexpected character/],
    ['two names without a comma', 'foo bar', /unexpected character/],
    ['a slash in a name', 'foo/1', /unexpected character/],
    ['two "=" in a parameter', 'foo; a==1', /expected a parameter value/],
    ['a CRLF (header injection)', 'foo\r\nX-Evil: 1', /unexpected character/],
    ['a non-ASCII name', 'f\u00f6o', /unexpected character/],
  ];
  for (const [label, value, pattern] of malformed) {
    it(`rejects ${label} with 400`, () => {
      assert.throws(() => parseExtensionHeader(value), isBadRequest(pattern));
    });
  }

  it('rejects more than maxOffers elements (default 16)', () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `x${i}`).join(', ');
    assert.equal(parseExtensionHeader(names(16)).length, 16);
    assert.throws(() => parseExtensionHeader(names(17)), isBadRequest(/Too many .*elements \(max 16\)/));
    assert.throws(() => parseExtensionHeader(names(3), { maxOffers: 2 }), isBadRequest(/max 2/));
  });

  it('rejects more than maxParams parameters on one element (default 16)', () => {
    const params = (n: number) => `x${'; p'.repeat(n)}`;
    assert.equal(parseExtensionHeader(params(16))[0]?.params.length, 16);
    assert.throws(() => parseExtensionHeader(params(17)), isBadRequest(/Too many parameters .*max 16/));
    assert.throws(() => parseExtensionHeader(params(3), { maxParams: 2 }), isBadRequest(/max 2/));
  });

  it('refuses limits that are not positive integers', () => {
    assert.throws(() => parseExtensionHeader('x', { maxOffers: 0 }), { code: ErrorCode.INVALID_ARGUMENT });
    assert.throws(() => parseExtensionHeader('x', { maxParams: 1.5 }), { code: ErrorCode.INVALID_ARGUMENT });
  });
});

describe('RFC 6455 §9.1 extension header formatting', () => {
  it('writes names, flags and values', () => {
    const offers: ExtensionOffer[] = [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
      { name: 'x-foo', params: [] },
    ];
    const text = formatExtensionHeader(offers);
    assert.equal(text, 'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo');
    assert.deepEqual(parseExtensionHeader(text), offers);
  });

  it('writes nothing for no extensions', () => {
    assert.equal(formatExtensionHeader([]), '');
  });

  for (const [label, offer] of [
    ['a name that is not a token', { name: 'a b', params: [] }],
    ['a parameter name that is not a token', { name: 'a', params: [['b;c', true]] }],
    ['a value that is not a token', { name: 'a', params: [['b', '1 0']] }],
    ['a value with CRLF', { name: 'a', params: [['b', '1\r\nX-Evil: 1']] }],
    ['an empty value', { name: 'a', params: [['b', '']] }],
  ] as Array<[string, ExtensionOffer]>) {
    it(`refuses ${label}`, () => {
      assert.throws(() => formatExtensionHeader([offer]), { code: ErrorCode.INVALID_ARGUMENT });
    });
  }
});
