// `ieum serve` end to end: the CLI as a child process, talked to by the independent ws client.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import WsClient from 'ws';
import { selfSignedCert, waitFor } from '../../websocket/test/helpers/net.js';
import { type IeumProcess, ieum, ieumCommand, root } from './run-ieum.js';

async function started(args: string[]): Promise<{ run: IeumProcess; url: string }> {
  const run = ieum(['serve', '--port', '0', ...args]);
  const [, url] = await run.waitFor(/ on (wss?:\/\/\S+?);? /);
  return { run, url: url! };
}

async function open(url: string, options: WsClient.ClientOptions = {}): Promise<WsClient> {
  const c = new WsClient(url, options);
  await waitFor(c, 'open');
  return c;
}

async function next(c: WsClient): Promise<[string, boolean]> {
  const [data, isBinary] = await waitFor<[Buffer, boolean]>(c, 'message');
  return [isBinary ? data.toString('hex') : data.toString(), isBinary];
}

const dir = mkdtempSync(join(tmpdir(), 'ieum-serve-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('ieum serve', { timeout: 60_000 }, () => {
  it('echo mode sends text and binary back to the sender, and logs connections when not on a terminal', async () => {
    const { run, url } = await started([]);
    assert.match(run.stdout(), /ieum serve: echo on ws:\/\/127\.0\.0\.1:\d+\//);
    const c = await open(url);
    c.send('héllo');
    assert.deepEqual(await next(c), ['héllo', false]);
    c.send(Buffer.from([0, 255]));
    assert.deepEqual(await next(c), ['00ff', true]);
    await run.waitFor(/\+ 127\.0\.0\.1:\d+ connected \(1 open\)/);
    c.close(1000);
    await run.waitFor(/- 127\.0\.0\.1:\d+ closed 1000 \(0 open\)/);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
  });

  it('broadcast mode sends each message to every other client, not back to the sender', async () => {
    const { run, url } = await started(['--mode', 'broadcast', '--deflate']);
    const [a, b, c] = await Promise.all([open(url, { perMessageDeflate: true }), open(url), open(url)]);
    const gotB = next(b);
    const gotC = next(c);
    const seenByA: string[] = [];
    a.on('message', (data) => seenByA.push(String(data)));
    a.send('to all');
    assert.deepEqual(await gotB, ['to all', false]);
    assert.deepEqual(await gotC, ['to all', false]);
    // b's reply reaches a after a's own message would have: a sees only the reply.
    const gotA = next(a);
    b.send('back');
    assert.deepEqual(await gotA, ['back', false]);
    assert.deepEqual(seenByA, ['back']);
    assert.match(a.extensions, /permessage-deflate/);
    for (const x of [a, b, c]) x.close();
    run.child.kill('SIGTERM');
    await run.exited;
  });

  it('--static serves files over HTTP on the same port and broadcasts over WebSocket', async () => {
    writeFileSync(join(dir, 'index.html'), '<h1>hi</h1>');
    const { run, url } = await started(['--static', dir]);
    assert.match(run.stdout(), /files from .* on http:\/\/127\.0\.0\.1:\d+\/ and broadcast/);
    const http = url.replace('ws:', 'http:');
    const page = await fetch(http);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<h1>hi</h1>');
    assert.equal((await fetch(`${http}missing.txt`)).status, 404);
    assert.equal((await fetch(`${http}..%2f..%2fetc%2fpasswd`)).status, 404);
    const [a, b] = await Promise.all([open(url), open(url)]);
    const got = next(b);
    a.send('live');
    assert.deepEqual(await got, ['live', false]);
    a.close();
    b.close();
    run.child.kill('SIGTERM');
    await run.exited;
  });

  it('serves wss:// with --tls-cert and --tls-key', async () => {
    const { key, cert } = selfSignedCert();
    writeFileSync(join(dir, 'key.pem'), key);
    writeFileSync(join(dir, 'cert.pem'), cert);
    const { run, url } = await started([
      '--tls-cert',
      join(dir, 'cert.pem'),
      '--tls-key',
      join(dir, 'key.pem'),
    ]);
    assert.match(url, /^wss:/);
    const c = await open(url, { ca: cert });
    c.send('secret');
    assert.deepEqual(await next(c), ['secret', false]);
    c.close();
    run.child.kill('SIGTERM');
    await run.exited;
  });

  it('closes a message over --max-message-bytes with 1009', async () => {
    const { run, url } = await started(['--max-message-bytes', '1k']);
    const c = await open(url);
    c.send(Buffer.alloc(2048));
    const [code] = await waitFor<[number]>(c, 'close');
    assert.equal(code, 1009);
    run.child.kill('SIGTERM');
    await run.exited;
  });

  it('explains a port in use, a missing TLS file, a key without a certificate and a bad key, exit 1, no stack', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    writeFileSync(join(dir, 'garbage.pem'), 'not a key');
    const cases: Array<[string[], RegExp]> = [
      [['--port', String(port)], new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`)],
      [
        ['--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'nope.pem')],
        /cannot read --tls-cert .*: no such file/,
      ],
      [['--tls-key', join(dir, 'key.pem')], /--tls-cert and --tls-key go together/],
      [
        ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'garbage.pem')],
        /not a usable PEM certificate and key/,
      ],
      [['--static', join(dir, 'index.html')], /--static .*: not a directory/],
      [['--mode', 'shout'], /argument 'shout' is invalid/],
    ];
    for (const [args, message] of cases) {
      const run = ieum(['serve', ...args]);
      assert.equal(await run.exited, 1, run.output());
      assert.match(run.stderr(), message);
      assert.doesNotMatch(run.output(), /\n\s+at /);
    }
    busy.close();
  });
});

// The status line is drawn only on a terminal: tmux gives the server a real pty.
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
describe('ieum serve on a terminal', {
  timeout: 60_000,
  skip: hasTmux ? false : 'tmux is not installed',
}, () => {
  const socket = `ieum-serve-test-${process.pid}`;
  const tmux = (...args: string[]): string =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  after(() => spawnSync('tmux', ['-L', socket, 'kill-server']));

  it('shows a live status line with connections and message rates', async () => {
    const command = [...ieumCommand, 'serve', '--port', '0'].map((a) => `'${a}'`).join(' ');
    tmux('new-session', '-d', '-s', 'serve', '-x', '120', '-y', '10', '-c', root, command);
    let text = '';
    const screen = async (pattern: RegExp): Promise<RegExpMatchArray> => {
      const end = Date.now() + 20_000;
      for (;;) {
        text = tmux('capture-pane', '-p', '-t', 'serve');
        const m = pattern.exec(text);
        if (m) return m;
        if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const [, url] = await screen(/ on (ws:\/\/\S+?); /);
    const c = await open(url!);
    c.send('x');
    await next(c);
    await screen(/connections 1 \| in \d+ msg\/s [\d.]+ k?B\/s \| out \d+ msg\/s/);
    assert.doesNotMatch(text, /connected \(1 open\)/, 'no per-connection log lines on a terminal');
    c.close();
  });
});
