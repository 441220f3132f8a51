import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
import { type ClientFlags, clientOptions, parseWebSocketUrl } from '../lib/client-options.js';
import { humanBytes, humanCount } from '../lib/format.js';
import { type LoadCounters, LoadGenerator, type LoadOptions } from '../lib/load-generator.js';
import { type Load, LoadPool } from '../lib/load-pool.js';
import { bytes, collect, duration, positiveInt } from '../lib/parsers.js';
import { UserError } from '../lib/user-error.js';

export interface BenchFlags extends ClientFlags {
  connections: number;
  inFlight: number;
  rate?: number;
  size: number;
  payload: 'binary' | 'text';
  duration: number;
  rampUp: number;
  subprotocol?: string[];
  json?: boolean;
  progress?: boolean;
  workers: number;
}

/** Default threads: half the cores (the other half for the server under test), 1 to 4. */
const DEFAULT_WORKERS = Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));

const EXAMPLES = `
Every message must come back: point it at an echo endpoint of your server (or \`ieum serve\`).
Latency is the round trip of each message. With --in-flight (closed loop) each connection sends
its next message when a reply comes back; with --rate (open loop) messages are sent on schedule
whatever the server does, so a server that falls behind shows its queueing in the latency.
Percentiles come from an HDR-style histogram (within 1.6 %). Exit status: 0 ok, 1 could not connect, 3 errors during the run.

Examples:
  $ ieum bench ws://localhost:8080                          # 10 connections, 1 in flight, 10 s
  $ ieum bench ws://localhost:8080 -c 200 --in-flight 4 --size 1k --duration 30s
  $ ieum bench ws://localhost:8080 -c 100 --rate 20000 --ramp-up 5s --payload text
  $ ieum bench wss://localhost:8443 --ca dev-ca.pem --deflate --json > result.json`;

/** Registers `ieum bench URL`. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('load-test an echo WebSocket endpoint: throughput and latency percentiles')
    .argument('<url>', 'ws:// or wss:// URL of an endpoint that echoes messages back')
    .option('-c, --connections <n>', 'connections to open', positiveInt, 10)
    .option('-i, --in-flight <n>', 'messages outstanding per connection (closed loop)', positiveInt, 1)
    .option(
      '-r, --rate <msg/s>',
      'send this many messages per second in total instead (open loop)',
      positiveInt,
    )
    .option('--size <bytes>', 'payload bytes per message (e.g. 64, 4k)', bytes, 64)
    .addOption(new Option('--payload <kind>', 'message type').choices(['binary', 'text']).default('binary'))
    .addOption(
      new Option('-d, --duration <duration>', 'how long to measure (e.g. 10s, 1m)')
        .argParser(duration)
        .default(10_000, '10s'),
    )
    .addOption(
      new Option('--ramp-up <duration>', 'open the connections gradually over this time first')
        .argParser(duration)
        .default(0, '0s'),
    )
    .option('--deflate', 'offer permessage-deflate compression (RFC 7692)')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('-s, --subprotocol <name>', 'offer a subprotocol (repeatable)', collect)
    .option('--origin <origin>', 'send this Origin header')
    .option('--insecure', 'wss: do not verify the server certificate')
    .option('--ca <file>', 'wss: trust this CA certificate (PEM)')
    .addOption(
      new Option('-w, --workers <n>', 'threads generating load')
        .argParser(positiveInt)
        .default(DEFAULT_WORKERS, `half the cores, 1 to 4: here ${DEFAULT_WORKERS}`),
    )
    .option('--json', 'print the result as one JSON object on stdout')
    .option('--no-progress', 'no progress line on stderr')
    .addHelpText('after', EXAMPLES)
    .action(async (url: string, flags: BenchFlags) => {
      process.exitCode = await runBench(url, flags);
    });
}

/** Runs the benchmark and prints the report; resolves with the exit status. */
export async function runBench(urlText: string, flags: BenchFlags): Promise<number> {
  const url = parseWebSocketUrl(urlText);
  const load: LoadOptions = {
    url: url.href,
    protocols: flags.subprotocol ?? [],
    client: { ...clientOptions(flags), maxPayload: Math.max(flags.size * 2, 1024 * 1024) },
    connections: flags.connections,
    inFlight: flags.inFlight,
    rate: flags.rate,
    size: flags.size,
    payload: flags.payload,
    rampUpMs: flags.rampUp,
    durationMs: flags.duration,
    maxOutstanding: 10_000,
  };
  const threads = Math.min(flags.workers, flags.connections);
  const generator: Load = threads > 1 ? new LoadPool(load, threads) : new LoadGenerator(load);
  const tty = process.stderr.isTTY === true && flags.progress !== false;
  const status = (text: string): void => {
    if (tty) process.stderr.write(`\r\x1b[K${text}`);
  };
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);

  const rampStart = performance.now();
  const rampTicker = setInterval(() => {
    status(
      `ramping up: ${((performance.now() - rampStart) / 1000).toFixed(0)} s, opening ${flags.connections} connections`,
    );
  }, 1000);
  await generator.connect();
  clearInterval(rampTicker);
  if (generator.open === 0) {
    status('');
    throw new UserError(generator.firstConnectError ?? `cannot connect to ${url.href}`);
  }
  // Connections that opened early wait for the last one before measuring starts.
  const rampLeft = flags.rampUp - (performance.now() - rampStart);
  if (rampLeft > 0) await new Promise((r) => setTimeout(r, rampLeft));

  generator.startMeasuring();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let last = started;
    const end = (): void => {
      clearInterval(ticker);
      clearTimeout(deadline);
      resolve();
    };
    const deadline = setTimeout(end, flags.duration);
    const ticker = setInterval(async () => {
      const now = performance.now();
      const c = await generator.takeInterval();
      status(progressLine(now - started, flags.duration, generator.open, c, (now - last) / 1000));
      last = now;
      if (interrupted || generator.open === 0) end();
    }, 1000);
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  // Cores this process (all its threads) used while measuring: near `threads`, the tool may be
  // the bottleneck.
  const clientCpu = round((cpu.user + cpu.system) / 1e6 / seconds, 2);
  await generator.stop();
  process.removeListener('SIGINT', onSigint);
  status('');

  const t = generator.total;
  const errors = generator.connectFailures + generator.closedEarly.length;
  const result = {
    url: url.href,
    connections: flags.connections,
    opened: flags.connections - generator.connectFailures,
    mode: flags.rate !== undefined ? { rate: flags.rate } : { inFlight: flags.inFlight },
    size: flags.size,
    payload: flags.payload,
    deflate: flags.deflate === true,
    seconds: round(seconds, 3),
    sent: t.sent,
    received: t.received,
    skipped: t.skipped,
    messagesPerSecond: round(t.received / seconds, 1),
    bytesPerSecond: round(t.bytesReceived / seconds, 0),
    latencyMs: {
      min: ms(t.latency.count ? t.latency.min : 0),
      mean: ms(t.latency.mean()),
      p50: ms(t.latency.percentile(50)),
      p90: ms(t.latency.percentile(90)),
      p99: ms(t.latency.percentile(99)),
      p999: ms(t.latency.percentile(99.9)),
      max: ms(t.latency.max),
    },
    errors: {
      connectFailed: generator.connectFailures,
      firstConnectError: generator.firstConnectError ?? null,
      closedEarly: generator.closedEarly.length,
      closeCodes: [...new Set(generator.closedEarly.map((c) => c.code))],
    },
    clientCpu,
    workers: threads,
    interrupted,
  };
  if (flags.json) console.log(JSON.stringify(result, null, 2));
  else {
    const l = result.latencyMs;
    const mode =
      flags.rate !== undefined ? `${humanCount(flags.rate)} msg/s` : `${flags.inFlight} in flight each`;
    console.log(
      [
        `${url.href}: ${result.opened} connections, ${mode}, ${humanCount(flags.size)} B ${flags.payload}${flags.deflate ? ', deflate' : ''}, ${result.seconds} s${interrupted ? ' (interrupted)' : ''}`,
        `  messages    ${humanCount(t.sent)} sent, ${humanCount(t.received)} echoed${t.skipped ? `, ${humanCount(t.skipped)} skipped (server behind)` : ''}`,
        `  throughput  ${humanCount(result.messagesPerSecond)} msg/s, ${humanBytes(result.bytesPerSecond)}/s each way (payload)`,
        `  latency ms  min ${l.min}  p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}`,
        `  bench cpu   ${Math.round(clientCpu * 100)} % of one core, ${threads} thread${threads > 1 ? 's' : ''}${clientCpu > 0.9 * threads ? ' (near saturation: the numbers may be the limit of this tool, not of the server)' : ''}`,
        `  errors      ${errors === 0 ? 'none' : `${generator.connectFailures} connections failed, ${generator.closedEarly.length} closed early (codes ${result.errors.closeCodes.join(', ') || '-'})`}`,
      ].join('\n'),
    );
    if (generator.firstConnectError && generator.connectFailures > 0)
      console.log(`  first error ${generator.firstConnectError}`);
  }
  return errors > 0 ? 3 : 0;
}

function progressLine(
  elapsed: number,
  total: number,
  open: number,
  c: LoadCounters,
  seconds: number,
): string {
  const s = Math.min(elapsed, total) / 1000;
  return (
    `${s.toFixed(0)}/${(total / 1000).toFixed(0)} s | ${humanCount(open)} open | ${humanCount(c.received / seconds)} msg/s | ` +
    `p50 ${ms(c.latency.percentile(50))} ms p99 ${ms(c.latency.percentile(99))} ms`
  );
}

function ms(microseconds: number): number {
  return round(microseconds / 1000, microseconds < 10_000 ? 3 : 1);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
