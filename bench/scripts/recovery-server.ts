// The server of bench/scripts/recovery.ts, in its own process: a RealtimeServer whose
// MemoryAdapter keeps 20,000 messages per channel. It sends { port } once listening and answers
// over IPC: { publish: n, size } (publishes n messages of `size` characters to channel "room",
// then answers { published }) and 'cpu' (answers its process.cpuUsage() in microseconds).
import { MemoryAdapter, RealtimeServer } from '@ieum/realtime/server';

const rt = new RealtimeServer({
  port: 0,
  host: '127.0.0.1',
  adapter: new MemoryAdapter({
    history: { maxMessages: 20_000, maxBytesPerChannel: 64 * 1024 * 1024 },
  }),
  metrics: false,
  httpFallback: false,
});
rt.on('error', (error: Error) => process.stderr.write(`realtime error: ${error.message}\n`));
rt.on('listening', () => process.send!({ port: (rt.address() as { port: number }).port }));

process.on('message', async (m: 'cpu' | { publish: number; size: number }) => {
  if (m === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ cpuUs: user + system });
    return;
  }
  const text = 'x'.repeat(m.size);
  for (let i = 0; i < m.publish; i++) await rt.publish('room', 'm', { i, text });
  process.send!({ published: m.publish });
});
process.on('disconnect', () => process.exit(0));
