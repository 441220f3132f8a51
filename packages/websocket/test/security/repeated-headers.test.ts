// Request smuggling and origin confusion through repeated handshake headers: a second Host or
// Origin line must not reach a 101 (RFC 7230 §5.4: one Host; RFC 6454 §7.3: one Origin). Node
// keeps only the first Host and joins Origin lines, so this is checked on the wire.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { WebSocketServer } from '../../src/index.js';
import { rawConnect, upgradeRequest, waitFor } from '../helpers/net.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function statusFor(
  request: string,
  options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {},
) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(wss);
  await waitFor(wss, 'listening');
  let connections = 0;
  wss.on('connection', () => connections++);
  const raw = await rawConnect((wss.address() as AddressInfo).port);
  raw.socket.write(request);
  await raw.ended;
  return { status: raw.received().toString('latin1').split('\r\n')[0], connections };
}

describe('repeated handshake headers', () => {
  for (const [name, extra] of [
    ['a second Host line', ['Host: evil.example']],
    ['a second Host line spelt in another case', ['HOST: 127.0.0.1']],
    ['two Origin lines', ['Origin: https://app.example', 'Origin: https://evil.example']],
    ['two Origin lines of the same value', ['Origin: https://app.example', 'origin: https://app.example']],
  ] as const) {
    it(`answers ${name} with 400 and opens no connection`, { timeout: 10_000 }, async () => {
      const { status, connections } = await statusFor(upgradeRequest('/', [...extra]));
      assert.equal(status, 'HTTP/1.1 400 Bad Request');
      assert.equal(connections, 0);
    });
  }

  it('answers two Origin lines with 400 even when the first one is allowed', {
    timeout: 10_000,
  }, async () => {
    const { status } = await statusFor(
      upgradeRequest('/', ['Origin: https://app.example', 'Origin: https://evil.example']),
      { allowedOrigins: (origin) => origin?.startsWith('https://app.example') === true },
    );
    assert.equal(status, 'HTTP/1.1 400 Bad Request');
  });
});
