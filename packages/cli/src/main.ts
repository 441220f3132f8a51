import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerConformance } from './commands/conformance.js';
import { registerConnect } from './commands/connect.js';
import { registerRealtime } from './commands/realtime.js';
import { registerServe } from './commands/serve.js';
import { UserError } from './lib/user-error.js';

/** The `ieum` program with every command registered (not parsed yet). */
export function createProgram(): Command {
  const program = new Command('ieum')
    .description('ieum: a WebSocket toolkit for the terminal: connect, serve, bench, realtime')
    .showHelpAfterError('(add --help for usage and examples)')
    .exitOverride();
  registerConnect(program);
  registerServe(program);
  registerBench(program);
  registerRealtime(program);
  registerConformance(program);
  program.addHelpText(
    'after',
    `
Examples:
  $ ieum connect ws://localhost:8080
  $ ieum serve --port 8080 --mode broadcast
  $ ieum bench ws://localhost:8080 --connections 50 --duration 10s
  $ ieum realtime ws://localhost:8081 --channel room:lobby --token alice

Run \`ieum <command> --help\` for a command's options. Docs: docs/cli.md`,
  );
  return program;
}

/**
 * Runs the `ieum` command line with `argv` (without node and script). Sets `process.exitCode`;
 * a `UserError` (bad URL, refused connection, unreadable file) is printed as one line, other
 * errors with their stack (they are bugs).
 */
export async function main(argv: string[]): Promise<void> {
  const program = createProgram();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the usage error (or the help / version) already.
      process.exitCode = error.exitCode;
    } else if (error instanceof UserError) {
      console.error(`ieum: ${error.message}`);
      process.exitCode = error.exitCode;
    } else {
      console.error('ieum: unexpected error (please report it):', error);
      process.exitCode = 70;
    }
  }
}
