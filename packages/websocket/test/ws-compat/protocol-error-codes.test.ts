// ws 8 compatibility: an error emitted for a peer's protocol violation or a limit carries ws's
// documented `code` (WS_ERR_*) and the connection closes with the status code ws sends.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from '../../src/index.js';
import { maskedFrame, rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

type Outcome = { code: string | undefined; sentClose: number | undefined };

describe('ws-compat: error codes of protocol violations and limits', { timeout: 30_000 }, () => {
  let wss: WebSocketServer;
  let port: number;
  const accepted: WebSocket[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 1024, limits: { maxFragments: 8 } });
    wss.on('connection', (ws) => accepted.push(ws));
    await waitFor(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  });

  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  /** Sends `frames` on a fresh raw connection; returns the server's error code and close status. */
  async function violate(frames: Buffer[]): Promise<Outcome> {
    const raw = await rawConnect(port);
    const connection = waitFor<[WebSocket]>(wss, 'connection');
    raw.socket.write(upgradeRequest('/'));
    const [ws] = await connection;
    const error = new Promise<Error & { code?: string }>((resolve) => ws.once('error', resolve));
    raw.socket.write(Buffer.concat(frames));
    const [err] = await Promise.all([error, raw.ended]);
    const bytes = raw.received();
    const body = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
    // The server's close frame: 0x88, length, status code (big-endian).
    const sentClose = body[0] === 0x88 && body[1]! >= 2 ? body.readUInt16BE(2) : undefined;
    return { code: err.code, sentClose };
  }

  const text = (s: string) => Buffer.from(s);

  it('RSV1 without an extension is WS_ERR_UNEXPECTED_RSV_1 (1002)', async () => {
    const frame = maskedFrame(0x1, text('x'));
    frame[0]! |= 0x40;
    assert.deepEqual(await violate([frame]), { code: 'WS_ERR_UNEXPECTED_RSV_1', sentClose: 1002 });
  });

  it('RSV2 or RSV3 is WS_ERR_UNEXPECTED_RSV_2_3 (1002)', async () => {
    const frame = maskedFrame(0x1, text('x'));
    frame[0]! |= 0x20;
    assert.deepEqual(await violate([frame]), { code: 'WS_ERR_UNEXPECTED_RSV_2_3', sentClose: 1002 });
  });

  it('a control frame over 125 bytes is WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x9, Buffer.alloc(126))]), {
      code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
      sentClose: 1002,
    });
  });

  it('a 1-byte close payload is WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x8, Buffer.from([3]))]), {
      code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
      sentClose: 1002,
    });
  });

  it('a fragmented control frame is WS_ERR_EXPECTED_FIN (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x9, text('p'), false)]), {
      code: 'WS_ERR_EXPECTED_FIN',
      sentClose: 1002,
    });
  });

  it('a continuation with nothing to continue is WS_ERR_INVALID_OPCODE (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x0, text('x'))]), {
      code: 'WS_ERR_INVALID_OPCODE',
      sentClose: 1002,
    });
  });

  it('a new data frame inside a fragmented message is WS_ERR_INVALID_OPCODE (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x1, text('a'), false), maskedFrame(0x1, text('b'))]), {
      code: 'WS_ERR_INVALID_OPCODE',
      sentClose: 1002,
    });
  });

  it('a reserved opcode is WS_ERR_INVALID_OPCODE (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x3, text('x'))]), {
      code: 'WS_ERR_INVALID_OPCODE',
      sentClose: 1002,
    });
  });

  it('an unmasked client frame is WS_ERR_EXPECTED_MASK (1002)', async () => {
    assert.deepEqual(await violate([Buffer.from([0x81, 0x01, 0x78])]), {
      code: 'WS_ERR_EXPECTED_MASK',
      sentClose: 1002,
    });
  });

  it('an invalid close code is WS_ERR_INVALID_CLOSE_CODE (1002)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x8, Buffer.from([0x03, 0xed]))]), {
      code: 'WS_ERR_INVALID_CLOSE_CODE',
      sentClose: 1002,
    });
  });

  it('invalid UTF-8 in a text message is WS_ERR_INVALID_UTF8 (1007)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x1, Buffer.from([0xc0, 0xaf]))]), {
      code: 'WS_ERR_INVALID_UTF8',
      sentClose: 1007,
    });
  });

  it('a message over maxPayload is WS_ERR_UNSUPPORTED_MESSAGE_LENGTH (1009)', async () => {
    assert.deepEqual(await violate([maskedFrame(0x2, Buffer.alloc(1025))]), {
      code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      sentClose: 1009,
    });
  });

  it('a message growing over maxPayload across fragments is WS_ERR_UNSUPPORTED_MESSAGE_LENGTH (1009)', async () => {
    const frames = [maskedFrame(0x2, Buffer.alloc(600), false), maskedFrame(0x0, Buffer.alloc(600))];
    assert.deepEqual(await violate(frames), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', sentClose: 1009 });
  });

  it('a frame length above 2^53 - 1 is WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH (1009)', async () => {
    const head = Buffer.from([0x82, 0x80 | 127, 0, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    assert.deepEqual(await violate([head]), {
      code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
      sentClose: 1009,
    });
  });

  it('more fragments than maxFragments is WS_ERR_TOO_MANY_BUFFERED_PARTS (1008)', async () => {
    const frames = [maskedFrame(0x2, Buffer.alloc(1), false)];
    for (let i = 0; i < 10; i++) frames.push(maskedFrame(0x0, Buffer.alloc(1), false));
    assert.deepEqual(await violate(frames), { code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS', sentClose: 1008 });
  });
});
