import type { IncomingMessage } from 'node:http';
import readline from 'node:readline';
import { type BinaryEncoding, clock, describeClose, encodeBinary, humanBytes, prettyJson } from './format.js';

/** What the two outputs need of `ieum connect`'s flags. */
export interface OutputFlags {
  jsonl?: boolean;
  pretty?: boolean;
  timestamps?: boolean;
  show: BinaryEncoding;
}

/** Where a session's events are written: the terminal (with a prompt) or stdout for scripts. */
export interface Output {
  handshake(res: IncomingMessage): void;
  open(protocol: string, extensions: string): void;
  message(data: Buffer, isBinary: boolean): void;
  note(text: string): void;
  closed(code: number, reason: string, byUs: boolean): void;
  failed(message: string): void;
  attach(rl: readline.Interface): void;
  detach(): void;
  prompt(): void;
}

function handshakeLines(res: IncomingMessage): string[] {
  const lines = [`HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd()];
  for (let i = 0; i < res.rawHeaders.length; i += 2)
    lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  return lines;
}

/** Interactive: prints above the prompt, keeping what the user was typing. */
export class TerminalOutput implements Output {
  private rl: readline.Interface | undefined;
  constructor(private readonly flags: OutputFlags) {}
  attach(rl: readline.Interface): void {
    this.rl = rl;
  }
  detach(): void {
    this.rl = undefined;
  }
  prompt(): void {
    this.rl?.prompt(true);
  }
  private print(text: string): void {
    // Clear the half-typed line, print above it, then redraw the prompt and what was typed.
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    process.stdout.write(`${text}\n`);
    this.prompt();
  }
  private stamp(): string {
    return this.flags.timestamps ? `${clock()} ` : '';
  }
  handshake(res: IncomingMessage): void {
    this.print(handshakeLines(res).join('\n'));
  }
  open(protocol: string, extensions: string): void {
    const details = [protocol && `subprotocol ${protocol}`, extensions && `extensions ${extensions}`].filter(
      Boolean,
    );
    this.print(
      `connected${details.length ? ` (${details.join('; ')})` : ''}; /help for commands, Ctrl+D to close`,
    );
  }
  message(data: Buffer, isBinary: boolean): void {
    const body = isBinary
      ? `[binary ${humanBytes(data.length)}] ${encodeBinary(data, this.flags.show)}`
      : this.flags.pretty
        ? prettyJson(data.toString())
        : data.toString();
    this.print(`${this.stamp()}< ${body}`);
  }
  note(text: string): void {
    this.print(`${this.stamp()}* ${text}`);
  }
  closed(code: number, reason: string, byUs: boolean): void {
    this.print(`closed ${describeClose(code, reason)}${byUs ? '' : ' by the server'}`);
  }
  failed(message: string): void {
    process.stderr.write(`ieum: ${message}\n`);
  }
}

/** Scripts: messages on stdout (lines or JSON lines), diagnostics on stderr. */
export class PipeOutput implements Output {
  constructor(private readonly flags: OutputFlags) {}
  attach(): void {}
  detach(): void {}
  prompt(): void {}
  private event(record: Record<string, unknown>): void {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
  private diagnostic(text: string): void {
    process.stderr.write(`${text}\n`);
  }
  handshake(res: IncomingMessage): void {
    if (this.flags.jsonl) {
      this.event({ type: 'handshake', status: res.statusCode, headers: res.headers });
    } else this.diagnostic(handshakeLines(res).join('\n'));
  }
  open(protocol: string, extensions: string): void {
    if (this.flags.jsonl) this.event({ type: 'open', protocol, extensions });
  }
  message(data: Buffer, isBinary: boolean): void {
    if (this.flags.jsonl) {
      this.event(
        isBinary
          ? { type: 'message', binary: true, encoding: this.flags.show, data: data.toString(this.flags.show) }
          : { type: 'message', binary: false, data: data.toString() },
      );
      return;
    }
    const text = isBinary
      ? data.toString(this.flags.show)
      : this.flags.pretty
        ? prettyJson(data.toString())
        : data.toString();
    process.stdout.write(`${this.flags.timestamps ? `${clock()} ` : ''}${text}\n`);
  }
  note(text: string): void {
    if (this.flags.jsonl) this.event({ type: 'note', text });
    else this.diagnostic(text);
  }
  closed(code: number, reason: string, byUs: boolean): void {
    if (this.flags.jsonl) this.event({ type: 'close', code, reason, by: byUs ? 'client' : 'server' });
    else this.diagnostic(`closed ${describeClose(code, reason)}${byUs ? '' : ' by the server'}`);
  }
  failed(message: string): void {
    if (this.flags.jsonl) this.event({ type: 'error', message });
    process.stderr.write(`ieum: ${message}\n`);
  }
}
