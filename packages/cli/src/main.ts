import { Command, InvalidArgumentError } from 'commander';
import { runEchoClient } from './echo-client.js';
import { startEchoServer } from './echo-server.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

function bytes(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('must be a positive number of bytes');
  return n;
}

/** Runs the `ieum` command line with `argv` (without node and script). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('ieum')
    .description('ieum: real-time WebSocket toolkit')
    .showHelpAfterError()
    .exitOverride((error) => {
      if (error.exitCode !== 0) process.exitCode = error.exitCode;
      throw error;
    });

  program
    .command('echo')
    .description('run a WebSocket server that echoes every message back (Autobahn fuzzingclient target)')
    .requiredOption('-p, --port <port>', 'port to listen on', port)
    .option('-H, --host <host>', 'address to bind', '127.0.0.1')
    .option('--max-message-bytes <bytes>', 'largest message accepted', bytes, 64 * 1024 * 1024)
    .option('--deflate', 'accept permessage-deflate (RFC 7692) offers')
    .action(async (opts: { port: number; host: string; maxMessageBytes: number; deflate?: boolean }) => {
      const wss = await startEchoServer({
        port: opts.port,
        host: opts.host,
        deflate: opts.deflate === true,
        limits: { maxMessageBytes: opts.maxMessageBytes, maxFrameBytes: opts.maxMessageBytes },
        log: (line) => console.log(line),
      });
      const stop = (): void => {
        wss.close();
        for (const c of wss.clients) c.terminate();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('echo-client')
    .description("echo every message of an Autobahn-style fuzzing server's cases (client conformance)")
    .argument('<url>', 'base URL of the fuzzing server, e.g. ws://127.0.0.1:9001')
    .requiredOption('-a, --agent <name>', 'agent name to report')
    .option('--deflate', 'offer permessage-deflate (RFC 7692)')
    .action(async (url: string, opts: { agent: string; deflate?: boolean }) => {
      try {
        new URL(url);
      } catch {
        throw new InvalidArgumentError(`not a URL: ${url}`);
      }
      const n = await runEchoClient({
        url,
        agent: opts.agent,
        deflate: opts.deflate === true,
        log: (line) => console.log(line),
      });
      console.log(`ran ${n} cases; reports updated for agent ${opts.agent}`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('commander.')) return;
    throw error;
  }
}
