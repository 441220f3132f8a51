// The standalone server's request-head parser (RFC 9112 §2-5): byte-exact fields, the same
// result under any split of the byte stream, and the right status for hostile heads.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { joinHeaders } from '../../src/node/upgrade-listener.js';
import { HandshakeError } from '../../src/protocol/handshake-error.js';
import { type ParsedRequestHead, RequestHeadParser } from '../../src/protocol/request-head-parser.js';

const SEED = 0x20_0b5;
const upgrade =
  'GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n' +
  'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n';

function parse(text: string | Buffer, limits = {}): ParsedRequestHead | undefined {
  return new RequestHeadParser(limits).push(Buffer.from(text as string, 'latin1'));
}

/** The status a head is refused with, or 'ok' / 'incomplete'. */
function outcome(chunks: Buffer[], limits = {}): string {
  const parser = new RequestHeadParser(limits);
  try {
    for (const [i, c] of chunks.entries()) {
      const r = parser.push(c);
      // The bytes after the head: the rest of this chunk and the chunks after it.
      const rest = r && Buffer.concat([r.rest, ...chunks.slice(i + 1)]);
      if (r) return `ok ${JSON.stringify(r.head)} ${rest!.toString('hex')}`;
    }
    return 'incomplete';
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    return String(error.httpStatus);
  }
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
    if (cut < last) continue;
    out.push(bytes.subarray(last, cut));
    last = cut;
  }
  return out;
}

describe('RequestHeadParser', { timeout: 30_000 }, () => {
  it('reads the RFC 6455 §1.3 request byte for byte, and returns the bytes after it', () => {
    const r = parse(`${upgrade}\x81\x85`);
    assert.ok(r);
    assert.deepEqual(r.head, {
      method: 'GET',
      url: '/chat?room=1',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
      rawHeaders: [
        'Host',
        'server.example.com',
        'Upgrade',
        'websocket',
        'Connection',
        'Upgrade',
        'Sec-WebSocket-Key',
        'dGhlIHNhbXBsZSBub25jZQ==',
        'Origin',
        'http://example.com',
        'Sec-WebSocket-Version',
        '13',
      ],
    });
    assert.equal(r.rest.toString('hex'), '8185');
  });

  it('trims optional whitespace around values and keeps obs-text bytes as latin1', () => {
    const r = parse('GET / HTTP/1.1\r\nX-A: \t spaced \t\r\nX-B:\r\nX-C: caf\xe9\r\n\r\n');
    assert.deepEqual(r?.head.rawHeaders, ['X-A', 'spaced', 'X-B', '', 'X-C', 'caf\xe9']);
  });

  it('skips empty lines before the request line (RFC 9112 §2.2)', () => {
    assert.equal(parse(`\r\n\r\n${upgrade}`)?.head.url, '/chat?room=1');
  });

  it('waits for the empty line that ends the head', () => {
    const parser = new RequestHeadParser();
    assert.equal(parser.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n')), undefined);
    assert.equal(parser.push(Buffer.from('\r')), undefined);
    assert.equal(parser.push(Buffer.from('\n'))?.head.rawHeaders[1], 'x');
  });

  it('any split of the byte stream gives the same result, accepted or refused', () => {
    const heads = fc.oneof(
      fc.constant(upgrade),
      fc.constant('GET / HTTP/1.1\nHost: x\n\n'),
      fc.constant('GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n'),
      fc
        .array(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.string({ maxLength: 20 })), {
          maxLength: 12,
        })
        .map((hs) => `GET /x HTTP/1.1\r\n${hs.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`),
      fc.string({ maxLength: 200 }).map((s) => `GET / HTTP/1.1\r\n${s}\r\n\r\n`),
    );
    fc.assert(
      fc.property(
        heads,
        fc.uint8Array({ maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (head, tail, rawCuts) => {
          const bytes = Buffer.concat([Buffer.from(head, 'latin1'), tail]);
          const whole = outcome([bytes], { maxHandshakeBytes: 600, maxHeaderCount: 8 });
          const cuts = rawCuts.map((n) => n % (bytes.length + 1));
          assert.equal(outcome(split(bytes, cuts), { maxHandshakeBytes: 600, maxHeaderCount: 8 }), whole);
        },
      ),
      { numRuns: 500, seed: SEED },
    );
  });

  describe('hostile heads get the right status', () => {
    const cases: Array<[string, string, number]> = [
      ['a bare LF', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 400],
      ['a bare CR', 'GET / HTTP/1.1\rHost: x\r\n\r\n', 400],
      ['obs-fold (a line starting with a space)', 'GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n', 400],
      ['obs-fold (a line starting with a tab)', 'GET / HTTP/1.1\r\nX-A: 1\r\n\t2\r\n\r\n', 400],
      ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
      ['a field name that is not a token', 'GET / HTTP/1.1\r\nX(A): x\r\n\r\n', 400],
      ['a line without a colon', 'GET / HTTP/1.1\r\nHost x\r\n\r\n', 400],
      ['an empty field name', 'GET / HTTP/1.1\r\n: x\r\n\r\n', 400],
      ['a NUL in a value', 'GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n', 400],
      ['a DEL in a value', 'GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n', 400],
      ['a method that is not a token', 'G(T / HTTP/1.1\r\n\r\n', 400],
      ['two spaces after the method', 'GET  / HTTP/1.1\r\n\r\n', 400],
      ['a target with a control character', 'GET /a\x01b HTTP/1.1\r\n\r\n', 400],
      ['a target with a non-ASCII byte', 'GET /caf\xe9 HTTP/1.1\r\n\r\n', 400],
      ['no HTTP version', 'GET /\r\n\r\n', 400],
      ['a malformed version', 'GET / HTTP/1.10\r\n\r\n', 400],
      ['a lowercase protocol name', 'GET / http/1.1\r\n\r\n', 400],
      ['a request line with trailing space', 'GET / HTTP/1.1 \r\n\r\n', 400],
    ];
    for (const [name, head, status] of cases) {
      it(`${status} for ${name}`, () => {
        assert.equal(outcome([Buffer.from(head, 'latin1')]), String(status));
      });
    }

    it('431 for more header lines than maxHeaderCount, before the head ends', () => {
      const lines = Array.from({ length: 101 }, (_, i) => `X-${i}: a\r\n`).join('');
      assert.equal(outcome([Buffer.from(`GET / HTTP/1.1\r\n${lines}`)]), '431');
      const exactly = Array.from({ length: 100 }, (_, i) => `X-${i}: a\r\n`).join('');
      assert.match(outcome([Buffer.from(`GET / HTTP/1.1\r\n${exactly}\r\n`)]), /^ok /);
    });

    it('431 once the head passes maxHandshakeBytes, without waiting for its end', () => {
      const parser = new RequestHeadParser({ maxHandshakeBytes: 1024 });
      assert.equal(parser.push(Buffer.from(`GET / HTTP/1.1\r\nX-A: ${'a'.repeat(900)}`)), undefined);
      assert.throws(
        () => parser.push(Buffer.from('a'.repeat(200))),
        (e: unknown) => e instanceof HandshakeError && e.httpStatus === 431,
      );
    });

    it('a head of exactly maxHandshakeBytes is accepted; one byte more is 431', () => {
      const head = (n: number) => {
        const base = 'GET / HTTP/1.1\r\nX-A: \r\n\r\n';
        return `GET / HTTP/1.1\r\nX-A: ${'a'.repeat(n - base.length)}\r\n\r\n`;
      };
      assert.equal(head(512).length, 512);
      assert.match(outcome([Buffer.from(head(512))], { maxHandshakeBytes: 512 }), /^ok /);
      assert.equal(outcome([Buffer.from(head(513))], { maxHandshakeBytes: 512 }), '431');
    });

    it('takes no input after a refusal', () => {
      const parser = new RequestHeadParser();
      assert.throws(() => parser.push(Buffer.from('GET / HTTP/1.1\n')));
      assert.throws(
        () => parser.push(Buffer.from('\r\n')),
        (e: unknown) => e instanceof HandshakeError,
      );
    });
  });
});

describe('headers of a parsed request', { timeout: 10_000 }, () => {
  it("joinHeaders (the fallback) joins repeated headers as Node's IncomingMessage does", () => {
    const names = [
      'Host',
      'host',
      'Cookie',
      'Set-Cookie',
      'X-A',
      'x-a',
      'User-Agent',
      'Origin',
      'Authorization',
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...names), fc.stringMatching(/^[a-z0-9]{0,4}$/)), {
          maxLength: 10,
        }),
        (pairs) => {
          const raw = pairs.flat();
          const req = new IncomingMessage(new Socket());
          (req as unknown as { _addHeaderLines(r: string[], n: number): void })._addHeaderLines(
            raw,
            raw.length,
          );
          assert.deepEqual({ ...joinHeaders(raw) }, { ...req.headers });
        },
      ),
      { numRuns: 200, seed: SEED },
    );
  });
});
