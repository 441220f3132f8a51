// The server under attack, in a process of its own (started with a bounded heap) so that a crash
// or an out-of-memory abort is seen and reported by the test instead of taking the runner down.
// Default options, except what the attacks need: permessage-deflate (item 12 attacks it) and an
// `authenticate` hook (presence, item 9, needs users: a token names the user; without one each
// connection is a user of its own, as anonymous as the default). The bystander's `echo` handler
// is the only application code.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RealtimeServer } from '../../../src/server/index.js';

export interface ServerSample {
  type: 'sample';
  at: number;
  rssMiB: number;
  heapMiB: number;
  externalMiB: number;
  /** Event-loop delay over the sample's interval, in milliseconds. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** CPU time used during the interval, in milliseconds (user + system, all threads). */
  cpuMs: number;
  /** Realtime connections that said hello; WebSocket connections open. */
  connections: number;
  sockets: number;
  /** Sum of `bufferedAmount` over the open WebSocket connections, in MiB. */
  bufferedMiB: number;
}

export type ServerMessage =
  | { type: 'listening'; port: number; pid: number }
  | ServerSample
  | { type: 'final'; disconnects: Record<string, number>; errors: number; lastErrors: string[] };

const SAMPLE_EVERY_MS = 250;
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const send = (m: ServerMessage) => process.connected && process.send!(m);

let anonymous = 0;
const rt = new RealtimeServer({
  port: 0,
  host: '127.0.0.1',
  perMessageDeflate: true,
  authenticate: ({ token }) => ({ user: token ?? `anonymous-${++anonymous}` }),
});
rt.handle('echo', (data: unknown) => data);
let errors = 0;
const lastErrors: string[] = [];
rt.on('error', (error) => {
  errors++;
  if (lastErrors.length < 5) lastErrors.push(error.message);
});

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
let cpu = process.cpuUsage();
let last = Date.now();
const sampler = setInterval(() => {
  // How late this tick is: a loop frozen for seconds shows here even if the histogram does not.
  const now = Date.now();
  const late = Math.max(0, now - last - SAMPLE_EVERY_MS);
  last = now;
  const m = process.memoryUsage();
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  let buffered = 0;
  for (const ws of rt.wss.clients) buffered += ws.bufferedAmount;
  send({
    type: 'sample',
    at: now,
    rssMiB: MiB(m.rss),
    heapMiB: MiB(m.heapUsed),
    externalMiB: MiB(m.external),
    loopDelayMaxMs: Math.max(late, Math.round(delay.max / 1e6)),
    loopDelayP99Ms: Math.round(delay.percentile(99) / 1e6),
    cpuMs: Math.round((used.user + used.system) / 1000),
    connections: rt.connections.size,
    sockets: rt.wss.clients.size,
    bufferedMiB: MiB(buffered),
  });
  delay.reset();
}, SAMPLE_EVERY_MS);

rt.on('listening', () => {
  const address = rt.address();
  if (address && typeof address === 'object')
    send({ type: 'listening', port: address.port, pid: process.pid });
});

process.on('message', async (m: { type: 'final' | 'close' }) => {
  if (m.type === 'final') {
    const disconnects: Record<string, number> = {};
    for (const v of (await rt.metrics!.disconnects.get()).values)
      disconnects[String(v.labels.code)] = v.value;
    send({ type: 'final', disconnects, errors, lastErrors });
  } else if (m.type === 'close') {
    clearInterval(sampler);
    await rt.close({ timeoutMs: 2000 });
    process.exit(0);
  }
});
// The test runner went away: do not outlive it.
process.on('disconnect', () => process.exit(0));
