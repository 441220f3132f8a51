// RFC 7692 §5 and §7: permessage-deflate negotiation, byte-exact, and checked against ws.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { computeAcceptKey } from '../../src/protocol/accept-key.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { parseExtensionHeader } from '../../src/protocol/extension-header.js';
import { HandshakeError } from '../../src/protocol/handshake-error.js';
import {
  acceptDeflateOffer,
  buildDeflateOffer,
  type DeflateOptions,
  type DeflateParams,
  findDeflateResponse,
  resolveDeflateOptions,
  validateDeflateResponse,
} from '../../src/protocol/permessage-deflate.js';

const accept = (header: string, options: DeflateOptions | true = true) =>
  acceptDeflateOffer(parseExtensionHeader(header), options);
const responseFor = (header: string, options: DeflateOptions | true = true) =>
  accept(header, options)?.responseHeader;
const validate = (header: string, options: DeflateOptions | true = true) => {
  const [element] = parseExtensionHeader(header);
  assert.ok(element);
  return validateDeflateResponse(element, options);
};
const params = (p: Partial<DeflateParams> = {}): DeflateParams => ({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...p,
});
const isHandshakeFailure = (pattern: RegExp) => (e: unknown) =>
  e instanceof HandshakeError && e.code === ErrorCode.HANDSHAKE && pattern.test(e.message);
const isArgumentError = (pattern: RegExp) => (e: unknown) =>
  e instanceof Error &&
  (e as { code?: string }).code === ErrorCode.INVALID_ARGUMENT &&
  pattern.test(e.message);

describe('RFC 7692 §7.1.3 examples', () => {
  it('accepts the simplest offer with the same simplest response', () => {
    const result = accept('permessage-deflate');
    assert.equal(result?.responseHeader, 'permessage-deflate');
    assert.deepEqual(result?.params, params());
  });

  it('answers "client_max_window_bits; server_max_window_bits=10" with server_max_window_bits=10', () => {
    const result = accept('permessage-deflate; client_max_window_bits; server_max_window_bits=10');
    assert.equal(result?.responseHeader, 'permessage-deflate; server_max_window_bits=10');
    assert.deepEqual(result?.params, params({ serverMaxWindowBits: 10 }));
  });

  it('accepts the first of two offers with a fallback, as the client prefers (§5)', () => {
    const header =
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits';
    assert.equal(responseFor(header), 'permessage-deflate; server_max_window_bits=10');
  });

  it('lets the client read both of the RFC responses', () => {
    const options = { serverMaxWindowBits: 10 };
    assert.equal(
      buildDeflateOffer(options),
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits',
    );
    assert.deepEqual(
      validate('permessage-deflate; server_max_window_bits=10', options),
      params({ serverMaxWindowBits: 10 }),
    );
    assert.deepEqual(validate('permessage-deflate'), params());
  });
});

describe('RFC 7692 §7: a server declines an invalid offer and tries the next', () => {
  const invalid = [
    ['an unknown parameter', 'permessage-deflate; x_foo'],
    ['an unknown parameter with a value', 'permessage-deflate; client_max_window_bits; mode=fast'],
    [
      'server_no_context_takeover twice',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    ],
    [
      'client_no_context_takeover twice',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
    ],
    [
      'client_max_window_bits twice, with and without a value',
      'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
    ],
    [
      'server_max_window_bits twice with the same value',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
    ],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['server_max_window_bits=7 (below 8)', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=16 (above 15)', 'permessage-deflate; server_max_window_bits=16'],
    ['server_max_window_bits with a leading zero', 'permessage-deflate; server_max_window_bits=09'],
    ['server_max_window_bits=010', 'permessage-deflate; server_max_window_bits=010'],
    ['client_max_window_bits=0', 'permessage-deflate; client_max_window_bits=0'],
    ['client_max_window_bits=1e1', 'permessage-deflate; client_max_window_bits=1e1'],
    ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1'],
    ['a value on client_no_context_takeover', 'permessage-deflate; client_no_context_takeover=true'],
  ] as const;
  for (const [what, header] of invalid) {
    it(`declines an offer with ${what}`, () => {
      assert.equal(accept(header), undefined);
      // The next, valid offer is accepted instead.
      assert.equal(
        responseFor(`${header}, permessage-deflate; server_no_context_takeover`),
        'permessage-deflate; server_no_context_takeover',
      );
    });
  }

  it('accepts a quoted window size, which RFC 7692 §7.1.2.1 allows after unescaping', () => {
    assert.equal(
      responseFor('permessage-deflate; server_max_window_bits="12"'),
      'permessage-deflate; server_max_window_bits=12',
    );
  });

  it('skips other extensions and accepts only one permessage-deflate offer (§5)', () => {
    const result = accept(
      'x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover, permessage-deflate',
    );
    assert.equal(result?.responseHeader, 'permessage-deflate; server_no_context_takeover');
  });

  it('declines when nothing is offered', () => {
    assert.equal(accept('x-foo; a=1'), undefined);
    assert.equal(acceptDeflateOffer([]), undefined);
  });
});

describe('RFC 7692 §7.1: what the server answers', () => {
  it('honours server_no_context_takeover when asked (§7.1.1.1)', () => {
    const result = accept('permessage-deflate; server_no_context_takeover');
    assert.equal(result?.responseHeader, 'permessage-deflate; server_no_context_takeover');
    assert.deepEqual(result?.params, params({ serverNoContextTakeover: true }));
  });

  it('sends server_no_context_takeover unasked when configured (§7.1.1.1 MAY)', () => {
    assert.equal(
      responseFor('permessage-deflate', { serverNoContextTakeover: true }),
      'permessage-deflate; server_no_context_takeover',
    );
  });

  it('echoes client_no_context_takeover, or requires it when configured (§7.1.1.2)', () => {
    assert.equal(
      responseFor('permessage-deflate; client_no_context_takeover'),
      'permessage-deflate; client_no_context_takeover',
    );
    const result = accept('permessage-deflate', { clientNoContextTakeover: true });
    assert.equal(result?.responseHeader, 'permessage-deflate; client_no_context_takeover');
    assert.deepEqual(result?.params, params({ clientNoContextTakeover: true }));
  });

  it('answers server_max_window_bits with the smaller of the offer and its own limit (§7.1.2.1)', () => {
    assert.equal(
      responseFor('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }),
      'permessage-deflate; server_max_window_bits=10',
    );
    assert.equal(
      responseFor('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 }),
      'permessage-deflate; server_max_window_bits=9',
    );
  });

  it('announces its own server window limit unasked (§7.1.2.1 MAY)', () => {
    const result = accept('permessage-deflate', { serverMaxWindowBits: 11 });
    assert.equal(result?.responseHeader, 'permessage-deflate; server_max_window_bits=11');
    assert.equal(result?.params.serverMaxWindowBits, 11);
  });

  it('accepts a window of 8 bits as negotiated', () => {
    const result = accept('permessage-deflate; server_max_window_bits=8; client_max_window_bits=8');
    assert.equal(
      result?.responseHeader,
      'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
    );
    assert.deepEqual(result?.params, params({ serverMaxWindowBits: 8, clientMaxWindowBits: 8 }));
  });

  it('never sends client_max_window_bits when the offer lacks it (§7.1.2.2 MUST NOT)', () => {
    assert.equal(responseFor('permessage-deflate', { clientMaxWindowBits: 15 }), 'permessage-deflate');
    assert.equal(responseFor('permessage-deflate', { clientMaxWindowBits: true }), 'permessage-deflate');
  });

  it('declines an offer without client_max_window_bits when configured to limit the client window', () => {
    assert.equal(accept('permessage-deflate', { clientMaxWindowBits: 10 }), undefined);
    assert.equal(
      responseFor('permessage-deflate, permessage-deflate; client_max_window_bits', {
        clientMaxWindowBits: 10,
      }),
      'permessage-deflate; client_max_window_bits=10',
    );
  });

  it('limits the client window to the smaller of the offer and its own limit (§7.1.2.2)', () => {
    assert.equal(
      responseFor('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }),
      'permessage-deflate; client_max_window_bits=10',
    );
    const result = accept('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 });
    assert.equal(result?.responseHeader, 'permessage-deflate; client_max_window_bits=9');
    assert.equal(result?.params.clientMaxWindowBits, 9);
  });

  it('confirms the window the client announced, so it inflates with no more memory than needed', () => {
    const result = accept('permessage-deflate; client_max_window_bits=11');
    assert.equal(result?.responseHeader, 'permessage-deflate; client_max_window_bits=11');
    assert.equal(result?.params.clientMaxWindowBits, 11);
  });

  it('leaves client_max_window_bits out with clientMaxWindowBits: false', () => {
    const result = accept('permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: false });
    assert.equal(result?.responseHeader, 'permessage-deflate');
    assert.equal(result?.params.clientMaxWindowBits, 15);
  });

  it('writes every parameter in a fixed order', () => {
    assert.equal(
      responseFor(
        'permessage-deflate; client_max_window_bits=12; server_max_window_bits=13; client_no_context_takeover; server_no_context_takeover',
      ),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=13; client_max_window_bits=12',
    );
  });
});

describe('RFC 7692 §7: the client offer and its check of the response', () => {
  it('offers what Chromium and ws offer by default', () => {
    assert.equal(buildDeflateOffer(true), 'permessage-deflate; client_max_window_bits');
    assert.equal(buildDeflateOffer({}), 'permessage-deflate; client_max_window_bits');
  });

  it('offers every configured parameter', () => {
    assert.equal(
      buildDeflateOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
    assert.equal(buildDeflateOffer({ clientMaxWindowBits: false }), 'permessage-deflate');
  });

  it('accepts context takeover parameters it did not ask for (§7.1.1 MAY)', () => {
    assert.deepEqual(
      validate('permessage-deflate; server_no_context_takeover; client_no_context_takeover'),
      params({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
    );
  });

  it('keeps to client_no_context_takeover it announced even when the response omits it', () => {
    assert.deepEqual(
      validate('permessage-deflate', { clientNoContextTakeover: true }),
      params({ clientNoContextTakeover: true }),
    );
  });

  it('accepts server_max_window_bits it did not ask for (§7.1.2.1 MAY)', () => {
    assert.deepEqual(
      validate('permessage-deflate; server_max_window_bits=9'),
      params({ serverMaxWindowBits: 9 }),
    );
  });

  it('uses the client window the server sets, or the one it announced', () => {
    assert.equal(validate('permessage-deflate; client_max_window_bits=9').clientMaxWindowBits, 9);
    assert.equal(validate('permessage-deflate', { clientMaxWindowBits: 11 }).clientMaxWindowBits, 11);
    assert.equal(
      validate('permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: 11 })
        .clientMaxWindowBits,
      10,
    );
  });

  const failures = [
    ['an unknown parameter', 'permessage-deflate; x_foo', true, /unknown parameter/],
    [
      'a repeated parameter',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      true,
      /twice/,
    ],
    [
      'client_max_window_bits without a value',
      'permessage-deflate; client_max_window_bits',
      true,
      /must have a value/,
    ],
    ['an out-of-range window', 'permessage-deflate; server_max_window_bits=16', true, /8\.\.15/],
    [
      'a value on a context takeover parameter',
      'permessage-deflate; client_no_context_takeover=1',
      true,
      /no value/,
    ],
    [
      'client_max_window_bits that was not offered (§7.1.2.2)',
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: false },
      /not offered/,
    ],
    [
      'a client window larger than offered',
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
      /larger than offered/,
    ],
    [
      'a server window larger than asked for (§7.1.2.1)',
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      /larger than offered/,
    ],
    [
      'no server window when one was asked for (§7.1.2.1)',
      'permessage-deflate',
      { serverMaxWindowBits: 10 },
      /not confirmed/,
    ],
  ] as const;
  for (const [what, header, options, pattern] of failures) {
    it(`fails the connection on a response with ${what}`, () => {
      assert.throws(() => validate(header, options), isHandshakeFailure(pattern));
    });
  }

  it('fails the connection on a response for another extension', () => {
    assert.throws(() => validateDeflateResponse({ name: 'x-foo', params: [] }), isHandshakeFailure(/x-foo/));
  });

  it('fails the connection when permessage-deflate is accepted twice (§5)', () => {
    assert.throws(
      () => findDeflateResponse(parseExtensionHeader('permessage-deflate, permessage-deflate')),
      isHandshakeFailure(/more than once/),
    );
    assert.equal(findDeflateResponse(parseExtensionHeader('x-foo')), undefined);
    assert.deepEqual(findDeflateResponse(parseExtensionHeader('x-foo, permessage-deflate')), {
      name: 'permessage-deflate',
      params: [],
    });
  });
});

/**
 * The client's view and the server's view of a negotiation agree, except that a client may keep
 * to a smaller window than the server allows it (the one it announced in its offer).
 */
function assertAgree(client: DeflateParams, server: DeflateParams, message: string): void {
  assert.deepEqual({ ...client, clientMaxWindowBits: 0 }, { ...server, clientMaxWindowBits: 0 }, message);
  assert.ok(client.clientMaxWindowBits <= server.clientMaxWindowBits, message);
}

describe('both sides agree on the parameters for every option combination', () => {
  const clientVariants: DeflateOptions[] = [];
  const serverVariants: DeflateOptions[] = [];
  for (const nct of [false, true]) {
    for (const bits of [undefined, 8, 10, 15]) {
      for (const cbits of [true, false, 9, 15] as const) {
        clientVariants.push({
          serverNoContextTakeover: nct,
          clientMaxWindowBits: cbits,
          ...(bits === undefined ? {} : { serverMaxWindowBits: bits }),
        });
        serverVariants.push({
          clientNoContextTakeover: nct,
          clientMaxWindowBits: cbits,
          ...(bits === undefined ? {} : { serverMaxWindowBits: bits }),
        });
      }
    }
  }
  it(`${clientVariants.length * serverVariants.length} combinations`, () => {
    let accepted = 0;
    for (const c of clientVariants) {
      for (const s of serverVariants) {
        const result = accept(buildDeflateOffer(c), s);
        if (!result) {
          // Only declined when the server must limit a client that did not offer the parameter.
          assert.equal(c.clientMaxWindowBits, false);
          assert.ok(typeof s.clientMaxWindowBits === 'number' && s.clientMaxWindowBits < 15);
          continue;
        }
        accepted++;
        assertAgree(
          validate(result.responseHeader, c),
          result.params,
          `${JSON.stringify(c)} / ${JSON.stringify(s)}`,
        );
      }
    }
    assert.ok(accepted > 0);
  });
});

describe('resolveDeflateOptions', () => {
  it('turns true into the defaults and false into undefined', () => {
    assert.deepEqual(resolveDeflateOptions(true), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: undefined,
      clientMaxWindowBits: true,
      level: -1,
      memLevel: 8,
      strategy: undefined,
      deflateChunkSize: undefined,
      inflateChunkSize: undefined,
      threshold: 1024,
      concurrencyLimit: 10,
      idleContextReleaseMs: 10_000,
      syncBelowBytes: 8192,
    });
    assert.equal(resolveDeflateOptions(false), undefined);
    assert.equal(resolveDeflateOptions(undefined), undefined);
  });

  it("accepts ws's perMessageDeflate shape (the example from ws's README)", () => {
    const r = resolveDeflateOptions({
      zlibDeflateOptions: { chunkSize: 1024, memLevel: 7, level: 3 },
      zlibInflateOptions: { chunkSize: 10 * 1024 },
      clientNoContextTakeover: true,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 10,
      concurrencyLimit: 10,
      threshold: 1024,
    });
    assert.equal(r.level, 3);
    assert.equal(r.memLevel, 7);
    assert.equal(r.deflateChunkSize, 1024);
    assert.equal(r.inflateChunkSize, 10 * 1024);
    assert.equal(r.serverMaxWindowBits, 10);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['a window below 8', { serverMaxWindowBits: 7 }, /serverMaxWindowBits must be an integer 8\.\.15/],
    ['a window above 15', { clientMaxWindowBits: 16 }, /clientMaxWindowBits/],
    ['a fractional level', { level: 1.5 }, /level/],
    ['memLevel 0', { memLevel: 0 }, /memLevel/],
    ['a negative threshold', { threshold: -1 }, /threshold/],
    ['a zero concurrencyLimit', { concurrencyLimit: 0 }, /concurrencyLimit/],
    ['a non-boolean context takeover flag', { serverNoContextTakeover: 'yes' }, /boolean/],
    [
      'a misspelt option',
      { serverMaxWindowbits: 10 },
      /Unknown option perMessageDeflate\.serverMaxWindowbits/,
    ],
    ['zlib windowBits', { zlibDeflateOptions: { windowBits: 10 } }, /negotiated/],
    ['a zlib dictionary', { zlibDeflateOptions: { dictionary: Buffer.from('x') } }, /Unknown option/],
    ['a tiny chunk size', { zlibInflateOptions: { chunkSize: 16 } }, /chunkSize/],
    ['two different levels', { level: 1, zlibDeflateOptions: { level: 2 } }, /disagree/],
    ['a number', 5, /boolean or an options object/],
  ];
  for (const [what, value, pattern] of bad) {
    it(`throws at once on ${what}`, () => {
      assert.throws(() => resolveDeflateOptions(value as DeflateOptions), isArgumentError(pattern));
    });
  }
});

// ---- interop with ws at the header level ------------------------------------------------------

const WS_VARIANTS: Array<Record<string, unknown>> = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverMaxWindowBits: 10 },
  { clientMaxWindowBits: 10 },
  {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 9,
  },
];
const OUR_VARIANTS: DeflateOptions[] = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverMaxWindowBits: 10 },
  { clientMaxWindowBits: 10 },
  { clientMaxWindowBits: false },
  {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 9,
  },
];

/** ws's server declines an offer when its own window option is larger than offered, or absent from it. */
function wsDeclines(ours: DeflateOptions, ws: Record<string, unknown>): boolean {
  const offeredServer = ours.serverMaxWindowBits ?? 15;
  if (typeof ws.serverMaxWindowBits === 'number' && ours.serverMaxWindowBits !== undefined) {
    if (ws.serverMaxWindowBits > offeredServer) return true;
  }
  if (typeof ws.clientMaxWindowBits === 'number') {
    if (ours.clientMaxWindowBits === false) return true;
    if (typeof ours.clientMaxWindowBits === 'number' && ws.clientMaxWindowBits > ours.clientMaxWindowBits)
      return true;
  }
  return false;
}

/** Sends an upgrade request offering `offer` and returns the response head. */
async function rawHandshake(port: number, offer: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    [
      'GET / HTTP/1.1',
      'Host: 127.0.0.1',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Extensions: ${offer}`,
      '',
      '',
    ].join('\r\n'),
  );
  let head = '';
  for await (const chunk of socket) {
    head += (chunk as Buffer).toString('latin1');
    if (head.includes('\r\n\r\n')) break;
  }
  socket.destroy();
  return head;
}

describe('our offers against a ws server', () => {
  for (const wsOptions of WS_VARIANTS) {
    describe(`ws perMessageDeflate ${JSON.stringify(wsOptions)}`, () => {
      let server: WsServer;
      let port = 0;
      before(async () => {
        server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: wsOptions });
        await once(server, 'listening');
        port = (server.address() as AddressInfo).port;
      });
      after(() => new Promise<void>((resolve) => server.close(() => resolve())));

      for (const ours of OUR_VARIANTS) {
        it(`our client ${JSON.stringify(ours)} accepts ws's answer`, async () => {
          const head = await rawHandshake(port, buildDeflateOffer(ours));
          if (wsDeclines(ours, wsOptions)) {
            // ws treats its own window options as exact values and fails the handshake (400)
            // where we would answer with the smaller window.
            assert.match(head, /^HTTP\/1\.1 400 /);
            return;
          }
          assert.match(head, /^HTTP\/1\.1 101 /);
          const line = /\r\nSec-WebSocket-Extensions: ([^\r]*)\r\n/i.exec(head)?.[1];
          assert.ok(line, 'ws accepted compression');
          const response = findDeflateResponse(parseExtensionHeader(line));
          assert.ok(response);
          const p = validateDeflateResponse(response, ours);
          // What ws agreed to is what our server would have agreed to with the same options.
          const ourServer = acceptDeflateOffer(
            parseExtensionHeader(buildDeflateOffer(ours)),
            wsOptions as DeflateOptions,
          );
          assert.ok(ourServer);
          assertAgree(p, ourServer.params, line);
        });
      }
    });
  }
});

describe('ws clients against our answers', () => {
  for (const ours of OUR_VARIANTS) {
    describe(`our server ${JSON.stringify(ours)}`, () => {
      let server: http.Server;
      let url = '';
      const answered: string[] = [];
      before(async () => {
        server = http.createServer();
        server.on('upgrade', (req, socket) => {
          const offers = parseExtensionHeader(req.headers['sec-websocket-extensions']);
          const result = acceptDeflateOffer(offers, ours);
          answered.push(result?.responseHeader ?? '');
          const key = req.headers['sec-websocket-key'] as string;
          socket.write(
            [
              'HTTP/1.1 101 Switching Protocols',
              'Upgrade: websocket',
              'Connection: Upgrade',
              `Sec-WebSocket-Accept: ${computeAcceptKey(key)}`,
              ...(result ? [`Sec-WebSocket-Extensions: ${result.responseHeader}`] : []),
              '',
              '',
            ].join('\r\n'),
          );
          socket.on('error', () => {});
          socket.on('data', () => {});
          socket.end();
        });
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(() => new Promise<void>((resolve) => server.close(() => resolve())));

      for (const wsOptions of WS_VARIANTS) {
        it(`a ws client ${JSON.stringify(wsOptions)} opens`, async () => {
          const client = new WsClient(url, { perMessageDeflate: wsOptions });
          const outcome = await new Promise<string>((resolve) => {
            client.on('open', () => resolve('open'));
            client.on('error', (e) => resolve(`error: ${e.message}`));
          });
          client.terminate();
          assert.equal(outcome, 'open', `answered ${JSON.stringify(answered.at(-1))}`);
          const expected = answered.at(-1) === '' ? '' : 'permessage-deflate';
          assert.equal(client.extensions, expected);
        });
      }
    });
  }
});
