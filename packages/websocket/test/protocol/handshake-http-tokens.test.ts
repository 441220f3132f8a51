// RFC 7230 §3.2.6 tokens and §7 comma-separated lists, as used by the handshake headers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ErrorCode,
  formatHeaderLines,
  HandshakeError,
  headerHasToken,
  isFieldValue,
  isToken,
  parseTokenList,
} from '../../src/protocol/index.js';

describe('RFC 7230 §3.2.6 tokens', () => {
  it('accepts every tchar', () => {
    assert.equal(isToken("!#$%&'*+-.^_`|~09AZaz"), true);
  });

  for (const s of ['', 'a b', 'a,b', 'a;b', 'a"b', 'a/b', 'a=b', '(a)', 'é', 'a\tb', 'a\r\n']) {
    it(`rejects ${JSON.stringify(s)}`, () => {
      assert.equal(isToken(s), false);
    });
  }
});

describe('RFC 7230 §7 token lists', () => {
  it('returns the elements as sent, case preserved', () => {
    assert.deepEqual(parseTokenList('Chat, SuperChat'), ['Chat', 'SuperChat']);
  });

  it('trims optional whitespace (SP and HTAB) around every element', () => {
    assert.deepEqual(parseTokenList(' \ta \t,b,\t c  '), ['a', 'b', 'c']);
  });

  it('skips empty elements, as §7 requires of recipients', () => {
    assert.deepEqual(parseTokenList(',a,, ,b,'), ['a', 'b']);
  });

  it('joins repeated header lines given as an array', () => {
    assert.deepEqual(parseTokenList(['a, b', 'c']), ['a', 'b', 'c']);
  });

  it('treats an absent header as an empty list', () => {
    assert.deepEqual(parseTokenList(undefined), []);
  });

  for (const bad of ['a b', 'a;b', 'a, "b"', 'a, b/1', 'a\u00e9']) {
    it(`rejects the non-token element in ${JSON.stringify(bad)} with a 400 handshake error`, () => {
      assert.throws(
        () => parseTokenList(bad),
        (e: unknown) => e instanceof HandshakeError && e.code === ErrorCode.HANDSHAKE && e.httpStatus === 400,
      );
    });
  }

  it('stops at maxItems elements', () => {
    assert.deepEqual(parseTokenList('a,b,c', 3), ['a', 'b', 'c']);
    assert.throws(() => parseTokenList('a,b,c,d', 3), /Too many elements.*max 3/);
  });
});

describe('headerHasToken', () => {
  it('finds Upgrade in "keep-alive, Upgrade", case-insensitively', () => {
    assert.equal(headerHasToken('keep-alive, Upgrade', 'upgrade'), true);
    assert.equal(headerHasToken('KEEP-ALIVE,UPGRADE', 'Upgrade'), true);
  });

  it('ignores elements that are not tokens, such as "HTTP/2.0"', () => {
    assert.equal(headerHasToken('HTTP/2.0, websocket', 'websocket'), true);
  });

  it('matches whole elements only', () => {
    assert.equal(headerHasToken('upgraded, no-upgrade', 'upgrade'), false);
    assert.equal(headerHasToken('websocketx', 'websocket'), false);
  });

  it('is false for an absent or empty header', () => {
    assert.equal(headerHasToken(undefined, 'upgrade'), false);
    assert.equal(headerHasToken('', 'upgrade'), false);
  });

  it('searches every line of a repeated header', () => {
    assert.equal(headerHasToken(['keep-alive', 'Upgrade'], 'upgrade'), true);
  });
});

describe('RFC 7230 §3.2 header values and injection', () => {
  it('allows visible ASCII, SP and HTAB', () => {
    assert.equal(isFieldValue('a b\tc ~!'), true);
  });

  for (const v of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b', 'a\x7fb', 'caf\u00e9']) {
    it(`refuses ${JSON.stringify(v)}`, () => {
      assert.equal(isFieldValue(v), false);
    });
  }

  it('formats extra headers one line per value', () => {
    assert.equal(
      formatHeaderLines({ 'X-A': '1', 'Set-Cookie': ['a=1', 'b=2'] }, new Set()),
      'X-A: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n',
    );
  });

  it('refuses CR/LF in an extra header value as an argument error', () => {
    assert.throws(
      () => formatHeaderLines({ 'X-A': 'ok\r\nSet-Cookie: evil=1' }, new Set()),
      (e: unknown) => e instanceof Error && (e as { code?: string }).code === ErrorCode.INVALID_ARGUMENT,
    );
  });

  it('refuses a header name that is not a token', () => {
    assert.throws(() => formatHeaderLines({ 'X-A\r\nX-B': '1' }, new Set()), /not an RFC 7230 token/);
    assert.throws(() => formatHeaderLines({ 'X A': '1' }, new Set()), /not an RFC 7230 token/);
  });

  it('refuses a reserved name in any case', () => {
    assert.throws(() => formatHeaderLines({ UPGRADE: 'h2c' }, new Set(['upgrade'])), /cannot be overridden/);
  });
});
