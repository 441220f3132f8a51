// RFC 6455 §4.1: the client's side of the opening handshake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildClientHandshakeRequest,
  buildServerHandshakeResponse,
  type ClientRequestOptions,
  ErrorCode,
  HandshakeError,
  validateClientHandshake,
  validateServerHandshake,
} from '../../src/protocol/index.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

describe('RFC 6455 §4.1 the client request', () => {
  it('is byte-exact for the §1.2 example', () => {
    assert.equal(
      buildClientHandshakeRequest({
        host: 'server.example.com',
        path: '/chat',
        key: KEY,
        protocols: ['chat', 'superchat'],
        origin: 'http://example.com',
      }),
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Origin: http://example.com\r\n' +
        '\r\n',
    );
  });

  it('omits optional headers and appends extensions and extra headers', () => {
    assert.equal(
      buildClientHandshakeRequest({
        host: '[::1]:8080',
        path: '/?a=1',
        key: KEY,
        extensions: 'permessage-deflate; client_max_window_bits',
        headers: { Authorization: 'Bearer t', Origin: 'https://app' },
      }),
      'GET /?a=1 HTTP/1.1\r\n' +
        'Host: [::1]:8080\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
        'Authorization: Bearer t\r\n' +
        'Origin: https://app\r\n' +
        '\r\n',
    );
  });

  it('is accepted by our own server validation', () => {
    const text = buildClientHandshakeRequest({ host: 'h', path: '/p', key: KEY, protocols: ['a'] });
    const [head = ''] = text.split('\r\n\r\n');
    const [requestLine = '', ...lines] = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const [method = '', url = '', version = ''] = requestLine.split(' ');
    const hs = validateClientHandshake({
      method,
      url,
      httpVersion: version.slice(5),
      headers,
      rawHeaderCount: lines.length,
    });
    assert.deepEqual(hs.protocols, ['a']);
    assert.equal(hs.path, '/p');
  });

  const base: ClientRequestOptions = { host: 'h', path: '/', key: KEY };
  const invalid: Array<[string, Partial<ClientRequestOptions>]> = [
    ['an empty host', { host: '' }],
    ['a host with CRLF', { host: 'h\r\nX-Evil: 1' }],
    ['a host with a path', { host: 'h/x' }],
    ['a host with a space', { host: 'h x' }],
    ['a relative path', { path: 'chat' }],
    ['a path with a space', { path: '/a b' }],
    ['a path with CRLF', { path: '/\r\nX-Evil: 1' }],
    ['a path with a fragment (§3)', { path: '/chat#x' }],
    ['an invalid key', { key: 'short' }],
    ['a subprotocol that is not a token', { protocols: ['a b'] }],
    ['a subprotocol with a comma', { protocols: ['a,b'] }],
    ['an empty subprotocol', { protocols: [''] }],
    ['a duplicate subprotocol', { protocols: ['chat', 'chat'] }],
    ['CRLF in a subprotocol', { protocols: ['chat\r\nX-Evil: 1'] }],
    ['CRLF in the extensions', { extensions: 'x\r\nX-Evil: 1' }],
    ['malformed extensions', { extensions: 'x;' }],
    ['CRLF in the origin', { origin: 'http://a\r\nX-Evil: 1' }],
    ['CRLF in an extra header value', { headers: { 'X-A': 'a\r\nX-Evil: 1' } }],
    ['a bare CR in an extra header value', { headers: { 'X-A': 'a\rX-Evil: 1' } }],
    ['NUL in an extra header value', { headers: { 'X-A': 'a\0' } }],
    ['an extra header name with CRLF', { headers: { 'X-A\r\nX-Evil': '1' } }],
    ['an extra Host', { headers: { HOST: 'other' } }],
    ['an extra Upgrade', { headers: { upgrade: 'h2c' } }],
    ['an extra Connection', { headers: { Connection: 'close' } }],
    ['an extra Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': KEY } }],
    ['an extra Sec-WebSocket-Version', { headers: { 'Sec-WebSocket-Version': '8' } }],
    ['an extra Sec-WebSocket-Protocol', { headers: { 'Sec-WebSocket-Protocol': 'x' } }],
    ['an extra Sec-WebSocket-Extensions', { headers: { 'Sec-WebSocket-Extensions': 'x' } }],
    ['a request body (Content-Length)', { headers: { 'Content-Length': '10' } }],
    [
      'an Origin header as well as the origin option',
      { origin: 'http://a', headers: { origin: 'http://b' } },
    ],
  ];
  for (const [label, over] of invalid) {
    it(`refuses ${label} as an argument error`, () => {
      assert.throws(() => buildClientHandshakeRequest({ ...base, ...over }), {
        code: ErrorCode.INVALID_ARGUMENT,
      });
    });
  }
});

/** The §1.3 server response as Node's `IncomingMessage.headers` would hold it. */
function response(headers: Record<string, string | string[] | undefined> = {}, statusCode = 101) {
  return {
    statusCode,
    headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT, ...headers },
  };
}
const expectNone = { key: KEY, protocols: [], offeredExtensions: [] };
const expectChat = { key: KEY, protocols: ['chat', 'superchat'], offeredExtensions: ['permessage-deflate'] };

function fails(
  res: ReturnType<typeof response>,
  expect: Parameters<typeof validateServerHandshake>[1],
  message: RegExp,
): void {
  assert.throws(
    () => validateServerHandshake(res, expect),
    (e: unknown) =>
      e instanceof HandshakeError &&
      e.code === ErrorCode.HANDSHAKE &&
      e.httpStatus === undefined &&
      message.test(e.message),
  );
}

describe('RFC 6455 §4.1 validating the server response', () => {
  it('accepts the §1.3 response', () => {
    assert.deepEqual(validateServerHandshake(response(), expectNone), { protocol: '', extensions: [] });
  });

  it('accepts the response our server builds', () => {
    const text = buildServerHandshakeResponse({ key: KEY, protocol: 'superchat' });
    const headers: Record<string, string> = {};
    for (const line of text.split('\r\n').slice(1, -2)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    assert.equal(validateServerHandshake({ statusCode: 101, headers }, expectChat).protocol, 'superchat');
  });

  it('accepts Upgrade and Connection in any case', () => {
    assert.equal(
      validateServerHandshake(
        response({ upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' }),
        expectNone,
      ).protocol,
      '',
    );
  });

  it('returns the selected subprotocol and the accepted extensions', () => {
    const result = validateServerHandshake(
      response({
        'sec-websocket-protocol': 'superchat',
        'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits="10"',
      }),
      expectChat,
    );
    assert.deepEqual(result, {
      protocol: 'superchat',
      extensions: [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }],
    });
  });

  it('allows the server to select no subprotocol although some were offered', () => {
    assert.equal(validateServerHandshake(response(), expectChat).protocol, '');
  });

  it('fails on any status but 101 (item 1)', () => {
    for (const status of [200, 302, 400, 426]) {
      fails(response({}, status), expectNone, new RegExp(`Unexpected server response: ${status}`));
    }
  });

  it('fails on a missing or wrong Upgrade (item 2)', () => {
    fails(response({ upgrade: undefined }), expectNone, /Upgrade/);
    fails(response({ upgrade: 'h2c' }), expectNone, /Upgrade/);
    fails(response({ upgrade: 'websocket, h2c' }), expectNone, /Upgrade/);
  });

  it('fails on a missing or wrong Connection (item 3)', () => {
    fails(response({ connection: undefined }), expectNone, /Connection/);
    fails(response({ connection: 'keep-alive' }), expectNone, /Connection/);
  });

  it('fails on a missing, wrong or repeated Sec-WebSocket-Accept (item 4)', () => {
    fails(response({ 'sec-websocket-accept': undefined }), expectNone, /Sec-WebSocket-Accept/);
    fails(response({ 'sec-websocket-accept': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }), expectNone, /does not match/);
    fails(response({ 'sec-websocket-accept': ACCEPT.toLowerCase() }), expectNone, /does not match/);
    fails(response({ 'sec-websocket-accept': [ACCEPT, ACCEPT] }), expectNone, /Sec-WebSocket-Accept/);
    fails(response(), { ...expectNone, key: 'AAAAAAAAAAAAAAAAAAAAAA==' }, /does not match/);
  });

  it('fails on an extension that was not offered (item 5)', () => {
    fails(response({ 'sec-websocket-extensions': 'x-foo' }), expectChat, /"x-foo", which was not offered/);
    fails(response({ 'sec-websocket-extensions': 'permessage-deflate' }), expectNone, /not offered/);
  });

  it('fails on a malformed extension header', () => {
    fails(response({ 'sec-websocket-extensions': 'permessage-deflate; a="' }), expectChat, /Malformed/);
    fails(response({ 'sec-websocket-extensions': '' }), expectChat, /Malformed/);
  });

  it('fails on a subprotocol that was not offered (item 6)', () => {
    fails(response({ 'sec-websocket-protocol': 'other' }), expectChat, /"other", which was not offered/);
    fails(response({ 'sec-websocket-protocol': 'Chat' }), expectChat, /not offered/);
  });

  it('fails on a subprotocol when none was offered (item 6)', () => {
    fails(response({ 'sec-websocket-protocol': 'chat' }), expectNone, /none was offered/);
  });

  it('fails on an empty or multi-valued subprotocol header', () => {
    fails(response({ 'sec-websocket-protocol': '' }), expectChat, /Empty/);
    fails(response({ 'sec-websocket-protocol': 'chat, superchat' }), expectChat, /one subprotocol/);
    fails(response({ 'sec-websocket-protocol': ['chat', 'chat'] }), expectChat, /one subprotocol/);
  });
});
