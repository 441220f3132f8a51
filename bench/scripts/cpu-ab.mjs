// Server CPU per echoed message, several servers interleaved in one run (A/B of a change, or
// ieum against ws and the raw TCP floor): each repetition starts every server fresh (order
// alternating), warms it up for 0.5 s, then reads its utime + stime and minor page faults from
// /proc around one generator run. Prints medians per server.
//   node bench/scripts/cpu-ab.mjs REPS SIZE CONNECTIONS INFLIGHT SECONDS name=script[:ENV=value]...
//   node bench/scripts/cpu-ab.mjs 5 1048576 4 2 1.5 ieum=ieum.mjs ws-native=ws.mjs raw=raw.mjs
// `script` is a file in bench/servers/ (or an absolute path, e.g. a copy built from another
// commit); a name starting with "raw" is driven with `--protocol raw`. Needs the generator built
// by one `npm run bench` (bench/.build/wsgen). Linux only (/proc, taskset).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [reps, size, connections, inflight, seconds, ...specs] = process.argv.slice(2);
if (specs.length === 0) {
  console.error('usage: cpu-ab.mjs REPS SIZE CONNECTIONS INFLIGHT SECONDS name=script[:ENV=value]...');
  process.exit(2);
}
const bench = fileURLToPath(new URL('..', import.meta.url));
const servers = specs.map((spec) => {
  const [name, rest] = spec.split('=', 2);
  const [script, ...envs] = rest.split(':');
  return { name, script, env: Object.fromEntries(envs.map((e) => e.split('='))) };
});

function stat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, minflt: Number(f[7]) };
}

const results = Object.fromEntries(servers.map((s) => [s.name, []]));
for (let r = 0; r < Number(reps); r++) {
  for (const s of r % 2 ? [...servers].reverse() : servers) {
    const script = s.script.startsWith('/') ? s.script : `servers/${s.script}`;
    const server = spawn('taskset', ['-c', '1', process.execPath, script], {
      cwd: bench,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...s.env },
    });
    const info = await new Promise((resolve) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('listening '));
        if (line) resolve(JSON.parse(line.slice('listening '.length)));
      });
    });
    const generate = (duration) =>
      spawnSync(
        'taskset',
        [
          '-c',
          '0',
          `${bench}.build/wsgen`,
          ...['--port', String(info.port), '--connections', connections, '--inflight', inflight],
          ...['--size', size, '--duration', duration],
          ...(s.name.startsWith('raw') ? ['--protocol', 'raw'] : []),
        ],
        { encoding: 'utf8' },
      );
    generate('0.5');
    const before = stat(server.pid);
    const run = generate(seconds);
    const after = stat(server.pid);
    server.stdin.end();
    server.kill();
    const ops = JSON.parse(run.stdout).messages;
    results[s.name].push({
      us: ((after.cpu - before.cpu) * 1e6) / ops,
      faults: (after.minflt - before.minflt) / ops,
    });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rows] of Object.entries(results)) {
  const us = median(rows.map((x) => x.us)).toFixed(2);
  const faults = median(rows.map((x) => x.faults)).toFixed(1);
  const all = rows.map((x) => x.us.toFixed(2)).join(', ');
  console.log(`${name.padEnd(12)} server CPU ${us} µs/msg, ${faults} minor faults/msg (runs: ${all})`);
}
