// ws 8 compatibility: requests of other protocol versions (Hixie-75/76 drafts, hybi-08, unknown
// versions) get the answer ws gives them: same status, same Sec-WebSocket-Version header.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WsClient from 'ws';
import { rawConnect, waitFor } from '../helpers/net.js';
import { exchange, headerOf, listen, listenWs, statusOf } from './server-helpers.js';

/** The body of a refusal: what follows the head, up to the server's close. */
async function bodyOf(port: number, req: string): Promise<string> {
  const raw = await rawConnect(port);
  raw.socket.write(req);
  await raw.ended;
  const text = raw.received().toString('latin1');
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

function request(lines: string[]): string {
  return [
    'GET /chat HTTP/1.1',
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    ...lines,
    '',
    '',
  ].join('\r\n');
}

const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
const cases: Record<string, string> = {
  // draft-hixie-thewebsocketprotocol-76: two number keys, no Sec-WebSocket-Key, no version.
  'a Hixie-76 request': request([
    'Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5',
    'Sec-WebSocket-Key2: 12998 5 Y3 1  .P00',
    'Origin: http://example.com',
  ]),
  // draft-hixie-thewebsocketprotocol-75: no key at all.
  'a Hixie-75 request': request(['Origin: http://example.com']),
  'a request without Sec-WebSocket-Version': request([KEY]),
  'a request for version 7': request([KEY, 'Sec-WebSocket-Version: 7']),
  'a request for versions "13, 8"': request([KEY, 'Sec-WebSocket-Version: 13, 8']),
  'a version-8 (hybi-08) request': request([
    KEY,
    'Sec-WebSocket-Version: 8',
    'Sec-WebSocket-Origin: http://a',
  ]),
};

describe('ws 8: answers to other protocol versions', () => {
  for (const [name, req] of Object.entries(cases)) {
    it(`answers ${name} with the status, Sec-WebSocket-Version header and body ws answers with`, {
      timeout: 10_000,
    }, async () => {
      const [{ port }, wsPort] = await Promise.all([listen(), listenWs()]);
      const [ours, theirs] = await Promise.all([exchange(port, req), exchange(wsPort, req)]);
      assert.equal(statusOf(ours), statusOf(theirs), `ours:\n${ours}\nws:\n${theirs}`);
      assert.equal(headerOf(ours, 'Sec-WebSocket-Version'), headerOf(theirs, 'Sec-WebSocket-Version'));
      if (statusOf(theirs) !== 101) {
        const [ourBody, theirBody] = await Promise.all([bodyOf(port, req), bodyOf(wsPort, req)]);
        assert.equal(ourBody, theirBody);
      }
    });
  }

  it('accepts a version-8 client and passes its Sec-WebSocket-Origin to verifyClient', {
    timeout: 10_000,
  }, async () => {
    let seen: string | undefined;
    const { wss, url } = await listen({
      verifyClient: (info: { origin: string | undefined }) => {
        seen = info.origin;
        return true;
      },
    });
    const connected = waitFor(wss, 'connection');
    // ws's client still speaks version 8 when asked to.
    const client = new WsClient(url, { protocolVersion: 8, origin: 'http://app.example' });
    await Promise.all([waitFor(client, 'open'), connected]);
    assert.equal(seen, 'http://app.example');
    const echoed = waitFor<[Buffer]>(client, 'message');
    const [ws] = (await connected) as [import('../../src/index.js').WebSocket];
    ws.send('over hybi-08');
    assert.equal(String((await echoed)[0]), 'over hybi-08');
    client.terminate();
  });
});
