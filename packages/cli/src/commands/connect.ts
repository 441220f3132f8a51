import type { IncomingMessage } from 'node:http';
import readline from 'node:readline';
import { isValidCloseCode, WebSocket } from '@ieum/websocket';
import { type Command, Option } from 'commander';
import { type ClientFlags, clientOptions, parseWebSocketUrl } from '../lib/client-options.js';
import { PipeOutput, TerminalOutput } from '../lib/connect-output.js';
import { type BinaryEncoding, decodeBinary, encodeBinary } from '../lib/format.js';
import { bytes, collect, duration } from '../lib/parsers.js';
import { describeConnectError } from '../lib/user-error.js';

/** Exit statuses of `ieum connect`, documented in docs/cli.md. */
export const ConnectExit = {
  /** Closed with 1000/1001, or by you. */
  OK: 0,
  /** Could not connect: refused, TLS, DNS, or the server did not switch to WebSocket. */
  CONNECT_FAILED: 1,
  /** The server (or the network) ended the connection with another code (1002-1015, 3000-4999). */
  CLOSED_WITH_ERROR: 3,
} as const;

export interface ConnectFlags extends ClientFlags {
  subprotocol?: string[];
  verbose?: boolean;
  jsonl?: boolean;
  pretty?: boolean;
  timestamps?: boolean;
  binary?: BinaryEncoding;
  show: BinaryEncoding;
  wait: number;
  pipe?: boolean;
}

const HELP = `
Interactive (stdin is a terminal): type a line to send it as a text message.
  /ping [text]            send a ping; the pong shows the round-trip time
  /close [code [reason]]  close the connection (default 1000)
  /hex 01 ff ...          send a binary message given in hex
  /base64 AAH/            send a binary message given in base64
  //text                  send a text message that starts with "/"
  /help                   this list
Up/down arrows walk the history; Ctrl+D or Ctrl+C closes with 1000.

Pipe mode (stdin is not a terminal, or --pipe): each stdin line is one message; each message
received is one stdout line (binary in --show encoding); diagnostics go to stderr. At the end
of stdin the connection closes after --wait. --jsonl prints one JSON object per event instead.

Exit status: 0 closed by you, or by the server with 1000 or 1001; 1 could not connect; 3 the
server or the network ended it otherwise (e.g. 1002, 1006, 1011, 4xxx).

Examples:
  $ ieum connect ws://localhost:8080
  $ ieum connect wss://example.com/socket -H 'Authorization: Bearer abc' -s chat.v1 --deflate
  $ ieum connect wss://localhost:8443 --ca ./dev-ca.pem -v
  $ echo '{"type":"hello"}' | ieum connect ws://localhost:8080 --wait 2s
  $ printf '01ff\\n' | ieum connect ws://localhost:8080 --binary hex --jsonl`;

/** Registers `ieum connect URL`. */
export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description('open a WebSocket: type messages interactively, or pipe lines through it')
    .argument('<url>', 'ws:// or wss:// URL (host:port means ws://host:port)')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('-s, --subprotocol <name>', 'offer a subprotocol (repeatable, in preference order)', collect)
    .option('--origin <origin>', 'send this Origin header (as a browser would)')
    .option('--deflate', 'offer permessage-deflate compression (RFC 7692)')
    .option('--insecure', 'wss: do not verify the server certificate')
    .option('--ca <file>', 'wss: trust this CA certificate (PEM) in addition to the system ones')
    .addOption(
      new Option('-b, --binary <encoding>', 'send input as binary messages, typed in this encoding').choices([
        'hex',
        'base64',
      ]),
    )
    .addOption(
      new Option('--show <encoding>', 'how received binary messages are printed')
        .choices(['hex', 'base64'])
        .default('hex'),
    )
    .option('-P, --pretty', 'pretty-print JSON messages')
    .option('-t, --timestamps', 'prefix each message with the time it was received')
    .option('-v, --verbose', "show the server's handshake response, pings and pongs")
    .option('--jsonl', 'pipe mode output: one JSON object per event (open, message, close)')
    .option('--pipe', 'pipe mode even when stdin is a terminal')
    .addOption(
      new Option('--wait <duration>', 'pipe mode: keep receiving this long after stdin ends')
        .argParser(duration)
        .default(0, '0s'),
    )
    .option('--max-message-bytes <bytes>', 'largest message accepted (e.g. 64m)', bytes)
    .addOption(
      new Option('--handshake-timeout <duration>', 'give up if the server has not answered by then')
        .argParser(duration)
        .default(10_000, '10s'),
    )
    .addHelpText('after', HELP)
    .action(async (url: string, flags: ConnectFlags) => {
      process.exitCode = await runConnect(url, flags);
    });
}

/** Connects and runs the interactive or pipe session; resolves with the exit status. */
export async function runConnect(urlText: string, flags: ConnectFlags): Promise<number> {
  const url = parseWebSocketUrl(urlText);
  const options = clientOptions(flags);
  const interactive = process.stdin.isTTY === true && flags.pipe !== true && flags.jsonl !== true;
  const out = interactive ? new TerminalOutput(flags) : new PipeOutput(flags);
  const ws = new WebSocket(url.href, flags.subprotocol ?? [], options);
  let failure: string | undefined;
  let opened = false;
  let closedByUs = false;
  let closeCode = 0;
  const pings: number[] = [];

  ws.on('upgrade', (res: IncomingMessage) => {
    if (flags.verbose) out.handshake(res);
  });
  ws.on('unexpected-response', (_req, res: IncomingMessage) => {
    failure = `${url.href} answered HTTP ${res.statusCode} ${res.statusMessage ?? ''} instead of switching to WebSocket`;
    if (flags.verbose) out.handshake(res);
    res.resume();
    ws.terminate();
  });
  ws.on('error', (error) => {
    if (!opened) failure ??= describeConnectError(error, url.href);
    else out.note(`error: ${error.message}`);
  });
  ws.on('ping', (data) => {
    if (flags.verbose) out.note(`ping ${data.length ? encodeBinary(data, flags.show) : ''}`.trim());
  });
  ws.on('pong', (data) => {
    const sent = pings.shift();
    const rtt = sent !== undefined ? ` ${(performance.now() - sent).toFixed(1)} ms` : '';
    if (flags.verbose || interactive) out.note(`pong${rtt}${data.length ? ` ${data.toString()}` : ''}`);
  });
  ws.on('message', (data, isBinary) => out.message(data as Buffer, isBinary));

  const send = (line: string): void => {
    if (ws.readyState !== WebSocket.OPEN)
      throw new Error(
        ws.readyState === WebSocket.CONNECTING ? 'not connected yet' : 'the connection is closing',
      );
    if (flags.binary) ws.send(decodeBinary(line, flags.binary));
    else ws.send(line);
  };
  const close = (code = 1000, reason = ''): void => {
    closedByUs = true;
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
  };

  const input = readline.createInterface({
    input: process.stdin,
    ...(interactive ? { output: process.stdout, terminal: true, historySize: 1000, prompt: '> ' } : {}),
  });
  if (interactive) out.attach(input);
  // Pipe mode: lines read before the handshake completes are sent once it has.
  const early: string[] = [];
  let inputEnded = false;
  input.on('line', (line) => {
    if (!interactive) {
      if (opened) trySend(line);
      else early.push(line);
      return;
    }
    try {
      command(line);
    } catch (error) {
      out.note(`not done: ${(error as Error).message}`);
    }
    out.prompt();
  });
  input.on('close', () => {
    inputEnded = true;
    if (interactive) close();
    else if (opened) setTimeout(() => close(), flags.wait).unref();
  });
  input.on('SIGINT', () => close());
  process.on('SIGINT', () => (closedByUs ? ws.terminate() : close()));

  const trySend = (line: string): void => {
    try {
      send(line);
    } catch (error) {
      out.note(`not sent: ${(error as Error).message}`);
    }
  };
  const command = (line: string): void => {
    if (!line.startsWith('/') || line.startsWith('//')) {
      if (line !== '') trySend(line.startsWith('//') ? line.slice(1) : line);
      return;
    }
    const [name = '', ...rest] = line.slice(1).split(' ');
    const arg = rest.join(' ');
    if (name === 'ping') {
      pings.push(performance.now());
      ws.ping(arg);
    } else if (name === 'close') {
      const code = rest[0] === undefined || rest[0] === '' ? 1000 : Number(rest[0]);
      if (!isValidCloseCode(code)) out.note('close code must be 1000 or 3000-4999, e.g. /close 1000 bye');
      else if (Buffer.byteLength(rest.slice(1).join(' ')) > 123) out.note('close reason: at most 123 bytes');
      else close(code, rest.slice(1).join(' '));
    } else if (name === 'hex' || name === 'base64') {
      try {
        ws.send(decodeBinary(arg, name));
      } catch (error) {
        out.note(`not sent: ${(error as Error).message}`);
      }
    } else if (name === 'help' || name === '?') out.note(HELP.split('\n\nPipe mode')[0]!.trim());
    else out.note(`unknown command /${name}: try /help (start with // to send a line beginning with /)`);
  };

  await new Promise<void>((resolve) => {
    ws.on('open', () => {
      opened = true;
      out.open(ws.protocol, ws.extensions);
      for (const line of early.splice(0)) trySend(line);
      if (inputEnded) setTimeout(() => close(), flags.wait).unref();
      if (interactive) out.prompt();
    });
    ws.on('close', (code, reason) => {
      input.close();
      out.detach();
      if (!opened) out.failed(failure ?? `cannot connect to ${url.href}`);
      else out.closed(code, reason.toString(), closedByUs);
      closeCode = code;
      resolve();
    });
  });
  process.stdin.unref?.();
  if (!opened) return ConnectExit.CONNECT_FAILED;
  return exitStatus(closeCode, closedByUs);
}

function exitStatus(code: number, closedByUs: boolean): number {
  if (closedByUs || code === 1000 || code === 1001) return ConnectExit.OK;
  return ConnectExit.CLOSED_WITH_ERROR;
}
