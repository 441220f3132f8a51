import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import {
  DisconnectCode,
  type JwtOptions,
  jwtAuthenticator,
  type RealtimeServer,
} from '../src/server/index.js';
import { client, opened, startServer } from './helpers.js';

const secret = 'test-secret-at-least-32-bytes-long!!';
const key = new TextEncoder().encode(secret);

function token(claims: { exp?: boolean; jti?: string }): Promise<string> {
  const jwt = new SignJWT(claims.jti ? { jti: claims.jti } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice');
  if (claims.exp) jwt.setExpirationTime('1h');
  return jwt.sign(key);
}

describe('jwtAuthenticator claims', { timeout: 20_000 }, () => {
  const servers: RealtimeServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  /** Connects with `jwt` to a server using `options`; resolves with the user or the close code. */
  async function attempt(options: Omit<JwtOptions, 'secret'>, jwt: string): Promise<string | number> {
    const { server, url } = await startServer({ authenticate: jwtAuthenticator({ secret, ...options }) });
    servers.push(server);
    const c = client(url, { token: jwt, reconnect: false });
    try {
      return await Promise.race([
        opened(c).then(() => c.user!),
        new Promise<number>((r) => c.once('disconnect', (i) => r(i.code))),
      ]);
    } finally {
      c.close();
    }
  }

  it('refuses a token without exp by default (it would never expire) with 4401', async () => {
    assert.equal(await attempt({}, await token({})), DisconnectCode.UNAUTHORIZED);
    assert.equal(await attempt({}, await token({ exp: true })), 'alice');
  });

  it('accepts a token without exp only when requireExpiry is false', async () => {
    assert.equal(await attempt({ requireExpiry: false }, await token({})), 'alice');
  });

  it('refuses a token missing one of requiredClaims with 4401', async () => {
    const options = { requiredClaims: ['jti'] };
    assert.equal(await attempt(options, await token({ exp: true })), DisconnectCode.UNAUTHORIZED);
    assert.equal(await attempt(options, await token({ exp: true, jti: 'j1' })), 'alice');
    // requiredClaims adds to exp, it does not replace it.
    assert.equal(await attempt(options, await token({ jti: 'j1' })), DisconnectCode.UNAUTHORIZED);
  });
});
