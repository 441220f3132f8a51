// Per-connection memory breakdown of idle connections, by object type, from two heap snapshots
// (before and after N idle connections; self sizes grouped by V8 node type and name, diffed,
// divided by N), plus process.memoryUsage() and VmRSS deltas.
//   node bench/scripts/idle-breakdown.mjs [N=2000] [servers=ieum,ws,raw] [top=30]
// Servers are the benchmark's own scripts (bench/servers/<name>.mjs), each in a fresh process
// started with --expose-gc; the clients are bare TCP sockets in this process that send one
// upgrade request (or, for raw, wait for the greeting byte) and then stay idle.
// Env: SNAP=0 skips the heap snapshots (memoryUsage only), KEEP=1 keeps the .heapsnapshot files,
// SERVER_FLAGS="--max-semi-space-size=1" adds Node flags to the server, MESSAGE=1 has every client
// send one 16-byte binary message and wait for its echo before it goes idle ("after one message"), RETAINERS=1 groups by type and first retainer (e.g. "object:Array <- ConnectionDriver.pending").
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 2000);
const kinds = (process.argv[3] ?? 'ieum,ws,raw').split(',');
const TOP = Number(process.argv[4] ?? 30);
const snap = process.env.SNAP !== '0';
const message = process.env.MESSAGE === '1';
// One masked 16-byte binary frame (key 1 2 3 4) and the length of its unmasked echo.
const PAYLOAD = Buffer.from('0123456789abcdef');
const FRAME = Buffer.concat([
  Buffer.from([0x82, 0x80 | PAYLOAD.length, 1, 2, 3, 4]),
  Buffer.from(PAYLOAD.map((b, i) => b ^ ((i % 4) + 1))),
]);
const ECHO_BYTES = 2 + PAYLOAD.length;
const REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function startServer(kind) {
  const child = fork(new URL('./idle-breakdown-server.mjs', import.meta.url).pathname, [kind], {
    execArgv: ['--expose-gc', ...(process.env.SERVER_FLAGS ?? '').split(' ').filter(Boolean)],
    silent: true,
  });
  child.stderr.pipe(process.stderr);
  return new Promise((resolve) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\{.*\})\n/.exec(out);
      if (m) resolve({ child, port: JSON.parse(m[1]).port });
    });
  });
}

function ask(child, command) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(command);
  });
}

function openOne(port, raw) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('error', reject);
    if (!raw) s.on('connect', () => s.write(REQUEST));
    let expect = -1;
    const onData = (d) => {
      got += d.toString('latin1');
      if (expect === -1 && (raw || got.includes('\r\n\r\n'))) {
        if (!raw && !got.startsWith('HTTP/1.1 101')) reject(new Error(got));
        if (!message) {
          s.off('data', onData);
          resolve(s);
          return;
        }
        // Raw: the greeting byte, then the 18 bytes it echoes of the frame; WebSocket: the
        // response head, then the echoed frame.
        expect = raw ? 1 + FRAME.length : got.indexOf('\r\n\r\n') + 4 + ECHO_BYTES;
        s.write(FRAME);
      }
      if (expect !== -1 && got.length >= expect) {
        s.off('data', onData);
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

/**
 * Self size and count by "type:name" from a .heapsnapshot file. With RETAINERS=1 the key also
 * names the first retainer ("<- Owner.edge"), which tells e.g. which field holds an Array.
 */
function summarize(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const iEdges = fields.indexOf('edge_count');
  const { nodes, strings, edges } = snapshot;
  const edgeWidth = meta.edge_fields.length;
  const edgeTypes = meta.edge_types[0];
  const nodeName = (i) => {
    const type = types[nodes[i + iType]];
    let name = strings[nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'number') name = '';
    if (name.length > 50) name = `${name.slice(0, 47)}...`;
    return `${type}:${name}`;
  };
  const owner = new Map();
  if (process.env.RETAINERS) {
    let e = 0;
    for (let i = 0; i < nodes.length; i += width) {
      for (let k = 0; k < nodes[i + iEdges]; k++, e += edgeWidth) {
        const et = edgeTypes[edges[e]];
        if (et === 'weak' || et === 'shortcut') continue;
        const to = edges[e + 2];
        if (owner.has(to)) continue;
        const en = et === 'element' || et === 'hidden' ? `[${edges[e + 1]}]` : strings[edges[e + 1]];
        owner.set(to, `${nodeName(i).replace(/^object:/, '')}.${String(en).slice(0, 30)}`);
      }
    }
  }
  const groups = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const key = process.env.RETAINERS ? `${nodeName(i)} <- ${owner.get(i) ?? '?'}` : nodeName(i);
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + iSize];
    groups.set(key, g);
  }
  return groups;
}

const results = {};
for (const kind of kinds) {
  const { child, port } = await startServer(kind);
  const raw = kind === 'raw';
  const before = await ask(child, { cmd: 'measure' });
  const snapBefore = snap
    ? (await ask(child, { cmd: 'snapshot', file: join(tmpdir(), `idle-${kind}-0.heapsnapshot`) })).file
    : undefined;
  const sockets = [];
  for (let i = 0; i < N; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => openOne(port, raw)));
    sockets.push(...batch);
  }
  await new Promise((r) => setTimeout(r, 300));
  const after = await ask(child, { cmd: 'measure' });
  const snapAfter = snap
    ? (await ask(child, { cmd: 'snapshot', file: join(tmpdir(), `idle-${kind}-1.heapsnapshot`) })).file
    : undefined;
  for (const s of sockets) s.destroy();
  child.kill();
  const per = (k) => ((after[k] - before[k]) / N).toFixed(0);
  const row = {
    rss: per('rss'),
    heapTotal: per('heapTotal'),
    heapUsed: per('heapUsed'),
    external: per('external'),
    arrayBuffers: per('arrayBuffers'),
  };
  console.log(
    `\n== ${kind}: ${N} idle connections${message ? ' (after one message)' : ''}, bytes per connection ==`,
  );
  console.log(JSON.stringify(row));
  const spaces = Object.keys(after.spaces).map((k) => `${k} ${(after.spaces[k] - before.spaces[k]) / N}`);
  console.log(`heap space size growth, B/conn: ${spaces.join(', ')}`);
  results[kind] = row;
  if (snap) {
    const a = summarize(snapBefore);
    const b = summarize(snapAfter);
    const diff = [];
    let total = 0;
    for (const [key, g] of b) {
      const g0 = a.get(key) ?? { count: 0, bytes: 0 };
      const bytes = (g.bytes - g0.bytes) / N;
      const count = (g.count - g0.count) / N;
      total += bytes;
      if (Math.abs(bytes) >= 1) diff.push({ key, count, bytes });
    }
    for (const [key, g0] of a) if (!b.has(key)) total -= g0.bytes / N;
    diff.sort((x, y) => y.bytes - x.bytes);
    console.log(
      `heap snapshot self sizes, total ${total.toFixed(0)} B/conn; top entries (objects/conn, B/conn):`,
    );
    for (const d of diff.slice(0, TOP)) {
      console.log(`${d.bytes.toFixed(0).padStart(6)}  ${d.count.toFixed(2).padStart(6)}  ${d.key}`);
    }
    results[kind].snapshotTotal = total.toFixed(0);
    if (!process.env.KEEP) {
      rmSync(snapBefore);
      rmSync(snapAfter);
    }
  }
}
console.log(`\n${JSON.stringify(results)}`);
