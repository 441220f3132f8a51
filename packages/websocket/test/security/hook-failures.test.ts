// A client decides when the application's handshake hooks run. When one of them fails (throws, or
// returns something RFC 6455 forbids), a server with no 'error' listener must answer that client
// with 500 and keep running: an 'error' event with no listener would throw out of the upgrade
// handler and stop the process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { upgradeRequest } from '../helpers/net.js';
import { exchange, listen, statusOf } from '../ws-compat/server-helpers.js';

/** Collects the process warnings emitted while the test runs (they replace the 'error' event). */
function collectWarnings(): Error[] {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  after(() => process.off('warning', onWarning));
  return warnings;
}

const withProtocol = (protocol: string) => upgradeRequest('/', [`Sec-WebSocket-Protocol: ${protocol}`]);

describe('application hook failures with no error listener', () => {
  it('answers 500 when handleProtocols selects a subprotocol the client did not offer, and keeps serving', {
    timeout: 10_000,
  }, async () => {
    const warnings = collectWarnings();
    const { wss, port } = await listen({ handleProtocols: () => 'chat' });
    assert.equal(wss.listenerCount('error'), 0);
    const warned = once(process, 'warning');
    assert.equal(statusOf(await exchange(port, withProtocol('other'))), 500);
    await warned;
    assert.match(warnings.map((w) => w.message).join('\n'), /handleProtocols returned "chat"/);
    // The server still upgrades a client that offered what the hook selects.
    assert.equal(statusOf(await exchange(port, withProtocol('chat'))), 101);
  });

  it('answers 500 when handleProtocols throws', { timeout: 10_000 }, async () => {
    collectWarnings();
    const { port } = await listen({
      handleProtocols: () => {
        throw new Error('hook bug');
      },
    });
    assert.equal(statusOf(await exchange(port, withProtocol('chat'))), 500);
  });

  it('answers 500 when authorize throws unexpectedly', { timeout: 10_000 }, async () => {
    const warnings = collectWarnings();
    const { port } = await listen({
      authorize: () => {
        throw new Error('database down');
      },
    });
    const warned = once(process, 'warning');
    assert.equal(statusOf(await exchange(port, upgradeRequest('/'))), 500);
    await warned;
    assert.match(warnings.map((w) => w.message).join('\n'), /database down/);
  });

  it('answers 500 when a headers listener adds a line with CR or LF', { timeout: 10_000 }, async () => {
    collectWarnings();
    const { wss, port } = await listen();
    wss.on('headers', (lines) => lines.push('X-Bad: a\r\nSet-Cookie: injected'));
    const head = await exchange(port, upgradeRequest('/'));
    assert.equal(statusOf(head), 500);
    assert.doesNotMatch(head, /injected/);
  });
});
