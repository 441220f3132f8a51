// Shared by the benchmark servers (run by Node or Bun): command-line flags, the "listening" line
// the runner waits for, and the runner's commands on stdin ("gc": collect garbage, then answer
// "gc-done"). A server exits when its stdin closes, so none outlives the runner.

/** The value of `--name value` on the command line, or undefined. */
export function flag(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

/** permessage-deflate for this run: undefined (off), 'echo' (context takeover) or 'fanout' (server_no_context_takeover). */
export function deflateMode() {
  const mode = flag('deflate');
  if (mode !== undefined && mode !== 'echo' && mode !== 'fanout')
    throw new Error(`--deflate echo|fanout, not ${mode}`);
  return mode;
}

function collectGarbage() {
  if (globalThis.Bun) {
    globalThis.Bun.gc(true);
  } else if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

/** Prints `listening {json}` once the server accepts connections, and starts reading commands. */
export function announce(info) {
  process.stdout.write(`listening ${JSON.stringify(info)}\n`);
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const command = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (command === 'gc') {
        collectGarbage();
        // Let finalizers and freed sockets settle before the runner reads RSS.
        setTimeout(() => {
          collectGarbage();
          process.stdout.write('gc-done\n');
        }, 100);
      }
      nl = buffered.indexOf('\n');
    }
  });
  process.stdin.on('end', () => process.exit(0));
}
