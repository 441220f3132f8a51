// Adapter fan-out throughput, single Redis vs Redis Cluster vs NATS JetStream, same run (issue 19):
//
//   node --conditions=ieum-source --import tsx bench/adapter/fanout.ts [messages] [rounds]
//
// Three worker processes (fanout-worker.ts), each an adapter subscribed to 30 channels,
// publish `messages` in total (64 in flight per worker) and wait until every worker has received
// every message. Reported: deliveries per second (messages × 3) per backend, and the ratio to
// single Redis. Each backend is a server of the bench's own on local ports (a fresh redis-server,
// a fresh 3-master/3-replica cluster, a fresh nats-server with JetStream file storage), rounds
// interleaved. Absolute numbers depend on the
// machine; quote the ratios.
import { type ChildProcess, fork } from 'node:child_process';
import { ownNats } from '../../packages/nats/test/helpers.js';
import { ownRedis } from '../../packages/redis/test/helpers.js';
import { ownCluster } from '../../packages/redis/test/own-cluster.js';

const total = Number(process.argv[2] ?? 12_000);
const rounds = Number(process.argv[3] ?? 3);
const WORKERS = 3;
const CHANNELS = 30;
const worker = new URL('./fanout-worker.ts', import.meta.url).pathname;

async function round(backend: object, prefix: string): Promise<number> {
  const children: ChildProcess[] = [];
  const per = Math.floor(total / WORKERS);
  const ready: Promise<void>[] = [];
  const done: Promise<number>[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const c = fork(
      worker,
      [JSON.stringify(backend), prefix, String(CHANNELS), String(per), String(WORKERS)],
      {
        execArgv: ['--conditions=ieum-source', '--import', 'tsx'],
      },
    );
    children.push(c);
    ready.push(new Promise((r) => c.on('message', (m: { ready?: boolean }) => m.ready && r())));
    done.push(
      new Promise((r) => c.on('message', (m: { done?: number }) => m.done !== undefined && r(m.done))),
    );
  }
  await Promise.all(ready);
  const t0 = performance.now();
  for (const c of children) c.send({ go: true });
  await Promise.all(done);
  const elapsed = performance.now() - t0;
  for (const c of children) c.send({ stop: true });
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  return (per * WORKERS * WORKERS) / (elapsed / 1000);
}

const single = await ownRedis();
const cluster = await ownCluster();
const nats = await ownNats();
const results: Record<string, number[]> = { redis: [], cluster: [], nats: [] };
try {
  for (let r = 0; r < rounds; r++) {
    results.redis!.push(await round({ url: single.url }, `bench:${r}:`));
    results.cluster!.push(await round({ cluster: { nodes: cluster.startup } }, `bench:${r}:`));
    results.nats!.push(await round({ nats: { servers: nats.url } }, `bench:${r}:`));
  }
} finally {
  await single.stop();
  await cluster.stop();
  await nats.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results.redis!);
for (const [name, xs] of Object.entries(results)) {
  console.log(
    `${name.padEnd(8)} median ${Math.round(median(xs))} deliveries/s (${xs.map(Math.round).join(', ')}), ` +
      `${(median(xs) / base).toFixed(2)} × single Redis`,
  );
}
