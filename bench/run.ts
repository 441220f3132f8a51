// `npm run bench`: side-by-side WebSocket server benchmark (see docs/performance.md).
//
//   npm run bench [-- --quick] [--only id[,id]] [--servers name[,name]] [--reps N] [--out DIR]
//
// Installs bench/ dependencies on first use, builds the workspace, compiles the C load
// generator, then runs every selected scenario on every selected server, servers interleaved,
// and writes performance.md, performance.json and performance.svg.
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLOCK_TICKS, foreignCores, sampleMachine, waitQuiet } from './lib/cpu.js';
import { DISTURBED_CORES, performanceDocument, QUIET_CORES, type RunInfo } from './lib/document.js';
import { keepGameSection } from './lib/game-section.js';
import {
  benchDir,
  buildDir,
  compileGenerator,
  type GeneratorResult,
  type Launch,
  runGenerator,
} from './lib/generator.js';
import { keepRealtimeSection, realtimeSection, replaceRealtimeSection } from './lib/realtime-section.js';
import {
  buildRows,
  type Column,
  columnsFor,
  type Measurement,
  mediansTable,
  type Row,
} from './lib/report.js';
import {
  allScenarios,
  realtimeScenarios,
  type Scenario,
  type ScenarioInfo,
  selectScenarios,
  type Timing,
} from './lib/scenarios.js';
import {
  REALTIME_REDIS_SERVERS,
  REALTIME_SERVERS,
  type RunningServer,
  SERVERS,
  type ServerEnvironment,
  type ServerSpec,
  startServer,
} from './lib/servers.js';
import { ratioChart } from './lib/svg.js';

const root = join(benchDir, '..');
const ALL_SERVERS = [...SERVERS, ...REALTIME_SERVERS];
/** Every column a table may have (the Redis variants mostly share their counterparts' names). */
const COLUMN_SERVERS = [
  ...ALL_SERVERS,
  ...REALTIME_REDIS_SERVERS.filter((r) => !ALL_SERVERS.some((s) => s.name === r.name)),
];

interface Args {
  quick: boolean;
  only: string[];
  servers: string[];
  reps: number | undefined;
  out: string | undefined;
  render: string | undefined;
  /** Replace the "Realtime layer" section of docs/performance.md with this run's results. */
  writeRealtime: boolean;
}

const usage = `usage: npm run bench [-- --quick] [--only id,...] [--servers name,...] [--reps N] [--out DIR]
       npm run bench -- --only rt [--write-realtime]   (the realtime layer; --write-realtime: into docs/performance.md)
       npm run bench -- --render performance.json [--out DIR]   (the report again, from saved results)
scenarios: ${allScenarios(false)
  .map((s) => s.id)
  .join(', ')} (a prefix selects several, e.g. --only echo)
realtime:  ${realtimeScenarios(false)
  .map((s) => s.id)
  .join(', ')} (only when named, e.g. --only rt)
servers:   ${ALL_SERVERS.map((s) => s.name).join(', ')}`;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    only: [],
    servers: [],
    reps: undefined,
    out: undefined,
    render: undefined,
    writeRealtime: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${usage}`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only.push(...value().split(','));
    else if (a === '--servers') args.servers.push(...value().split(','));
    else if (a === '--reps') args.reps = Number(value());
    else if (a === '--out') args.out = value();
    else if (a === '--render') args.render = value();
    else if (a === '--write-realtime') args.writeRealtime = true;
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${usage}`);
  }
  for (const name of args.servers) {
    if (!ALL_SERVERS.some((s) => s.name === name)) throw new Error(`unknown server ${name}\n${usage}`);
  }
  if (args.reps !== undefined && !(Number.isInteger(args.reps) && args.reps >= 1 && args.reps <= 9)) {
    throw new Error('--reps must be 1..9');
  }
  return args;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function ensureBenchDependencies(): void {
  // Installed, and with every dependency bench/package.json names now (it gains some over time).
  const wanted = Object.keys(
    (
      JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      }
    ).dependencies,
  );
  const modules = join(benchDir, 'node_modules');
  if (
    existsSync(join(modules, '.package-lock.json')) &&
    wanted.every((name) => existsSync(join(modules, name)))
  )
    return;
  log('bench: installing benchmark dependencies (npm ci --prefix bench)…');
  execSync('npm ci --prefix bench --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

/**
 * Builds @ieum/websocket, and @ieum/redis with what it depends on (`tsc -b`), so ieum runs from
 * dist/; false when the build fails.
 */
function buildWebsocket(): boolean {
  log('bench: building @ieum/websocket and @ieum/redis (tsc -b packages/redis)…');
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-b', 'packages/redis'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status === 0) return true;
  log(`bench: the build failed; ieum runs from its sources through tsx\n${r.stdout}${r.stderr}`);
  return false;
}

function works(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** CPU pinning (taskset) and a high open-file limit (prlimit, when allowed) for both sides. */
function launchPrefixes(): { server: string[]; generator: string[]; pinned: boolean } {
  const limit = works('prlimit', ['--nofile=65536:65536', 'true']) ? ['prlimit', '--nofile=65536:65536'] : [];
  const pinned = os.cpus().length >= 2 && works('taskset', ['-c', '1', 'true']);
  return {
    server: [...limit, ...(pinned ? ['taskset', '-c', '1'] : [])],
    generator: [...limit, ...(pinned ? ['taskset', '-c', '0'] : [])],
    pinned,
  };
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(benchDir, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'missing';
  }
}

function text(command: string, args: string[], cwd = root): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return model?.[1]?.replace(/\s+/g, ' ') ?? os.cpus()[0]?.model ?? 'unknown CPU';
}

function formatValues(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2)}`)
    .join(' ');
}

async function warmUp(
  servers: RunningServer[],
  generator: string,
  launch: Launch,
  seconds: number,
): Promise<void> {
  log(`bench: warming up ${servers.length} servers (${seconds} s each, not recorded)…`);
  for (const server of servers) {
    const port = server.port;
    const protocol = server.spec.protocol;
    if (server.spec.group === 'realtime') {
      // Realtime servers answer no echo: a short fan-out, single messages and bursts.
      for (const inflight of [1, 8]) {
        await runGenerator(
          generator,
          {
            port,
            protocol,
            ...(protocol === 'rt' ? { path: '/realtime' } : protocol === 'ws' ? { path: '/fanout' } : {}),
            mode: 'fanout',
            connections: 50,
            inflight,
            size: 64,
            duration: seconds / 2,
          },
          launch,
        ).catch((error: unknown) => log(`bench: warming up ${server.spec.label} failed: ${error}`));
      }
      continue;
    }
    for (const size of [16, 1024]) {
      await runGenerator(
        generator,
        {
          port,
          protocol,
          mode: 'echo',
          connections: 50,
          inflight: 8,
          size,
          ...(server.spec.deflate ? { deflate: true, payload: 'json' as const } : {}),
          duration: seconds / 2,
        },
        launch,
      ).catch((error: unknown) => log(`bench: warming up ${server.spec.label} failed: ${error}`));
    }
  }
}

/** A full run on a busy machine measures the other work: wait (2 minutes at most) for it to calm down. */
async function waitForQuietStart(): Promise<void> {
  const deadline = Date.now() + 120_000;
  let warned = false;
  for (;;) {
    const a = sampleMachine([]);
    await sleep(1000);
    const busy = foreignCores(a, sampleMachine([]));
    if (busy <= 0.5) return;
    if (Date.now() > deadline) {
      log(`bench: other processes still use ${busy.toFixed(2)} cores; measuring anyway (expect noise)`);
      return;
    }
    if (!warned)
      log(
        `bench: other processes use ${busy.toFixed(2)} cores; waiting up to 2 minutes for a quieter machine…`,
      );
    warned = true;
  }
}

/**
 * Writes performance.md, performance.json and performance.svg into `outDir`; with
 * `writeRealtime`, also the realtime section of docs/performance.md and its results
 * (docs/performance-realtime.json).
 */
function writeResults(
  outDir: string,
  info: RunInfo,
  scenarios: readonly ScenarioInfo[],
  rows: Row[],
  columns: Column[],
  measurements: readonly Measurement[],
  writeRealtime = false,
): void {
  mkdirSync(outDir, { recursive: true });
  const realtime = new Set(scenarios.filter((s) => s.group === 'realtime').map((s) => s.id));
  const realtimeNames = new Set([...REALTIME_SERVERS, ...REALTIME_REDIS_SERVERS].map((s) => s.name));
  const wsRows = rows.filter((r) => !realtime.has(r.scenario));
  const wsColumns = columns.filter((c) => !realtimeNames.has(c.name));
  const rtRows = rows.filter((r) => realtime.has(r.scenario));
  const rtScenarios = scenarios.filter((s) => realtime.has(s.id));
  const section = rtRows.length
    ? realtimeSection(
        info,
        rtScenarios,
        rtRows,
        columns.filter((c) => realtimeNames.has(c.name)),
      )
    : undefined;
  const doc = join(outDir, 'performance.md');
  // The game section comes from bench/scripts/game.ts, the realtime one from `--only rt`: kept.
  const previous = existsSync(doc) ? readFileSync(doc, 'utf8') : undefined;
  let fresh = '# Performance\n\nThis run measured the realtime layer only.\n';
  if (wsRows.length && wsColumns.length) {
    const reference = wsColumns.some((c) => c.name === 'ws') ? 'ws' : wsColumns[0]!.name;
    const chart = ratioChart(
      wsRows,
      wsColumns,
      reference,
      'WebSocket servers: speed-up relative to ws (medians)',
    );
    writeFileSync(join(outDir, 'performance.svg'), chart);
    const wsScenarios = scenarios.filter((s) => !realtime.has(s.id));
    fresh = keepGameSection(
      previous,
      performanceDocument(info, wsScenarios, wsRows, wsColumns, 'performance.svg'),
    );
  }
  fresh = section ? replaceRealtimeSection(fresh, section) : keepRealtimeSection(previous, fresh);
  writeFileSync(doc, fresh);
  const meta = scenarios.map(({ id, title, description, metrics, group }) => ({
    id,
    title,
    description,
    metrics,
    ...(group ? { group } : {}),
  }));
  const json = `${JSON.stringify({ info, scenarios: meta, rows, measurements }, null, 1)}\n`;
  writeFileSync(join(outDir, 'performance.json'), json);
  if (writeRealtime && section) {
    const docs = join(root, 'docs');
    const target = join(docs, 'performance.md');
    writeFileSync(target, replaceRealtimeSection(readFileSync(target, 'utf8'), section));
    const rtMeta = meta.filter((s) => realtime.has(s.id));
    const rtMeasurements = measurements.filter((m) => realtime.has(m.scenario));
    writeFileSync(
      join(docs, 'performance-realtime.json'),
      `${JSON.stringify({ info, scenarios: rtMeta, rows: rtRows, measurements: rtMeasurements }, null, 1)}\n`,
    );
    log(`bench: wrote the realtime section of ${target} and docs/performance-realtime.json`);
  }
}

/** `--render FILE`: writes the report again from a saved performance.json (no measuring). */
function render(file: string, out: string | undefined, writeRealtime: boolean): void {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as {
    info: RunInfo;
    scenarios: ScenarioInfo[];
    measurements: Measurement[];
  };
  const names = new Set(saved.measurements.map((m) => m.server));
  const columns = columnsFor(COLUMN_SERVERS.filter((s) => names.has(s.name)));
  const rows = buildRows(saved.scenarios, saved.measurements);
  const outDir = out ?? dirname(file);
  writeResults(outDir, saved.info, saved.scenarios, rows, columns, saved.measurements, writeRealtime);
  log(`bench: wrote ${join(outDir, 'performance.{md,json,svg}')} from ${file}`);
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

interface Step {
  rep: number;
  scenario: Scenario;
  spec: ServerSpec;
}

function plan(scenarios: readonly Scenario[], selected: readonly ServerSpec[], reps: number): Step[] {
  const steps: Step[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const scenario of scenarios) {
      // Realtime scenarios run on the realtime servers, the others on the WebSocket servers.
      const specs = scenario.servers(selected.filter((s) => s.group === scenario.group));
      const shift = specs.length ? rep % specs.length : 0;
      for (const spec of [...specs.slice(shift), ...specs.slice(0, shift)])
        steps.push({ rep, scenario, spec });
    }
  }
  return steps;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) return render(args.render, args.out, args.writeRealtime);
  const started = Date.now();
  ensureBenchDependencies();
  const ieumFromSource = !buildWebsocket();
  log('bench: compiling the load generator (cc -O2)…');
  const generator = await compileGenerator();
  const prefixes = launchPrefixes();
  const serverEnv: ServerEnvironment = { prefix: prefixes.server, ieumFromSource };
  const launch: Launch = { prefix: prefixes.generator };

  const selected = ALL_SERVERS.filter((s) => args.servers.length === 0 || args.servers.includes(s.name));
  const scenarios = selectScenarios(args.only, args.quick);
  if (scenarios.length === 0) throw new Error(`no scenario matches ${args.only.join(',')}\n${usage}`);
  const timing: Timing = args.quick
    ? { quick: true, warmup: 0.1, duration: 0.25 }
    : { quick: false, warmup: 0.5, duration: 1.5 };
  const reps = args.reps ?? (args.quick ? 1 : 3);
  const steps = plan(scenarios, selected, reps);

  const pool = new Map<string, RunningServer>();
  const poolKey = (spec: ServerSpec) => `${spec.name}/${spec.deflate ?? ''}`;
  const stopAll = async () => {
    await Promise.all([...pool.values()].map((s) => s.stop()));
    pool.clear();
  };
  process.once('SIGINT', () => {
    void stopAll().then(() => process.exit(130));
  });

  // Long-lived servers start together, before the first measurement.
  const needed = new Map<string, ServerSpec>();
  for (const step of steps) if (!step.scenario.fresh) needed.set(poolKey(step.spec), step.spec);
  await Promise.all(
    [...needed].map(async ([key, spec]) => {
      try {
        pool.set(key, await startServer(spec, serverEnv));
      } catch (error) {
        log(`bench: ${spec.label} did not start: ${error instanceof Error ? error.message : error}`);
      }
    }),
  );

  if (!args.quick) await waitForQuietStart();

  // Warm every long-lived server's JIT before the first measurement (not recorded).
  await warmUp([...pool.values()], generator, launch, args.quick ? 0.2 : 1);

  const poolPids = () => [...pool.values()].filter((s) => !s.exited).map((s) => s.pid);
  const ourPids = (server: RunningServer) => [...new Set([...poolPids(), server.pid])];
  // Time the run may spend waiting for other processes to calm down, in all.
  const quietBudget = { ms: args.quick ? 0 : 30_000 };
  const quiet = () => waitQuiet(poolPids(), quietBudget, args.quick ? 50 : 100, QUIET_CORES);

  const measurements: Measurement[] = [];
  let retriesLeft = args.quick ? 0 : Math.ceil(steps.length * 0.1);
  log(
    `bench: ${steps.length} measurements (${reps} repetition${reps > 1 ? 's' : ''}, ${timing.warmup} s warm-up + ${timing.duration} s each)`,
  );
  for (const [i, step] of steps.entries()) {
    const { scenario, spec, rep } = step;
    const reports: GeneratorResult[] = [];
    const m: Measurement = {
      scenario: scenario.id,
      server: spec.name,
      ...(spec.deflate ? { deflate: spec.deflate } : {}),
      rep,
      reports,
    };
    let fresh: RunningServer | undefined;
    const stepStarted = Date.now();
    const took = () => `[${((Date.now() - stepStarted) / 1000).toFixed(1)} s]`;
    try {
      let server: RunningServer;
      if (scenario.fresh) {
        await quiet();
        server = fresh = await startServer(spec, serverEnv);
        await sleep(100);
      } else {
        let running = pool.get(poolKey(spec));
        if (running?.exited) {
          log(`bench: restarting ${spec.label} (${running.exited})`);
          running = undefined;
        }
        if (!running) {
          running = await startServer(spec, serverEnv);
          pool.set(poolKey(spec), running);
        }
        server = running;
        await quiet();
      }
      // On a shared machine another process may take the server's CPU meanwhile: when it took
      // more than a quarter, measure again (within a budget) and keep the least disturbed run.
      for (let attempt = 0; ; attempt++) {
        const attemptReports: GeneratorResult[] = [];
        const before = sampleMachine(ourPids(server));
        const values = await scenario.measure({
          server,
          generator,
          launch,
          timing,
          record: (r) => attemptReports.push(r),
        });
        if (server.exited) throw new Error(server.exited);
        const generatorTicks = attemptReports.reduce((t, r) => t + (r.cpu_total_s ?? 0) * CLOCK_TICKS, 0);
        const foreign = foreignCores(before, sampleMachine(ourPids(server)), generatorTicks);
        if (m.values === undefined || (foreign ?? 0) < (m.foreignCpu ?? 0)) {
          m.values = values;
          reports.splice(0, reports.length, ...attemptReports);
          if (foreign !== undefined) m.foreignCpu = foreign;
        }
        m.attempts = attempt + 1;
        const disturbed = (m.foreignCpu ?? 0) > DISTURBED_CORES;
        if (!disturbed || scenario.fresh || attempt >= 1 || retriesLeft <= 0) break;
        retriesLeft--;
        await quiet();
      }
      log(
        `[${i + 1}/${steps.length}] ${scenario.id} ${spec.label}${spec.deflate ? ' (deflate)' : ''}: ${formatValues(m.values!)}${
          m.foreignCpu !== undefined && m.foreignCpu > 0.1
            ? ` (other processes used ${m.foreignCpu.toFixed(2)} of a core)`
            : ''
        } ${took()}`,
      );
    } catch (error) {
      m.error = error instanceof Error ? error.message : String(error);
      delete m.values;
      log(
        `[${i + 1}/${steps.length}] ${scenario.id} ${spec.label}${spec.deflate ? ' (deflate)' : ''}: ERROR ${m.error}`,
      );
    } finally {
      await fresh?.stop();
    }
    measurements.push(m);
  }
  await stopAll();

  const rows = buildRows(scenarios, measurements);
  const columns = columnsFor(
    COLUMN_SERVERS.filter((s) => selected.includes(s) || !ALL_SERVERS.includes(s)),
  ).filter((c) => rows.some((r) => r.cells[c.name]));
  const info: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    mode: args.quick ? 'quick' : 'full',
    reps,
    warmup: timing.warmup,
    duration: timing.duration,
    node: process.version,
    bun: text(join(benchDir, 'node_modules', '.bin', 'bun'), ['--version']),
    cpu: cpuModel(),
    cores: os.cpus().length,
    kernel: os.release(),
    cc: text('cc', ['--version']).split('\n')[0] ?? 'cc',
    packages: Object.fromEntries(
      ['ws', 'bufferutil', 'utf-8-validate', 'socket.io', 'bun'].map((p) => [p, packageVersion(p)]),
    ),
    ieum: {
      commit: text('git', ['rev-parse', '--short', 'HEAD']),
      dirty: text('git', ['status', '--porcelain', 'packages/websocket']) !== '',
      from: ieumFromSource ? 'source' : 'dist',
    },
    pinned: prefixes.pinned,
    filters: { only: args.only, servers: args.servers },
    seconds: (Date.now() - started) / 1000,
    foreignMean: mean(measurements.map((m) => m.foreignCpu ?? 0)),
    disturbedCells: measurements.filter((m) => (m.foreignCpu ?? 0) > DISTURBED_CORES).length,
    cells: measurements.length,
  };

  const complete = !args.quick && args.only.length === 0 && args.servers.length === 0;
  const outDir = args.out ?? (complete ? join(root, 'docs') : buildDir);
  writeResults(outDir, info, scenarios, rows, columns, measurements, args.writeRealtime);
  console.log(mediansTable(rows, columns));
  log(`bench: done in ${Math.round(info.seconds!)} s; wrote ${join(outDir, 'performance.{md,json,svg}')}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
