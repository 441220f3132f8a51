// CPU profile of one benchmark server under one load, and where its time goes:
//
//   node --import tsx bench/scripts/profile.ts ieum -- --connections 50 --inflight 8 --size 16
//   node --import tsx bench/scripts/profile.ts ws-native -- --mode handshake --connections 50
//
// The server (bench/servers/<script>, Node servers only) runs pinned to CPU 1 with --cpu-prof, the
// generator (bench/.build/wsgen; arguments after `--`, see bench/gen/options.c) on CPU 0. Prints the
// generator's result, the server's CPU time per operation, the split of the profile (idle, GC,
// ieum's own code, Node's http, net and streams) and the functions with the most self time. The
// .cpuprofile stays in bench/.build/profiles/ for a flame graph (Chrome DevTools, speedscope).
// Run `npm run bench -- --quick --only echo-16b` once first: it installs and builds what this needs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, buildDir, compileGenerator } from '../lib/generator.js';
import { SERVERS } from '../lib/servers.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [name, ...rest] = process.argv.slice(2);
const dash = rest.indexOf('--');
const genArgs = dash === -1 ? rest : rest.slice(dash + 1);
const spec = SERVERS.find((s) => s.name === name);
if (spec?.runtime !== 'node') {
  const names = SERVERS.filter((s) => s.runtime === 'node').map((s) => s.name);
  console.error(`usage: profile.ts <${names.join('|')}> -- <wsgen arguments>`);
  process.exit(2);
}
const outDir = join(buildDir, 'profiles');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const generator = await compileGenerator();

const server = spawn(
  'taskset',
  ['-c', '1', process.execPath, '--cpu-prof', `--cpu-prof-dir=${outDir}`, join('servers', spec.script)],
  { cwd: benchDir, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...spec.env } },
);
const info = await new Promise<{ port: number; fanoutPort?: number; handshakePort?: number }>(
  (resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d: Buffer) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('listening '));
      if (line) resolve(JSON.parse(line.slice('listening '.length)));
    });
    server.on('exit', (code) => reject(new Error(`${spec.script} exited (${code}) before listening`)));
  },
);
const cpuSeconds = (): number => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
};
const before = cpuSeconds();
const run = spawnSync('taskset', ['-c', '0', generator, '--port', String(info.port), ...genArgs], {
  encoding: 'utf8',
});
const cpu = cpuSeconds() - before;
server.stdin.end(); // the bench servers exit when stdin closes, writing the profile
await new Promise((resolve) => server.on('exit', resolve));
if (run.status !== 0) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
const result = JSON.parse(run.stdout) as Record<string, unknown>;
console.log(run.stdout.trim());
const ops = Number(result.handshakes ?? result.messages ?? 0);
if (ops > 0)
  console.log(`\nserver CPU per operation: ${((cpu * 1e6) / ops).toFixed(2)} µs (${ops} operations)`);

const file = readdirSync(outDir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${outDir}`);
const profile = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
let total = 0;
for (const t of self.values()) total += t;

const categories: Array<[string, (url: string) => boolean]> = [
  ['ieum (dist/)', (u) => u.includes('/packages/websocket/dist/')],
  ['server script', (u) => u.includes('/bench/servers/')],
  ['node http', (u) => u.includes('node:_http')],
  ['node net/streams', (u) => /node:(net|stream|internal\/(streams|stream_base))/.test(u)],
];
const split = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, t] of self) {
  const node = byId.get(id)!;
  const fn = node.callFrame.functionName;
  let category = ['(idle)', '(garbage collector)', '(program)'].includes(fn) ? fn : undefined;
  // Native frames (system calls) count for the nearest JavaScript caller with a category.
  for (let at: number | undefined = id; !category && at !== undefined; at = parent.get(at)) {
    const url = byId.get(at)!.callFrame.url;
    category = categories.find(([, match]) => match(url))?.[0];
  }
  category ??= 'other';
  split.set(category, (split.get(category) ?? 0) + t);
  const where = node.callFrame.url
    ? ` ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`
    : '';
  functions.set(`${fn || '(anonymous)'}${where}`, (functions.get(`${fn || '(anonymous)'}${where}`) ?? 0) + t);
}
const percent = (t: number): string => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log('\nwhere the server time went (system calls count for their caller):');
for (const [k, t] of [...split].sort((a, b) => b[1] - a[1])) console.log(`${percent(t)}  ${k}`);
console.log('\nself time by function:');
for (const [k, t] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`${percent(t)}  ${k}`);
console.log(`\nprofile: ${join(outDir, file)}`);
