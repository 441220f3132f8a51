// RFC 6455 §4.2: the server's side of the opening handshake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildHandshakeRejection,
  buildServerHandshakeResponse,
  ErrorCode,
  HandshakeError,
  type HandshakeRequest,
  selectSubprotocol,
  validateClientHandshake,
  WebSocketError,
} from '../../src/protocol/index.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The client handshake of RFC 6455 §1.2, as Node would hand it over. */
function rfcRequest(
  over: Partial<HandshakeRequest> = {},
  headers: HandshakeRequest['headers'] = {},
): HandshakeRequest {
  return {
    method: 'GET',
    httpVersion: '1.1',
    url: '/chat',
    rawHeaderCount: 7,
    ...over,
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      origin: 'http://example.com',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-version': '13',
      ...headers,
    },
  };
}

function rejected(req: HandshakeRequest, status: number, message?: RegExp): HandshakeError {
  let caught: unknown;
  try {
    validateClientHandshake(req);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${String(caught)}`);
  assert.ok(caught instanceof WebSocketError);
  assert.equal(caught.code, ErrorCode.HANDSHAKE);
  assert.equal(caught.httpStatus, status);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('RFC 6455 §4.2.1 reading the client handshake', () => {
  it('accepts the §1.2 example and extracts key, protocols, origin and path', () => {
    assert.deepEqual(validateClientHandshake(rfcRequest()), {
      key: KEY,
      version: 13,
      protocols: ['chat', 'superchat'],
      extensions: [],
      origin: 'http://example.com',
      path: '/chat',
    });
  });

  it('accepts Upgrade and Connection in any case and among other tokens', () => {
    const hs = validateClientHandshake(
      rfcRequest({}, { upgrade: 'h2c, WebSocket', connection: 'keep-alive,\tUPGRADE' }),
    );
    assert.equal(hs.key, KEY);
  });

  it('accepts HTTP versions above 1.1', () => {
    assert.equal(validateClientHandshake(rfcRequest({ httpVersion: '1.2' })).path, '/chat');
  });

  it('keeps the query in the resource name', () => {
    assert.equal(
      validateClientHandshake(rfcRequest({ url: '/chat?room=1&x=%20' })).path,
      '/chat?room=1&x=%20',
    );
  });

  it('accepts an absolute-form request-target (RFC 7230 §5.3.2)', () => {
    assert.equal(
      validateClientHandshake(rfcRequest({ url: 'ws://server.example.com/chat?a=1' })).path,
      '/chat?a=1',
    );
    assert.equal(validateClientHandshake(rfcRequest({ url: 'http://server.example.com' })).path, '/');
    assert.equal(validateClientHandshake(rfcRequest({ url: 'HTTPS://h:8443?x' })).path, '/?x');
  });

  it('reports no protocols, no extensions and no origin when those headers are absent', () => {
    const req = rfcRequest();
    delete req.headers['sec-websocket-protocol'];
    delete req.headers.origin;
    const hs = validateClientHandshake(req);
    assert.deepEqual(hs.protocols, []);
    assert.deepEqual(hs.extensions, []);
    assert.equal(hs.origin, undefined);
  });

  it('parses offered extensions', () => {
    const hs = validateClientHandshake(
      rfcRequest({}, { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    assert.deepEqual(hs.extensions, [
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    ]);
  });

  it('trims and keeps the case of subprotocols, with empty elements skipped', () => {
    const hs = validateClientHandshake(rfcRequest({}, { 'sec-websocket-protocol': ' \tMQTT ,, v1.chat\t' }));
    assert.deepEqual(hs.protocols, ['MQTT', 'v1.chat']);
  });

  it('treats subprotocols differing only in case as distinct', () => {
    const hs = validateClientHandshake(rfcRequest({}, { 'sec-websocket-protocol': 'chat, Chat' }));
    assert.deepEqual(hs.protocols, ['chat', 'Chat']);
  });
});

describe('RFC 6455 §4.2.1 rejections, each with its HTTP status', () => {
  it('405 with Allow: GET for a method other than GET (item 1)', () => {
    for (const method of ['POST', 'HEAD', 'get', 'CONNECT']) {
      const e = rejected(rfcRequest({ method }), 405, /GET/);
      assert.deepEqual({ ...e.headers }, { Allow: 'GET' });
    }
  });

  it('400 for HTTP/1.0 (item 1: HTTP/1.1 or higher)', () => {
    rejected(rfcRequest({ httpVersion: '1.0' }), 400, /HTTP\/1\.1/);
  });

  it('505 for another HTTP major version', () => {
    rejected(rfcRequest({ httpVersion: '0.9' }), 505);
    rejected(rfcRequest({ httpVersion: '2.0' }), 505);
  });

  it('400 for a malformed HTTP version', () => {
    rejected(rfcRequest({ httpVersion: '1.1x' }), 400);
    rejected(rfcRequest({ httpVersion: '' }), 400);
  });

  it('400 for a missing Host (item 2)', () => {
    rejected(rfcRequest({}, { host: undefined }), 400, /Host/);
    rejected(rfcRequest({}, { host: '  ' }), 400, /Host/);
  });

  it('400 for repeated Host lines', () => {
    rejected(rfcRequest({}, { host: ['a', 'b'] }), 400, /Host/);
    // Node keeps only the first Host in `headers`: the repeat shows in `rawHeaders`.
    rejected(rfcRequest({ rawHeaders: ['Host', 'a', 'host', 'b'] }, { host: 'a' }), 400, /Host/);
  });

  it('400 for a missing Upgrade, or one without "websocket" (item 3)', () => {
    rejected(rfcRequest({}, { upgrade: undefined }), 400, /Upgrade/);
    rejected(rfcRequest({}, { upgrade: 'h2c' }), 400, /Upgrade/);
    rejected(rfcRequest({}, { upgrade: 'websockets' }), 400, /Upgrade/);
  });

  it('400 for a missing Connection, or one without "Upgrade" (item 4)', () => {
    rejected(rfcRequest({}, { connection: undefined }), 400, /Connection/);
    rejected(rfcRequest({}, { connection: 'keep-alive' }), 400, /Connection/);
    rejected(rfcRequest({}, { connection: 'upgrade-insecure' }), 400, /Connection/);
  });

  it('400 for a missing or invalid Sec-WebSocket-Key (item 5)', () => {
    rejected(rfcRequest({}, { 'sec-websocket-key': undefined }), 400, /Sec-WebSocket-Key/);
    rejected(rfcRequest({}, { 'sec-websocket-key': 'c2hvcnQ=' }), 400, /Sec-WebSocket-Key/);
    rejected(rfcRequest({}, { 'sec-websocket-key': `${KEY}, ${KEY}` }), 400, /Sec-WebSocket-Key/);
    rejected(rfcRequest({}, { 'sec-websocket-key': [KEY, KEY] }), 400, /Sec-WebSocket-Key/);
  });

  it('400 with Sec-WebSocket-Version: 13, 8 for any version but 13 and 8 (item 6, §4.4)', () => {
    for (const version of ['7', '12', '14', '13, 8', '', undefined]) {
      const e = rejected(rfcRequest({}, { 'sec-websocket-version': version }), 400, /Sec-WebSocket-Version/);
      assert.deepEqual({ ...e.headers }, { 'Sec-WebSocket-Version': '13, 8' });
    }
  });

  it('accepts version 8 (hybi-08), whose Origin header is Sec-WebSocket-Origin', () => {
    const handshake = validateClientHandshake(
      rfcRequest({}, { 'sec-websocket-version': '8', origin: undefined, 'sec-websocket-origin': 'http://a' }),
    );
    assert.equal(handshake.version, 8);
    assert.equal(handshake.origin, 'http://a');
  });

  it('400 without Sec-WebSocket-Key before looking at the version (a Hixie-76 request)', () => {
    const e = rejected(
      rfcRequest({}, { 'sec-websocket-key': undefined, 'sec-websocket-version': undefined }),
      400,
      /Sec-WebSocket-Key/,
    );
    assert.deepEqual({ ...e.headers }, {});
  });

  it('400 for a request-target that cannot name a WebSocket resource', () => {
    for (const url of [
      '',
      '*',
      'chat',
      'server.example.com:80',
      '/chat#frag',
      'ws://',
      'ftp://h/x',
      '/a b',
    ]) {
      rejected(rfcRequest({ url }), 400, /request-target/);
    }
  });

  it('400 for a malformed subprotocol list (item 8)', () => {
    for (const value of ['chat superchat', 'chat;v=1', '"chat"', 'chat, sü', '', ' , ']) {
      rejected(rfcRequest({}, { 'sec-websocket-protocol': value }), 400, /Sec-WebSocket-Protocol/);
    }
  });

  it('400 for a duplicated subprotocol (§4.1: elements MUST be unique)', () => {
    rejected(rfcRequest({}, { 'sec-websocket-protocol': 'chat, superchat, chat' }), 400, /Duplicate/);
    rejected(rfcRequest({}, { 'sec-websocket-protocol': ['chat', 'chat'] }), 400, /Duplicate/);
  });

  it('400 for more than 64 subprotocols', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`).join(',');
    assert.equal(
      validateClientHandshake(rfcRequest({}, { 'sec-websocket-protocol': list(64) })).protocols.length,
      64,
    );
    rejected(rfcRequest({}, { 'sec-websocket-protocol': list(65) }), 400, /Too many/);
  });

  it('400 for a malformed extension header (item 9, §9.1)', () => {
    rejected(
      rfcRequest({}, { 'sec-websocket-extensions': 'permessage-deflate; a="b c"' }),
      400,
      /Extensions/,
    );
    rejected(rfcRequest({}, { 'sec-websocket-extensions': '' }), 400, /Extensions/);
  });

  it('400 for repeated Origin lines', () => {
    rejected(rfcRequest({}, { origin: ['http://a', 'http://b'] }), 400, /Origin/);
    // Node joins repeated Origin lines into one value: the repeat shows in `rawHeaders`.
    rejected(
      rfcRequest(
        { rawHeaders: ['Origin', 'http://a', 'ORIGIN', 'http://b'] },
        { origin: 'http://a, http://b' },
      ),
      400,
      /Origin/,
    );
  });

  it('431 for more header lines than maxHeaderCount', () => {
    rejected(rfcRequest({ rawHeaderCount: 101 }), 431, /max 100/);
    assert.throws(
      () => validateClientHandshake(rfcRequest({ rawHeaderCount: 8 }), { maxHeaderCount: 7 }),
      (e: unknown) => e instanceof HandshakeError && e.httpStatus === 431,
    );
    assert.equal(validateClientHandshake(rfcRequest({ rawHeaderCount: 7 }), { maxHeaderCount: 7 }).key, KEY);
  });

  it('431 for headers larger than maxHandshakeBytes', () => {
    rejected(rfcRequest({}, { cookie: 'a'.repeat(16 * 1024) }), 431, /too large/);
    assert.throws(
      () => validateClientHandshake(rfcRequest({ url: `/${'a'.repeat(300)}` }), { maxHandshakeBytes: 256 }),
      (e: unknown) => e instanceof HandshakeError && e.httpStatus === 431,
    );
  });

  it('checks the header count before anything else', () => {
    rejected(rfcRequest({ method: 'POST', rawHeaderCount: 1000 }), 431);
  });

  it('refuses an unknown limit as an argument error', () => {
    assert.throws(() => validateClientHandshake(rfcRequest(), { maxHeaders: 5 } as never), {
      code: ErrorCode.INVALID_ARGUMENT,
    });
  });

  it('never echoes the client input in the error message', () => {
    const evil = '<script>alert(1)</script>';
    for (const headers of [
      { 'sec-websocket-key': evil },
      { 'sec-websocket-version': evil },
      { 'sec-websocket-protocol': evil },
      { 'sec-websocket-extensions': evil },
      { upgrade: evil },
    ]) {
      let message = '';
      try {
        validateClientHandshake(rfcRequest({}, headers));
      } catch (error) {
        message = (error as Error).message;
      }
      assert.notEqual(message, '');
      assert.ok(!message.includes('script'), message);
    }
  });
});

describe('RFC 6455 §4.2.2 subprotocol selection', () => {
  it("picks the first of the server's preferences that the client offered", () => {
    assert.equal(selectSubprotocol(['superchat', 'chat'], ['chat', 'superchat']), 'chat');
    assert.equal(selectSubprotocol(['a', 'b'], ['x', 'b', 'a']), 'b');
  });

  it('picks none when nothing matches, comparing case-sensitively', () => {
    assert.equal(selectSubprotocol(['Chat'], ['chat']), undefined);
    assert.equal(selectSubprotocol([], ['chat']), undefined);
    assert.equal(selectSubprotocol(['chat'], []), undefined);
  });
});

describe('RFC 6455 §4.2.2 item 5: the 101 response', () => {
  it('is byte-exact for the §1.3 example', () => {
    assert.equal(
      buildServerHandshakeResponse({ key: KEY }),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        '\r\n',
    );
  });

  it('carries the selected subprotocol, the accepted extensions and extra headers', () => {
    assert.equal(
      buildServerHandshakeResponse({
        key: KEY,
        protocol: 'chat',
        extensions: 'permessage-deflate; server_no_context_takeover',
        headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Id': '7' },
      }),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n' +
        'Set-Cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\n' +
        'X-Id: 7\r\n' +
        '\r\n',
    );
  });

  it('sends no extensions header for an empty extensions string', () => {
    assert.ok(!buildServerHandshakeResponse({ key: KEY, extensions: '' }).includes('Extensions'));
  });

  const invalid: Array<[string, Parameters<typeof buildServerHandshakeResponse>[0]]> = [
    ['an invalid key', { key: 'nope' }],
    ['a subprotocol that is not a token', { key: KEY, protocol: 'chat, superchat' }],
    ['CRLF in the subprotocol', { key: KEY, protocol: 'chat\r\nSet-Cookie: evil=1' }],
    ['CRLF in the extensions', { key: KEY, extensions: 'x\r\nSet-Cookie: evil=1' }],
    ['a malformed extensions value', { key: KEY, extensions: 'x; a="b c"' }],
    ['CRLF in an extra header value', { key: KEY, headers: { 'X-A': 'ok\r\nSet-Cookie: evil=1' } }],
    ['a bare LF in an extra header value', { key: KEY, headers: { 'X-A': 'ok\nSet-Cookie: evil=1' } }],
    ['CRLF in an extra header array value', { key: KEY, headers: { 'X-A': ['ok', 'a\r\n\r\nbody'] } }],
    ['CRLF in an extra header name', { key: KEY, headers: { 'X-A\r\nSet-Cookie': 'evil=1' } }],
    [
      'an extra header replacing Sec-WebSocket-Accept',
      { key: KEY, headers: { 'sec-websocket-accept': 'x' } },
    ],
    ['an extra header replacing Upgrade', { key: KEY, headers: { Upgrade: 'h2c' } }],
    ['an extra Content-Length', { key: KEY, headers: { 'Content-Length': '5' } }],
  ];
  for (const [label, opts] of invalid) {
    it(`refuses ${label} as an argument error`, () => {
      assert.throws(() => buildServerHandshakeResponse(opts), { code: ErrorCode.INVALID_ARGUMENT });
    });
  }
});

describe('handshake rejection responses', () => {
  it('is byte-exact for a 400 with the default body', () => {
    assert.equal(
      buildHandshakeRejection(400),
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 11\r\n' +
        '\r\n' +
        'Bad Request',
    );
  });

  it('carries the version header of a 400 from the HandshakeError', () => {
    let error: HandshakeError | undefined;
    try {
      validateClientHandshake(rfcRequest({}, { 'sec-websocket-version': '7' }));
    } catch (e) {
      error = e as HandshakeError;
    }
    assert.ok(error?.httpStatus);
    const text = buildHandshakeRejection(error.httpStatus, { headers: { ...error.headers } });
    assert.ok(text.startsWith('HTTP/1.1 400 Bad Request\r\n'), text);
    assert.ok(text.includes('\r\nSec-WebSocket-Version: 13, 8\r\n'), text);
  });

  it('counts Content-Length in UTF-8 bytes', () => {
    const text = buildHandshakeRejection(403, { reason: 'café' });
    assert.ok(text.includes('Content-Length: 5\r\n'), text);
    assert.ok(text.endsWith('\r\n\r\ncafé'));
  });

  it('turns CR, LF and other control characters in the reason into spaces', () => {
    const text = buildHandshakeRejection(401, { reason: 'no\r\nSet-Cookie: evil=1\0' });
    assert.equal(text.split('\r\n\r\n')[1], 'no  Set-Cookie: evil=1 ');
    assert.equal(text.split('\r\n').filter((l) => l.startsWith('Set-Cookie')).length, 0);
  });

  it('lets the caller set Content-Type and extra headers', () => {
    const text = buildHandshakeRejection(401, {
      reason: '{}',
      headers: { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' },
    });
    assert.equal(
      text,
      'HTTP/1.1 401 Unauthorized\r\n' +
        'Connection: close\r\n' +
        'Content-Length: 2\r\n' +
        'Content-Type: application/json\r\n' +
        'WWW-Authenticate: Bearer\r\n' +
        '\r\n' +
        '{}',
    );
  });

  it('refuses header injection and framing headers', () => {
    const attempts: Array<Record<string, string>> = [
      { 'X-A': 'a\r\nSet-Cookie: evil=1' },
      { 'X-A\nB': '1' },
      { Connection: 'keep-alive' },
      { 'content-length': '0' },
      { 'Transfer-Encoding': 'chunked' },
    ];
    for (const headers of attempts) {
      assert.throws(() => buildHandshakeRejection(400, { headers }), { code: ErrorCode.INVALID_ARGUMENT });
    }
  });

  it('refuses statuses that are not errors or redirects', () => {
    for (const status of [101, 199, 600, 400.5, Number.NaN]) {
      assert.throws(() => buildHandshakeRejection(status), { code: ErrorCode.INVALID_ARGUMENT });
    }
  });
});
