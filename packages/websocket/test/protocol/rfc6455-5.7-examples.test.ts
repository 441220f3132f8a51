// RFC 6455 §5.7: the examples given in the RFC, byte for byte, in both directions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Connection, type ProtocolEvent } from '../../src/protocol/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fixedMask = (key: number[]) => (target: Uint8Array) => target.set(key);

function receive(role: 'server' | 'client', bytes: Buffer): ProtocolEvent[] {
  const conn =
    role === 'client'
      ? new Connection({ role, randomFill: fixedMask([0x37, 0xfa, 0x21, 0x3d]) })
      : new Connection({ role });
  conn.receiveData(bytes);
  return conn.eventsReceived();
}

describe('RFC 6455 §5.7 examples', () => {
  it('a client reads a single-frame unmasked text message "Hello"', () => {
    const events = receive('client', hex('81 05 48 65 6c 6c 6f'));
    assert.equal(events.length, 1);
    const [m] = events;
    assert.equal(m?.type, 'message');
    if (m?.type !== 'message') return;
    assert.equal(m.binary, false);
    assert.equal(m.data.toString(), 'Hello');
  });

  it('a server reads a single-frame masked text message "Hello"', () => {
    const events = receive('server', hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    assert.deepEqual(
      events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['Hello'],
    );
  });

  it('a client sends "Hello" masked with the RFC key 37 fa 21 3d', () => {
    const conn = new Connection({ role: 'client', randomFill: fixedMask([0x37, 0xfa, 0x21, 0x3d]) });
    conn.send('Hello');
    assert.equal(Buffer.concat(conn.dataToSend()).toString('hex'), '818537fa213d7f9f4d5158');
  });

  it('a server sends "Hello" unmasked', () => {
    const conn = new Connection({ role: 'server' });
    conn.send('Hello');
    assert.equal(Buffer.concat(conn.dataToSend()).toString('hex'), '810548656c6c6f');
  });

  it('a fragmented unmasked text message "Hel" + "lo" is reassembled', () => {
    const events = receive('client', hex('01 03 48 65 6c 80 02 6c 6f'));
    assert.deepEqual(
      events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['Hello'],
    );
  });

  it('an unmasked ping "Hello" is answered with a pong carrying the same payload', () => {
    const conn = new Connection({ role: 'client', randomFill: fixedMask([0x37, 0xfa, 0x21, 0x3d]) });
    conn.receiveData(hex('89 05 48 65 6c 6c 6f'));
    const [ping] = conn.eventsReceived();
    assert.equal(ping?.type, 'ping');
    // Masked pong "Hello" (RFC §5.7 shows it as 8a 85 37 fa 21 3d 7f 9f 4d 51 58).
    assert.equal(Buffer.concat(conn.dataToSend()).toString('hex'), '8a8537fa213d7f9f4d5158');
  });

  it('a 256-byte binary message uses the 16-bit extended length (7e 01 00)', () => {
    const conn = new Connection({ role: 'server' });
    conn.send(Buffer.alloc(256, 7));
    const out = Buffer.concat(conn.dataToSend());
    assert.equal(out.subarray(0, 4).toString('hex'), '827e0100');
    assert.equal(out.length, 4 + 256);
  });

  it('a 64 KiB binary message uses the 64-bit extended length (7f 00..01 00 00)', () => {
    const conn = new Connection({ role: 'server' });
    conn.send(Buffer.alloc(65536, 7));
    const out = Buffer.concat(conn.dataToSend());
    assert.equal(out.subarray(0, 10).toString('hex'), '827f0000000000010000');
    const reader = new Connection({ role: 'client', randomFill: fixedMask([1, 2, 3, 4]) });
    reader.receiveData(out);
    const [m] = reader.eventsReceived();
    assert.equal(m?.type === 'message' && m.data.length, 65536);
  });
});
