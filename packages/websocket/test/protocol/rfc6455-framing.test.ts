// RFC 6455 §5.2-§5.6 and §7.4 at the protocol core, byte-exact.
import assert from 'node:assert/strict';
import { it, describe as suite } from 'node:test';
import { Connection } from '../../src/protocol/index.js';
import { clientFrame, closeHex, describe, feed, fixedMask, hex, server } from './helpers.js';

const out = (c: Connection) => Buffer.concat(c.dataToSend()).toString('hex');

suite('RFC 6455 §5.2 base framing', () => {
  it('a server fails an unmasked client frame with 1002', () => {
    const c = server();
    assert.deepEqual(describe(feed(c, hex('81 02 68 69'))), ['error:WS_ERR_EXPECTED_MASK:1002']);
    assert.equal(out(c), closeHex(1002));
  });

  it('a client fails a masked server frame with 1002', () => {
    const c = new Connection({ role: 'client', randomFill: fixedMask });
    assert.deepEqual(describe(feed(c, clientFrame(1, 'hi'))), ['error:WS_ERR_UNEXPECTED_MASK:1002']);
  });

  for (const rsv of [1, 2, 4]) {
    it(`fails a frame with RSV bits ${rsv.toString(2).padStart(3, '0')} when no extension is negotiated`, () => {
      const c = server();
      const code = rsv === 4 ? 'WS_ERR_UNEXPECTED_RSV_1' : 'WS_ERR_UNEXPECTED_RSV_2_3';
      assert.deepEqual(describe(feed(c, clientFrame(1, 'x', { rsv }))), [`error:${code}:1002`]);
    });
  }

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`fails reserved opcode 0x${opcode.toString(16)} with 1002`, () => {
      const c = server();
      assert.deepEqual(describe(feed(c, clientFrame(opcode, ''))), ['error:WS_ERR_INVALID_OPCODE:1002']);
    });
  }

  it('fails a 64-bit length with the most significant bit set', () => {
    const c = server();
    const events = feed(c, hex('82 ff 80 00 00 00 00 00 00 01 37 fa 21 3d'));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'error');
    assert.equal(events[0]!.type === 'error' && events[0]!.error.closeCode, 1002);
  });

  it('fails a frame whose declared length exceeds maxFrameBytes before any payload arrives (1009)', () => {
    const c = server({ limits: { maxFrameBytes: 1000, maxMessageBytes: 1000 } });
    assert.deepEqual(describe(feed(c, hex('82 fe 03 e9 37 fa 21 3d'))), [
      'error:WS_ERR_UNSUPPORTED_MESSAGE_LENGTH:1009',
    ]);
    assert.equal(out(c), closeHex(1009));
  });

  it('discards everything after a failure', () => {
    const c = server();
    feed(c, hex('81 02 68 69'));
    assert.deepEqual(feed(c, clientFrame(1, 'more'), clientFrame(9, 'ping')), []);
    assert.equal(out(c), closeHex(1002));
  });
});

suite('RFC 6455 §5.4 fragmentation', () => {
  it('reassembles text in three fragments with a ping in between, answering the ping first', () => {
    const c = server();
    const events = feed(
      c,
      clientFrame(1, 'frag', { fin: false }),
      clientFrame(9, 'p'),
      clientFrame(0, 'men', { fin: false }),
      clientFrame(0, 'ted'),
    );
    assert.deepEqual(describe(events), ['ping:70', 'text:fragmented']);
    assert.equal(out(c), '8a0170');
  });

  it('fails a continuation without a message', () => {
    assert.deepEqual(describe(feed(server(), clientFrame(0, 'x'))), ['error:WS_ERR_INVALID_OPCODE:1002']);
  });

  it('fails a new data frame inside a fragmented message', () => {
    const events = feed(server(), clientFrame(1, 'a', { fin: false }), clientFrame(1, 'b'));
    assert.deepEqual(describe(events), ['error:WS_ERR_INVALID_OPCODE:1002']);
  });

  it('counts empty fragments against maxFragments (1008, as ws)', () => {
    const c = server({ limits: { maxFragments: 10 } });
    const frames = [
      clientFrame(2, '', { fin: false }),
      ...Array.from({ length: 20 }, () => clientFrame(0, '', { fin: false })),
    ];
    assert.deepEqual(describe(feed(c, ...frames)), ['error:WS_ERR_TOO_MANY_BUFFERED_PARTS:1008']);
  });

  it('fails a message that grows past maxMessageBytes across fragments (1009)', () => {
    const c = server({ limits: { maxMessageBytes: 100, maxFrameBytes: 100 } });
    const events = feed(
      c,
      clientFrame(2, Buffer.alloc(60), { fin: false }),
      clientFrame(0, Buffer.alloc(60)),
    );
    assert.deepEqual(describe(events), ['error:WS_ERR_UNSUPPORTED_MESSAGE_LENGTH:1009']);
  });

  it('sends fragments with fin: false and continues them', () => {
    const c = server();
    c.send('ab', { fin: false });
    c.send('cd', { fin: true });
    assert.equal(out(c), '01026162' + '80026364');
  });
});

suite('RFC 6455 §5.5 control frames', () => {
  it('fails a fragmented ping', () => {
    assert.deepEqual(describe(feed(server(), clientFrame(9, 'x', { fin: false }))), [
      'error:WS_ERR_EXPECTED_FIN:1002',
    ]);
  });

  it('fails a ping with a 126-byte payload', () => {
    assert.deepEqual(describe(feed(server(), clientFrame(9, Buffer.alloc(126)))), [
      'error:WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH:1002',
    ]);
  });

  it('refuses to send a control payload over 125 bytes', () => {
    assert.throws(() => server().sendPing(new Uint8Array(126)), /125 bytes/);
  });

  it('answers a 125-byte ping with an identical pong', () => {
    const c = server();
    feed(c, clientFrame(9, Buffer.alloc(125, 7)));
    assert.equal(out(c), `8a7d${'07'.repeat(125)}`);
  });
});

suite('RFC 6455 §5.5.1 and §7 closing', () => {
  it('echoes the close code and reason and then closes the transport (server)', () => {
    const c = server();
    const payload = Buffer.concat([hex('0fa0'), Buffer.from('bye')]);
    assert.deepEqual(describe(feed(c, clientFrame(8, payload))), ['close:4000:bye']);
    assert.equal(out(c), '88050fa0627965');
    assert.equal(c.state, 'closed');
    assert.equal(c.shouldCloseTransport, true);
  });

  it('answers an empty close frame with an empty one and reports 1005', () => {
    const c = server();
    assert.deepEqual(describe(feed(c, clientFrame(8, ''))), ['close:1005:']);
    assert.equal(out(c), '8800');
  });

  it('fails a close frame with a 1-byte payload', () => {
    assert.deepEqual(describe(feed(server(), clientFrame(8, hex('03')))), [
      'error:WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH:1002',
    ]);
  });

  it('fails a close reason that is not UTF-8 with 1007', () => {
    assert.deepEqual(describe(feed(server(), clientFrame(8, hex('03e8 ff')))), [
      'error:WS_ERR_INVALID_UTF8:1007',
    ]);
  });

  const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
  const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];
  for (const code of valid) {
    it(`accepts close code ${code} on the wire`, () => {
      assert.deepEqual(describe(feed(server(), clientFrame(8, hex(code.toString(16).padStart(4, '0'))))), [
        `close:${code}:`,
      ]);
    });
  }
  for (const code of invalid) {
    it(`fails close code ${code} with 1002`, () => {
      assert.deepEqual(describe(feed(server(), clientFrame(8, hex(code.toString(16).padStart(4, '0'))))), [
        'error:WS_ERR_INVALID_CLOSE_CODE:1002',
      ]);
    });
  }

  it('refuses to send an invalid close code or a reason over 123 bytes', () => {
    assert.throws(() => server().sendClose(1005), /WS_ERR_INVALID_ARGUMENT|code/);
    assert.throws(() => server().sendClose(1000, 'x'.repeat(124)), /123/);
  });

  it('delivers no data received after a close frame', () => {
    const c = server();
    const events = feed(c, Buffer.concat([clientFrame(8, hex('03e8')), clientFrame(1, 'late')]));
    assert.deepEqual(describe(events), ['close:1000:']);
  });

  it('refuses to send data after sending a close frame', () => {
    const c = server();
    c.sendClose(1000);
    assert.throws(() => c.send('late'), /closing or closed/);
    assert.equal(c.closeExpected(), true);
  });
});

suite('deferFailureClose (regression: a valid message and a violation in one chunk)', () => {
  it('lets the application answer messages that preceded the violation before the close frame', () => {
    const c = server({ deferFailureClose: true });
    const events = feed(c, Buffer.concat([clientFrame(1, 'ok'), clientFrame(1, 'x', { rsv: 2 })]));
    assert.deepEqual(describe(events), ['text:ok', 'error:WS_ERR_UNEXPECTED_RSV_2_3:1002']);
    assert.equal(c.canSend, true);
    c.send('ok');
    c.releaseFailureClose();
    assert.equal(out(c), `81026f6b${closeHex(1002)}`);
    assert.equal(c.canSend, false);
    assert.equal(c.shouldCloseTransport, true);
  });
});

suite('deferFailureClose (regression: a reply to a message that arrived with the close frame)', () => {
  it('holds the close reply until released, so the reply to the message goes first', () => {
    const c = server({ deferFailureClose: true });
    const events = feed(c, Buffer.concat([clientFrame(1, 'hi'), clientFrame(8, Buffer.from([0x03, 0xe8]))]));
    assert.deepEqual(describe(events), ['text:hi', 'close:1000:']);
    assert.equal(out(c), '', 'no close reply yet');
    assert.equal(c.canSend, true);
    c.send('ok');
    c.releaseFailureClose();
    assert.equal(out(c), `81026f6b${closeHex(1000)}`);
    assert.equal(c.canSend, false);
    assert.equal(c.shouldCloseTransport, true);
  });

  it('sends our own close frame instead when the application closes first', () => {
    const c = server({ deferFailureClose: true });
    feed(c, clientFrame(8, Buffer.from([0x03, 0xe8])));
    c.sendClose(4000);
    c.releaseFailureClose();
    assert.equal(out(c), closeHex(4000));
  });
});

suite('bytesToSend', () => {
  it('counts the queued bytes as frames are queued, checked and taken', () => {
    const c = server();
    assert.equal(c.bytesToSend, 0);
    c.send('hello'); // 2 + 5
    assert.equal(c.bytesToSend, 7);
    c.send(Buffer.alloc(200)); // 4 + 200
    c.sendPing(Buffer.from('p')); // 2 + 1
    assert.equal(c.bytesToSend, 7 + 204 + 3);
    assert.equal(c.bytesToSend, 214, 'a second look counts nothing twice');
    assert.equal(Buffer.concat(c.dataToSend()).length, 214);
    assert.equal(c.bytesToSend, 0);
    c.send('x');
    assert.equal(c.bytesToSend, 3, 'counted afresh after dataToSend');
    c.sendClose(1000);
    assert.equal(c.bytesToSend, 3 + 4);
  });

  it('counts every byte when checked before each of 50,000 sends', () => {
    // (It is kept incrementally: recounting the queue on each check made this loop quadratic.
    // Speed is the benchmark's business; this checks the count stays exact at that size.)
    const c = server();
    for (let i = 0; i < 50_000; i++) {
      if (c.bytesToSend !== i * 13) break;
      c.send('hello world');
    }
    assert.equal(c.bytesToSend, 50_000 * 13);
    assert.equal(Buffer.concat(c.dataToSend()).length, 50_000 * 13);
    assert.equal(c.bytesToSend, 0);
  });
});
