import { type Command, Option } from 'commander';
import { runEchoClient } from '../echo-client.js';
import { startEchoServer } from '../echo-server.js';
import { parseWebSocketUrl } from '../lib/client-options.js';
import { bytes, port } from '../lib/parsers.js';

/** Registers `ieum echo` and `ieum echo-client`, the Autobahn conformance targets. */
export function registerConformance(program: Command): void {
  program
    .command('echo')
    .description('run a WebSocket server that echoes every message back (Autobahn fuzzingclient target)')
    .requiredOption('-p, --port <port>', 'port to listen on', port)
    .option('-H, --host <host>', 'address to bind', '127.0.0.1')
    .addOption(
      new Option('--max-message-bytes <bytes>', 'largest message accepted (e.g. 64m)')
        .argParser(bytes)
        .default(64 * 1024 * 1024, '64m'),
    )
    .option('--deflate', 'accept permessage-deflate (RFC 7692) offers')
    .addHelpText('after', '\nExamples:\n  $ ieum echo --port 9001\n  $ ieum echo --port 9001 --deflate')
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
    .addHelpText('after', '\nExamples:\n  $ ieum echo-client ws://127.0.0.1:9001 --agent ieum')
    .action(async (url: string, opts: { agent: string; deflate?: boolean }) => {
      const n = await runEchoClient({
        url: parseWebSocketUrl(url).href,
        agent: opts.agent,
        deflate: opts.deflate === true,
        log: (line) => console.log(line),
      });
      console.log(`ran ${n} cases; reports updated for agent ${opts.agent}`);
    });
}
