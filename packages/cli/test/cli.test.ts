// The `ieum` command as a user runs it: a real child process, talked to by the independent ws client.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { waitFor } from '../../websocket/test/helpers/net.js';
import { ieum } from './run-ieum.js';

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ieum echo', () => {
  it('echoes text and binary messages unchanged', async () => {
    const run = ieum(['echo', '--port', '0', '--host', '127.0.0.1']);
    await until(() => /listening on ws:\/\/[\d.]+:\d+/.test(run.output()), 'the listening line');
    const port = Number(/:(\d+)\s*$/m.exec(run.output())![1]);
    const c = new WsClient(`ws://127.0.0.1:${port}`);
    await waitFor(c, 'open');
    c.send('héllo');
    const [text, textBinary] = await waitFor<[Buffer, boolean]>(c, 'message');
    assert.equal(text.toString(), 'héllo');
    assert.equal(textBinary, false);
    c.send(Buffer.from([0, 1, 2, 255]));
    const [bin, isBinary] = await waitFor<[Buffer, boolean]>(c, 'message');
    assert.deepEqual([...bin], [0, 1, 2, 255]);
    assert.equal(isBinary, true);
    c.close();
    run.child.kill('SIGTERM');
    await run.exited;
  });

  it('refuses a bad port with a clear message and exit code', async () => {
    const run = ieum(['echo', '--port', 'eighty']);
    const code = await run.exited;
    assert.notEqual(code, 0);
    assert.match(run.output(), /port/i);
  });
});

describe('ieum echo-client', () => {
  it("follows Autobahn's convention: getCaseCount, runCase for each case, updateReports", async () => {
    const seen: string[] = [];
    const echoed: string[] = [];
    const server = new WsServer({ port: 0, host: '127.0.0.1' });
    await waitFor(server, 'listening');
    server.on('connection', (ws, req) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${url.pathname}?${url.searchParams.toString()}`);
      if (url.pathname === '/getCaseCount') {
        ws.send('3');
        ws.close();
      } else if (url.pathname === '/runCase') {
        const n = url.searchParams.get('case');
        ws.once('message', (data) => {
          echoed.push(data.toString());
          ws.close(1000);
        });
        ws.send(`case ${n}`);
      } else ws.close(1000);
    });
    const port = (server.address() as AddressInfo).port;
    const run = ieum(['echo-client', `ws://127.0.0.1:${port}`, '--agent', 'ieum-test']);
    const code = await run.exited;
    assert.equal(code, 0, run.output());
    assert.deepEqual(seen, [
      '/getCaseCount?',
      '/runCase?case=1&agent=ieum-test',
      '/runCase?case=2&agent=ieum-test',
      '/runCase?case=3&agent=ieum-test',
      '/updateReports?agent=ieum-test',
    ]);
    assert.deepEqual(echoed, ['case 1', 'case 2', 'case 3']);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('regression: fails with a clear message and exit 1 when the fuzzing server is not there', async () => {
    // It used to print "ran 0 cases; reports updated" and exit 0 (errors swallowed in session()).
    const closed = new WsServer({ port: 0, host: '127.0.0.1' });
    await waitFor(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const run = ieum(['echo-client', `ws://127.0.0.1:${port}`, '--agent', 'x']);
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.output(), /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/getCaseCount: connection refused/);
    assert.doesNotMatch(run.output(), /reports updated|\n\s+at /);
  });

  it('fails when the server answers getCaseCount without a count', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1' });
    await waitFor(server, 'listening');
    server.on('connection', (ws) => ws.close(1000));
    const port = (server.address() as AddressInfo).port;
    const run = ieum(['echo-client', `ws://127.0.0.1:${port}`, '--agent', 'x']);
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.output(), /sent no case count/);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
