// The harness is checked against peers we did not write (ws) and against a deliberately broken
// server, so a pass from it means something.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { allDeflateCases, selectCases } from '../src/registry.js';
import { runClientSuite, startServerSuite, summarize } from '../src/runner.js';

describe('conformance harness against ws', () => {
  let server: WsServer;
  let url: string;
  before(async () => {
    server = new WsServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * 1024 * 1024 });
    server.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (d, b) => ws.send(d, { binary: b }));
    });
    await new Promise((r) => server.once('listening', r));
    url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('finds no failure in a ws echo server (sections 1-7, 10, and 9.1-9.2 up to 1 MiB)', async () => {
    const cases = selectCases('1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*,9.1.1,9.1.2,9.1.3,9.2.1,9.2.2,9.2.3');
    const results = await runClientSuite({ url, cases });
    const { failed, lines } = summarize(results);
    assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
    assert.ok(results.length > 250);
  });

  it('finds no failure in a ws client that echoes (fuzzingserver mode)', async () => {
    const cases = selectCases('1.*,2.*,5.*,6.2.*,6.3.*,7.1.*,7.3.*,7.9.*,10.*');
    const suite = startServerSuite({ port: 0, cases });
    const port = await suite.listening;
    const base = `ws://127.0.0.1:${port}`;
    const run = (path: string, echo: boolean) =>
      new Promise<string[]>((resolve) => {
        const got: string[] = [];
        const c = new WsClient(`${base}${path}`);
        c.on('message', (d, b) => {
          got.push(d.toString());
          if (echo) c.send(d, { binary: b });
        });
        c.on('error', () => {});
        c.on('close', () => resolve(got));
      });
    const [count] = await run('/getCaseCount', false);
    assert.equal(Number(count), cases.length);
    for (let i = 1; i <= cases.length; i++) await run(`/runCase?case=${i}&agent=ws`, true);
    await run('/updateReports?agent=ws', false);
    const results = await suite.results;
    suite.close();
    const { failed, lines } = summarize(results);
    assert.equal(results.length, cases.length);
    assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
  });
});

describe('conformance harness against a broken server', () => {
  // Accepts the handshake, then echoes every byte it receives back unchanged: it never
  // validates anything, and echoes masked frames (a server must not mask).
  let server: net.Server;
  let url: string;
  before(async () => {
    server = net.createServer((socket) => {
      let upgraded = false;
      socket.on('error', () => {});
      socket.on('data', (d) => {
        if (!upgraded) {
          upgraded = true;
          const key = /Sec-WebSocket-Key: (\S+)/i.exec(d.toString())?.[1] ?? '';
          const accept = createHash('sha1')
            .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
            .digest('base64');
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
          );
          return;
        }
        socket.write(d);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reports FAILED for the cases such a server gets wrong', async () => {
    const results = await runClientSuite({ url, cases: selectCases('1.1.1,3.1,6.3.1,7.9.1') });
    assert.deepEqual(
      results.map((r) => `${r.id} ${r.outcome}`),
      ['1.1.1 FAILED', '3.1 FAILED', '6.3.1 FAILED', '7.9.1 FAILED'],
    );
  });
});

describe('conformance harness (sections 12 and 13) against ws with permessage-deflate', () => {
  // 13.7 is left out: ws answers an offer list whose first offer has an unknown parameter with
  // 400 instead of declining just that offer (RFC 7692 §5), so it cannot validate the harness there.
  const sample = '12.1.1,12.2.4,12.3.6,12.4.10,12.5.12,13.1.8,13.2.3,13.3.4,13.4.5,13.5.6,13.6.7';
  const echoServer = async (perMessageDeflate: boolean) => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
    server.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (d, b) => ws.send(d, { binary: b }));
    });
    await new Promise((r) => server.once('listening', r));
    return { server, url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
  };

  it('finds no failure in a ws echo server that compresses', async () => {
    const { server, url } = await echoServer(true);
    const results = await runClientSuite({ url, cases: selectCases(sample, undefined, allDeflateCases) });
    server.close();
    const { failed, lines } = summarize(results);
    assert.equal(results.length, 11);
    assert.equal(failed, 0, lines.filter((l) => l.includes('FAILED')).join('\n'));
  });

  it('reports FAILED when the server declines compression', async () => {
    const { server, url } = await echoServer(false);
    const results = await runClientSuite({
      url,
      cases: selectCases('12.1.1,13.3.1', undefined, allDeflateCases),
    });
    server.close();
    assert.deepEqual(
      results.map((r) => `${r.id} ${r.outcome} ${r.reason}`),
      [
        '12.1.1 FAILED permessage-deflate was not negotiated',
        '13.3.1 FAILED permessage-deflate was not negotiated',
      ],
    );
  });
});
