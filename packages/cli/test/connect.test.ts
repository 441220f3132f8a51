// `ieum connect` end to end: the CLI as a child process against the independent ws server.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer as WsServer } from 'ws';
import { selfSignedCert, waitFor } from '../../websocket/test/helpers/net.js';
import { ieum, ieumCommand, root } from './run-ieum.js';

const NO_STACK = /\n\s+at /;

async function wsServer(options: ConstructorParameters<typeof WsServer>[0] = {}) {
  const server = new WsServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(server, 'listening');
  const requests: IncomingMessage[] = [];
  server.on('connection', (_ws, req) => requests.push(req));
  return { server, requests, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function echo(server: WsServer): void {
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
}

describe('ieum connect, pipe mode', { timeout: 60_000 }, () => {
  let s: Awaited<ReturnType<typeof wsServer>>;
  before(async () => {
    s = await wsServer({ handleProtocols: (p) => (p.has('chat.v2') ? 'chat.v2' : false) });
    echo(s.server);
  });
  after(() => s.server.close());

  it('sends each stdin line as a message, prints each reply on stdout, closes 1000 and exits 0', async () => {
    const run = ieum(['connect', s.url], { input: 'hello\nhéllo wörld\n' });
    assert.equal(await run.exited, 0, run.output());
    assert.equal(run.stdout(), 'hello\nhéllo wörld\n');
    assert.match(run.stderr(), /closed 1000 \(normal\)/);
  });

  it('--pretty pretty-prints JSON messages', async () => {
    const run = ieum(['connect', s.url, '--pretty'], { input: '{"a":1,"b":[true]}\n' });
    assert.equal(await run.exited, 0, run.output());
    assert.equal(run.stdout(), '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}\n');
  });

  it('--binary hex sends binary messages; --jsonl reports open, messages and close as JSON lines', async () => {
    const run = ieum(['connect', s.url, '--binary', 'hex', '--jsonl', '--show', 'base64'], {
      input: '00 01 fe ff\n',
    });
    assert.equal(await run.exited, 0, run.output());
    const events = run
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => e.type),
      ['open', 'message', 'close'],
    );
    assert.deepEqual(
      { ...events[1], time: undefined },
      { time: undefined, type: 'message', binary: true, encoding: 'base64', data: 'AAH+/w==' },
    );
    assert.equal(events[2]!.code, 1000);
  });

  it('sends -H headers, -s subprotocols and --origin; -v shows the handshake response', async () => {
    const before = s.requests.length;
    const run = ieum(
      [
        'connect',
        s.url,
        '-H',
        'Authorization: Bearer t0k',
        '-H',
        'X-Trace: 42',
        '-s',
        'chat.v1',
        '-s',
        'chat.v2',
      ].concat(['--origin', 'https://app.example', '-v']),
      { input: 'x\n' },
    );
    assert.equal(await run.exited, 0, run.output());
    const req = s.requests[before]!;
    assert.equal(req.headers.authorization, 'Bearer t0k');
    assert.equal(req.headers['x-trace'], '42');
    assert.equal(req.headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
    assert.equal(req.headers.origin, 'https://app.example');
    assert.match(run.stderr(), /HTTP\/1\.1 101 Switching Protocols/);
    assert.match(run.stderr(), /Sec-WebSocket-Protocol: chat\.v2/i);
  });

  it('--deflate negotiates permessage-deflate (seen in the -v handshake response)', async () => {
    const d = await wsServer({ perMessageDeflate: { threshold: 0 } });
    echo(d.server);
    const run = ieum(['connect', d.url, '--deflate', '-v'], { input: 'squeeze me\n' });
    assert.equal(await run.exited, 0, run.output());
    assert.match(run.stderr(), /Sec-WebSocket-Extensions: permessage-deflate/i);
    assert.equal(run.stdout(), 'squeeze me\n');
    d.server.close();
  });

  it('--wait keeps receiving after stdin ends', async () => {
    const late = await wsServer();
    late.server.on('connection', (ws) =>
      ws.on('message', () => setTimeout(() => ws.send('late reply'), 300)),
    );
    const run = ieum(['connect', late.url, '--wait', '3s'], { input: 'ping\n' });
    await run.waitFor(/late reply/);
    assert.equal(await run.exited, 0, run.output());
    late.server.close();
  });
});

describe('ieum connect, exit status and errors', { timeout: 60_000 }, () => {
  it('exits 3 and prints the code and reason when the server closes with an error code', async () => {
    const s = await wsServer();
    s.server.on('connection', (ws) => ws.close(4001, 'token expired'));
    const run = ieum(['connect', s.url], { input: 'pipe' });
    assert.equal(await run.exited, 3, run.output());
    assert.match(run.stderr(), /closed 4001 "token expired" by the server/);
    s.server.close();
  });

  it('exits 1 with one line when the connection is refused', async () => {
    const s = await wsServer();
    const url = s.url;
    await new Promise<void>((r) => s.server.close(() => r()));
    const run = ieum(['connect', url], { input: '' });
    assert.equal(await run.exited, 1);
    assert.match(run.stderr(), /^ieum: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: connection refused/);
    assert.doesNotMatch(run.output(), NO_STACK);
  });

  it('exits 1 and shows the status when the server answers HTTP instead of upgrading', async () => {
    const s = await wsServer({ verifyClient: (_info, cb) => cb(false, 403, 'Forbidden') });
    const run = ieum(['connect', s.url], { input: '' });
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.stderr(), /answered HTTP 403 Forbidden instead of switching to WebSocket/);
    s.server.close();
  });

  for (const [args, message] of [
    [['connect', 'ftp://example.com'], /not a WebSocket URL: ftp:\/\/example\.com/],
    [['connect', 'ws://exa mple'], /not a URL/],
    [['connect', 'ws://127.0.0.1:9', '-H', 'no colon here'], /bad header "no colon here"/],
    [
      ['connect', 'wss://127.0.0.1:9', '--ca', '/nonexistent/ca.pem'],
      /cannot read --ca \/nonexistent\/ca\.pem: no such file/,
    ],
    [['connect', 'ws://127.0.0.1:9', '--binary', 'octal'], /argument 'octal' is invalid/],
    [['connect'], /missing required argument 'url'/],
  ] as const) {
    it(`explains ${JSON.stringify(args.slice(1).join(' '))} in one line, exit 1, no stack`, async () => {
      const run = ieum([...args], { input: '' });
      assert.equal(await run.exited, 1, run.output());
      assert.match(run.stderr(), message);
      assert.doesNotMatch(run.output(), NO_STACK);
    });
  }
});

describe('ieum connect over wss', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ieum-cli-tls-'));
  const { key, cert } = selfSignedCert();
  writeFileSync(join(dir, 'cert.pem'), cert);
  const tls = https.createServer({ key, cert });
  const wss = new WsServer({ server: tls });
  echo(wss);
  let url = '';
  before(async () => {
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    url = `wss://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  });
  after(() => {
    wss.close();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an unknown certificate and says how to trust it', async () => {
    const run = ieum(['connect', url], { input: 'x\n' });
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.stderr(), /self-signed.*--ca FILE, or --insecure/);
  });

  it('trusts the certificate given with --ca', async () => {
    const run = ieum(['connect', url, '--ca', join(dir, 'cert.pem')], { input: 'secure\n' });
    assert.equal(await run.exited, 0, run.output());
    assert.equal(run.stdout(), 'secure\n');
  });

  it('connects without verification with --insecure', async () => {
    const run = ieum(['connect', url, '--insecure'], { input: 'anyway\n' });
    assert.equal(await run.exited, 0, run.output());
    assert.equal(run.stdout(), 'anyway\n');
  });
});

// The interactive mode needs a terminal: tmux gives the CLI a real pty, and its screen is read back.
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux && process.env.CI === 'true') throw new Error('tmux is required in CI (installed by .ci/run)');
describe('ieum connect, interactive in a terminal', {
  timeout: 60_000,
  skip: hasTmux ? false : 'tmux is not installed',
}, () => {
  const socket = `ieum-cli-test-${process.pid}`;
  const tmux = (...args: string[]): string =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'cli');
  async function untilScreen(pattern: RegExp, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const text = screen();
      if (pattern.test(text)) return text;
      if (Date.now() > end) throw new Error(`timed out waiting for ${pattern} on the terminal:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  after(() => spawnSync('tmux', ['-L', socket, 'kill-server']));

  it('sends typed lines, prints replies, answers /ping and /close, and reports the close', async () => {
    const s = await wsServer();
    echo(s.server);
    s.server.on('connection', (ws) => ws.send('{"welcome":true}'));
    const command = [...ieumCommand, 'connect', s.url, '--pretty'].map((a) => `'${a}'`).join(' ');
    tmux(
      'new-session',
      '-d',
      '-s',
      'cli',
      '-x',
      '120',
      '-y',
      '40',
      '-c',
      root,
      `${command}; echo "EXIT=$?"; sleep 60`,
    );
    await untilScreen(/connected; \/help for commands/);
    await untilScreen(/< \{\n\s+"welcome": true\n\}/);
    tmux('send-keys', '-t', 'cli', 'hello there', 'Enter');
    await untilScreen(/< hello there/);
    tmux('send-keys', '-t', 'cli', '/hex 68 69', 'Enter');
    await untilScreen(/< \[binary 2 B\] 68 69/);
    tmux('send-keys', '-t', 'cli', '/ping', 'Enter');
    await untilScreen(/\* pong \d+\.\d ms/);
    tmux('send-keys', '-t', 'cli', '/close 4000 done here', 'Enter');
    const text = await untilScreen(/EXIT=\d+/);
    assert.match(text, /closed 4000 "done here"/);
    assert.match(text, /EXIT=0/);
    s.server.close();
  });
});
