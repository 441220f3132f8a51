// The JSON codec walks every decoded message that may hold a `$bin` marker. On 1 MiB of small
// arrays the walk used to cost twice JSON.parse itself (a string key per element with
// `for...in`), all of it on the event loop; arrays are now walked by index. These tests pin what
// the walk must still find, in arrays and objects at any depth.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonCodec, ProtocolViolation } from '../../src/codec/index.js';

describe('the JSON codec finds $bin markers in arrays', () => {
  it('as elements, in nested arrays, and in objects inside arrays', () => {
    const m = jsonCodec.decode(
      '{"d":[{"$bin":"AQID"},[[{"$bin":"BA=="}]],{"a":[1,{"$bin":""}]},"\\u0041"]}',
    ) as {
      d: [Uint8Array, [[Uint8Array]], { a: [number, Uint8Array] }, string];
    };
    assert.deepEqual([...m.d[0]], [1, 2, 3]);
    assert.deepEqual([...m.d[1][0][0]], [4]);
    assert.equal(m.d[2].a[0], 1);
    assert.deepEqual([...m.d[2].a[1]], []);
    assert.equal(m.d[3], 'A');
  });

  it('a top-level array of markers', () => {
    const m = jsonCodec.decode('[{"$bin":"AQ=="},{"$bin":"Ag=="}]') as Uint8Array[];
    assert.deepEqual(
      m.map((b) => [...b]),
      [[1], [2]],
    );
  });

  it('refuses a marker that does not hold base64 inside an array', () => {
    assert.throws(() => jsonCodec.decode('{"d":[[1,{"$bin":"***"}]]}'), ProtocolViolation);
  });

  it('walks 100,000 arrays without growing the call stack', () => {
    const text = `{"d":[${Array(100_000).fill('[{"$bin":"AA=="}]').join(',')}]}`;
    const m = jsonCodec.decode(text) as { d: Uint8Array[][] };
    assert.equal(m.d.length, 100_000);
    assert.ok(m.d.every((a) => a[0] instanceof Uint8Array && a[0][0] === 0));
  });
});
