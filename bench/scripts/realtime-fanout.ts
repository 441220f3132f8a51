// Server CPU per delivered message of the realtime fan-out (`RealtimeServer.publish` to one channel)
// against its floor, ieum's raw `WebSocketServer.broadcast` (a burst inside `WebSocketServer.batch`),
// in the same run, interleaved:
//
//   node --conditions=ieum-source --import tsx bench/scripts/realtime-fanout.ts \
//     [--subscribers 1000] [--burst 8] [--bursts 300] [--rounds 7] [--size 64] [--profile]
//     [--no-metrics] [--base <dir>]
//
// The server (RealtimeServer and a raw WebSocketServer in one process, pinned to CPU 1) and the
// clients (a second process on CPU 0, `--subscribers` connections to each server, counting what
// arrives) are driven from here: each burst is `--burst` publishes (or broadcasts) in one turn,
// and the next starts once every subscriber has received the whole burst, so nothing queues.
// CPU is the server's utime+stime from /proc over `--bursts` bursts. Each round measures both, in
// alternating order; medians over `--rounds`. `--profile` runs the server with --cpu-prof
// (realtime bursts only) and prints the functions with the most self time. `--base <dir>` also
// runs the RealtimeServer of another copy of packages/realtime/src (e.g. `git archive main
// packages/realtime/src | tar -x -C bench/.build/base`, then `--base
// bench/.build/base/packages/realtime/src`) in the same process, interleaved: a before/after.
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const role = process.argv[2];
const self = fileURLToPath(import.meta.url);
const CHANNEL = 'bench';

type Mode = 'rt' | 'base' | 'raw';
type Command = { cmd: 'burst'; mode: Mode; n: number } | { cmd: 'exit' };
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};

if (role === 'server') await server();
else if (role === 'clients') await clients();
else await orchestrate();

async function server(): Promise<void> {
  const { RealtimeServer } = await import('@ieum/realtime/server');
  const { WebSocketServer } = await import('@ieum/websocket');
  const size = arg('size', 64);
  const options = {
    port: 0,
    heartbeatIntervalMs: 600_000,
    ...(process.argv.includes('--no-metrics') ? { metrics: false as const } : {}),
  };
  const rt = new RealtimeServer(options);
  await new Promise<void>((resolve) => rt.on('listening', resolve));
  const baseDir = flag('base');
  const base = baseDir
    ? new (
        (await import(join(process.cwd(), baseDir, 'server/index.ts'))) as {
          RealtimeServer: typeof RealtimeServer;
        }
      ).RealtimeServer(options)
    : undefined;
  if (base) await new Promise<void>((resolve) => base.on('listening', resolve));
  const raw = new WebSocketServer({ port: 0 });
  await new Promise<void>((resolve) => raw.on('listening', () => resolve()));
  const address = (s: { address(): unknown }) => (s.address() as { port: number }).port;
  let off = 0;
  const payload = () => ({ n: off, s: 'x'.repeat(Math.max(0, size - 20)) });
  process.on('message', (m: Command) => {
    if (m.cmd === 'exit') process.exit(0);
    if (m.mode !== 'raw') {
      const server = m.mode === 'rt' ? rt : base!;
      for (let i = 0; i < m.n; i++) void server.publish(CHANNEL, 'm', payload());
    } else {
      // The floor: the same packet, encoded once per message, framed once, one write per client.
      WebSocketServer.batch(() => {
        for (let i = 0; i < m.n; i++) {
          off++;
          raw.broadcast(JSON.stringify({ t: 'msg', ch: CHANNEL, ev: 'm', d: payload(), ep: 'e', off }));
        }
      });
    }
  });
  process.send!({ rtPort: address(rt), rawPort: address(raw), basePort: base ? address(base) : 0 });
}

async function clients(): Promise<void> {
  const { WebSocket } = await import('@ieum/websocket');
  const [rtPort, rawPort, basePort, subscribers] = process.argv.slice(3).map(Number) as number[] as [
    number,
    number,
    number,
    number,
  ];
  const realtimePorts = basePort ? [rtPort, basePort] : [rtPort];
  let received = 0;
  let expected = Number.POSITIVE_INFINITY;
  const count = () => {
    if (++received === expected) {
      received = 0;
      expected = Number.POSITIVE_INFINITY;
      process.send!('done');
    }
  };
  const open = (
    url: string,
    protocol: string | undefined,
    setup: (ws: InstanceType<typeof WebSocket>) => Promise<void>,
  ) =>
    new Promise<void>((resolve, reject) => {
      const ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
      ws.on('error', reject);
      ws.on('open', () => setup(ws).then(resolve, reject));
    });
  const opening: Array<Promise<void>> = [];
  for (let i = 0; i < subscribers; i++) {
    for (const port of realtimePorts)
      opening.push(
        open(`ws://127.0.0.1:${port}/realtime`, 'ieum.v1.json', (ws) => {
          ws.send(JSON.stringify({ t: 'hello', v: 1, cid: `c${i}` }));
          ws.send(JSON.stringify({ t: 'sub', id: 1, ch: CHANNEL }));
          return new Promise((resolve) => {
            const setup = (data: unknown) => {
              if (!String(data).includes('"t":"res"')) return;
              ws.off('message', setup);
              ws.on('message', count);
              resolve();
            };
            ws.on('message', setup);
          });
        }),
      );
    opening.push(
      open(`ws://127.0.0.1:${rawPort}/`, undefined, async (ws) => {
        ws.on('message', count);
      }),
    );
    if (i % 100 === 99) await Promise.all(opening.splice(0));
  }
  await Promise.all(opening);
  process.on('message', (m: { expect: number } | 'exit') => {
    if (m === 'exit') process.exit(0);
    else expected = m.expect;
  });
  process.send!('ready');
}

async function orchestrate(): Promise<void> {
  const subscribers = arg('subscribers', 1000);
  const burst = arg('burst', 8);
  const bursts = arg('bursts', 300);
  const rounds = arg('rounds', 7);
  const profile = process.argv.includes('--profile');
  const profDir = join(process.cwd(), 'bench/.build/profiles');
  if (profile) {
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
  }
  const execArgv = ['--conditions=ieum-source', '--import', 'tsx'];
  const baseDir = flag('base');
  const serverArgs = ['--size', String(arg('size', 64))];
  if (process.argv.includes('--no-metrics')) serverArgs.push('--no-metrics');
  if (baseDir) serverArgs.push('--base', baseDir);
  const srv = fork(self, ['server', ...serverArgs], {
    execArgv: [...execArgv, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
  });
  const ports = await once<{ rtPort: number; rawPort: number; basePort: number }>(srv);
  pin(srv, 1);
  const cli = fork(
    self,
    ['clients', ...[ports.rtPort, ports.rawPort, ports.basePort, subscribers].map(String)],
    {
      execArgv,
    },
  );
  pin(cli, 0);
  await once(cli);
  const cpu = (): number => {
    const fields = readFileSync(`/proc/${srv.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks of 10 ms
  };
  const run = async (mode: Mode, n: number): Promise<number> => {
    const before = cpu();
    for (let b = 0; b < n; b++) {
      cli.send({ expect: subscribers * burst });
      const done = once(cli);
      srv.send({ cmd: 'burst', mode, n: burst } satisfies Command);
      await done;
    }
    return ((cpu() - before) * 1e6) / (n * burst * subscribers); // µs per delivered message
  };
  const modes: Mode[] = baseDir ? ['rt', 'base', 'raw'] : ['rt', 'raw'];
  for (const mode of modes) await run(mode, Math.ceil(bursts / 5)); // warm-up
  const results = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  const ratios = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  for (let r = 0; r < (profile ? 1 : rounds); r++) {
    // Each round in another order (rotated), so drift over the run spreads over all.
    const order: Mode[] = profile ? ['rt'] : modes.map((_, i) => modes[(i + r) % modes.length]!);
    const got = new Map<Mode, number>();
    for (const mode of order) got.set(mode, await run(mode, bursts));
    if (profile) break;
    const raw = got.get('raw')!;
    for (const mode of modes) {
      results.get(mode)!.push(got.get(mode)!);
      ratios.get(mode)!.push(raw / got.get(mode)!);
    }
    console.log(
      `round ${r + 1}: ` +
        modes.map((m) => `${m} ${got.get(m)!.toFixed(3)} µs (${(raw / got.get(m)!).toFixed(2)}×)`).join(', '),
    );
  }
  cli.send('exit');
  srv.send({ cmd: 'exit' } satisfies Command);
  await new Promise((resolve) => srv.on('exit', resolve));
  if (profile) return printProfile(profDir);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  console.log(
    `subscribers ${subscribers}, burst ${burst}: server CPU per delivered message, median of ${rounds} ` +
      '(raw/x: the raw broadcast floor over it):',
  );
  for (const m of modes)
    console.log(
      `  ${m.padEnd(4)} ${median(results.get(m)!).toFixed(3)} µs  raw/x ${median(ratios.get(m)!).toFixed(2)}`,
    );
}

function once<T = unknown>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
  });
}

function pin(child: ChildProcess, core: number): void {
  // Best effort (no taskset: unpinned); the measurement is per message either way.
  spawnSync('taskset', ['-apc', String(core), String(child.pid)], { stdio: 'ignore' });
}

function printProfile(dir: string): void {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${dir}`);
  type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number } };
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const times = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    if (n.callFrame.functionName === '(idle)') continue;
    const url = n.callFrame.url.split('/').slice(-2).join('/');
    const k = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    const t = p.timeDeltas[i] ?? 0;
    times.set(k, (times.get(k) ?? 0) + t);
    total += t;
  }
  console.log('self time by function (busy time only):');
  for (const [k, t] of [...times].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  console.log(`profile: ${join(dir, file)}`);
}
