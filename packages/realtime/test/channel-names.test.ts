import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@ieum/websocket';
import { DisconnectCode, ErrorCodes, type RealtimeServer } from '../src/server/index.js';
import { client, opened, rawJsonClient, startServer, until } from './helpers.js';

/** Sends `message` after hello on a raw JSON connection; resolves with the close code and reason, or the reply. */
async function send(url: string, message: Record<string, unknown>) {
  const { ws, got, closed } = await rawJsonClient(url, 'names');
  // JSON.stringify writes a lone surrogate as the escape \udXXX, which JSON.parse turns back into it.
  ws.send(JSON.stringify(message));
  const outcome = await until(() => closed() ?? got.find((m) => m.t === 'res'), 5000, 'a reply or a close');
  ws.close();
  return outcome;
}

describe('names must be well-formed UTF-16', { timeout: 20_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('refuses (4400) channel, event, message id and key names with a lone surrogate, before authorizeChannel', async () => {
    const authorized: string[] = [];
    const { server, url } = await startServer({
      authorizeChannel: ({ channel }) => {
        authorized.push(channel);
        return true;
      },
    });
    servers.push(server);
    const pub = { t: 'pub', id: 1, ch: 'ok', ev: 'e', d: 1, mid: 'm' };
    for (const message of [
      { t: 'sub', id: 1, ch: 'a\ud800' },
      { t: 'sub', id: 1, ch: 'a\udfff' },
      { ...pub, ch: 'b\udc00x' },
      { ...pub, ev: '\ud800' },
      { ...pub, mid: 'm\ud800' },
      { ...pub, key: 'k\udfff' },
    ]) {
      const outcome = (await send(url, message)) as { code?: number; reason?: string };
      assert.equal(outcome.code, DisconnectCode.PROTOCOL_ERROR, JSON.stringify(message));
      assert.match(outcome.reason!, /well-formed/);
    }
    assert.deepEqual(authorized, [], 'authorizeChannel never saw a malformed name');
    // A well-formed name with a surrogate pair, and U+FFFD itself, are ordinary names.
    for (const ch of ['a\ud83d\ude00', 'a\ufffd']) {
      const outcome = (await send(url, { t: 'sub', id: 1, ch })) as { ok?: boolean };
      assert.equal(outcome.ok, true, ch);
    }
  });

  it('refuses rt.publish to a malformed channel or event name with bad-request', async () => {
    const { server } = await startServer();
    servers.push(server);
    await assert.rejects(server.publish('a\ud800', 'e', 1), { code: ErrorCodes.BAD_REQUEST });
    await assert.rejects(server.publish('a', 'e\udfff', 1), { code: ErrorCodes.BAD_REQUEST });
  });

  it('refuses (4401) a user id with a lone surrogate from the authenticate hook', async () => {
    const { server, url } = await startServer({ authenticate: () => ({ user: 'eve\ud800' }) });
    servers.push(server);
    const c = client(url, { reconnect: false });
    const outcome = await Promise.race([
      opened(c).then(() => 'open'),
      new Promise<number>((r) => c.once('disconnect', (i) => r(i.code))),
    ]);
    assert.equal(outcome, DisconnectCode.UNAUTHORIZED);
    c.close();
  });

  it('refuses NUL in client and message ids, so two clients of one user cannot share a deduplication key', async () => {
    const { server, url } = await startServer();
    servers.push(server);
    // The server keys deduplication by user, client id and message id joined with NUL:
    // client "x\0y" publishing "z" and client "x" publishing "y\0z" would be one message.
    const pub = { t: 'pub', id: 1, ch: 'ok', ev: 'e', d: 1 };
    for (const message of [
      { ...pub, mid: 'y\u0000z' },
      { t: 'sub', id: 1, ch: 'a\u0000b' },
    ]) {
      const outcome = (await send(url, message)) as { code?: number; reason?: string };
      assert.equal(outcome.code, DisconnectCode.PROTOCOL_ERROR, JSON.stringify(message));
      assert.match(outcome.reason!, /without NUL/);
    }
    const ws = new WebSocket(url, 'ieum.v1.json');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ t: 'hello', v: 1, cid: 'x\u0000y' }));
    const code = await new Promise<number>((r) => ws.once('close', (c: number) => r(c)));
    assert.equal(code, DisconnectCode.PROTOCOL_ERROR);
    await assert.rejects(server.publish('a\u0000', 'e', 1), { code: ErrorCodes.BAD_REQUEST });
  });

  it('refuses (4401) a user id with NUL or longer than 200 characters from the authenticate hook', async () => {
    for (const user of ['eve\u0000admin', 'u'.repeat(201)]) {
      const { server, url } = await startServer({ authenticate: () => ({ user }) });
      servers.push(server);
      const c = client(url, { reconnect: false });
      const outcome = await Promise.race([
        opened(c).then(() => 'open'),
        new Promise<number>((r) => c.once('disconnect', (i) => r(i.code))),
      ]);
      assert.equal(outcome, DisconnectCode.UNAUTHORIZED, JSON.stringify(user.slice(0, 20)));
      c.close();
    }
  });
});
