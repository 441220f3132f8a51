// Connection.close with a code that may not be sent (RFC 6455 §7.4) is the caller's mistake: it
// throws at once and leaves the connection as it was, instead of releasing it on the server and
// leaving it open on the wire.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Connection } from '../src/server/index.js';
import { client, opened, startServer, until } from './helpers.js';

describe('Connection.close', () => {
  it('throws for a code that may not be sent, and the connection keeps working', {
    timeout: 10_000,
  }, async () => {
    const { server, url } = await startServer();
    let conn: Connection | undefined;
    server.handle('whoami', (_d: unknown, c: Connection) => {
      conn = c;
      return 'me';
    });
    const c = client(url);
    after(async () => {
      c.close();
      await server.close();
    });
    await opened(c);
    assert.equal(await c.request('whoami', null), 'me');
    const connection = await until(() => conn, 5000, 'the server side of the connection');
    for (const code of [999, 1005, 1006, 1015, 2000, 5000]) {
      assert.throws(() => connection.close(code, 'bye'), /may not be sent in a close frame/);
    }
    // Nothing was released: requests are still answered.
    assert.equal(await c.request('whoami', null), 'me');
    connection.close(4000, 'bye');
    await until(() => c.state !== 'open', 5000, 'the client to see the close');
  });
});
