import { statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { type WebSocket, WebSocketServer } from '@ieum/websocket';
import { type Command, Option } from 'commander';
import sirv from 'sirv';
import { readFlagFile } from '../lib/client-options.js';
import { humanBytes, humanCount } from '../lib/format.js';
import { bytes, port } from '../lib/parsers.js';
import { UserError } from '../lib/user-error.js';

export type ServeMode = 'echo' | 'broadcast';

export interface ServeFlags {
  port: number;
  host: string;
  mode: ServeMode;
  static?: string;
  path?: string;
  deflate?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  maxMessageBytes: number;
  status?: boolean;
  quiet?: boolean;
}

const EXAMPLES = `
Modes: echo sends every message back to its sender; broadcast sends it to every other client.
With --static DIR, files from DIR are served over HTTP on the same port (index.html for /) and
WebSocket connections broadcast.

On a terminal a status line shows connections, messages/s and bytes/s (payload bytes); when
stdout is not a terminal, one line per connection and disconnection is printed instead.

Examples:
  $ ieum serve                              # echo on ws://127.0.0.1:8080
  $ ieum serve --mode broadcast --port 9000 --host 0.0.0.0
  $ ieum serve --static ./public            # http://127.0.0.1:8080 + broadcast WebSocket
  $ ieum serve --tls-cert cert.pem --tls-key key.pem --deflate`;

/** Registers `ieum serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run a development WebSocket server: echo, broadcast, or static files plus broadcast')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', port, 8080)
    .option('--host <host>', 'address to bind (0.0.0.0 for every interface)', '127.0.0.1')
    .addOption(
      new Option('-m, --mode <mode>', 'what to do with messages')
        .choices(['echo', 'broadcast'])
        .default('echo'),
    )
    .option('--static <dir>', 'serve the files in this directory over HTTP; WebSocket broadcasts')
    .option('--path <path>', 'accept WebSocket upgrades only on this path (default: any)')
    .option('--deflate', 'accept permessage-deflate compression (RFC 7692)')
    .option('--tls-cert <file>', 'serve wss:// (and https://) with this PEM certificate')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .addOption(
      new Option('--max-message-bytes <bytes>', 'largest message accepted (e.g. 1m); larger ones close 1009')
        .argParser(bytes)
        .default(16 * 1024 * 1024, '16m'),
    )
    .option('--no-status', 'no live status line on a terminal')
    .option('-q, --quiet', 'print only the listening line')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ServeFlags) => {
      const running = await startServe(flags.static !== undefined ? { ...flags, mode: 'broadcast' } : flags);
      const stop = (): void => {
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

/** A running `ieum serve`. */
export interface RunningServe {
  url: string;
  close(): Promise<void>;
}

/** Starts the server described by `flags`; resolves once it listens. Throws `UserError`s. */
export async function startServe(flags: ServeFlags): Promise<RunningServe> {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new UserError('--tls-cert and --tls-key go together: pass both, or neither');
  }
  let files: ReturnType<typeof sirv> | undefined;
  if (flags.static !== undefined) {
    const dir = resolve(flags.static);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {}
    if (!isDir) throw new UserError(`--static ${flags.static}: not a directory`);
    files = sirv(dir, { dev: true, dotfiles: false });
  }
  const onRequest: http.RequestListener = (req, res) => {
    if (files) {
      files(req, res, () => {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      });
      return;
    }
    res
      .writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
      .end(
        'This is an ieum serve WebSocket endpoint: connect with a WebSocket client (e.g. ieum connect).\n',
      );
  };
  let server: http.Server | https.Server;
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    const cert = readFlagFile('--tls-cert', flags.tlsCert);
    const key = readFlagFile('--tls-key', flags.tlsKey);
    try {
      server = https.createServer({ cert, key }, onRequest);
    } catch (error) {
      throw new UserError(
        `--tls-cert/--tls-key: not a usable PEM certificate and key (${(error as Error).message})`,
      );
    }
  } else server = http.createServer(onRequest);

  const wss = new WebSocketServer({
    server,
    ...(flags.path !== undefined ? { path: flags.path } : {}),
    ...(flags.deflate ? { perMessageDeflate: true } : {}),
    limits: { maxMessageBytes: flags.maxMessageBytes },
  });
  // The HTTP server's errors (e.g. EADDRINUSE) are re-emitted here; the listen below reports them.
  wss.on('error', () => {});
  const stats = new Stats();
  const tty = process.stdout.isTTY === true && flags.status !== false && flags.quiet !== true;
  const log = (line: string): void => {
    if (!tty && !flags.quiet) console.log(line);
  };
  wss.on('connection', (ws: WebSocket, req) => {
    const who = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    log(`+ ${who} connected (${wss.clients.size} open)`);
    ws.on('error', () => {
      // The close event reports the code; protocol errors are the peer's.
    });
    ws.on('message', (data, isBinary) => {
      const payload = data as Buffer;
      stats.in(payload.length);
      if (flags.mode === 'echo') {
        ws.send(payload, { binary: isBinary });
        stats.out(1, payload.length);
      } else stats.out(wss.broadcast(payload, { binary: isBinary, except: ws }), payload.length);
    });
    ws.on('close', (code) => log(`- ${who} closed ${code} (${wss.clients.size} open)`));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      fail(
        new UserError(
          error.code === 'EADDRINUSE'
            ? `port ${flags.port} on ${flags.host} is in use: pick another --port (0 for any free one)`
            : `cannot listen on ${flags.host}:${flags.port}: ${error.message}`,
        ),
      );
    });
    server.listen(flags.port, flags.host, ok);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const secure = flags.tlsCert !== undefined;
  const url = `${secure ? 'wss' : 'ws'}://${host}:${address.port}${flags.path ?? '/'}`;
  const what = files
    ? `files from ${flags.static} on ${secure ? 'https' : 'http'}://${host}:${address.port}/ and broadcast`
    : flags.mode;
  console.log(`ieum serve: ${what} on ${url}${flags.deflate ? ' (permessage-deflate)' : ''}; Ctrl+C to stop`);

  const timer = tty
    ? setInterval(() => process.stdout.write(`\r\x1b[K${stats.line(wss.clients.size)}`), 1000)
    : undefined;
  timer?.unref();
  return {
    url,
    close: () =>
      new Promise<void>((done) => {
        clearInterval(timer);
        if (tty) process.stdout.write('\n');
        for (const ws of wss.clients) ws.close(1001, 'server shutting down');
        wss.close(() => done());
        server.close();
        server.closeAllConnections?.();
        setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 1000).unref();
      }),
  };
}

/** Message and payload byte rates over the last status interval. */
class Stats {
  private messagesIn = 0;
  private messagesOut = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private since = performance.now();

  in(length: number): void {
    this.messagesIn++;
    this.bytesIn += length;
  }
  out(count: number, length: number): void {
    this.messagesOut += count;
    this.bytesOut += count * length;
  }
  /** The status line, and a new interval. */
  line(connections: number): string {
    const s = (performance.now() - this.since) / 1000 || 1;
    const text =
      `connections ${humanCount(connections)} | in ${humanCount(this.messagesIn / s)} msg/s ${humanBytes(this.bytesIn / s)}/s` +
      ` | out ${humanCount(this.messagesOut / s)} msg/s ${humanBytes(this.bytesOut / s)}/s`;
    this.messagesIn = this.messagesOut = this.bytesIn = this.bytesOut = 0;
    this.since = performance.now();
    return text;
  }
}
