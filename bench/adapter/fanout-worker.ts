// One process of the adapter fan-out bench (fanout.ts): a RedisAdapter (or a NatsAdapter, for a
// backend `{ nats: { servers } }`) subscribed to every channel; on "go" it publishes its share round-robin over the channels, and reports once it has
// received every message published by all workers.
import { NatsAdapter } from '@ieum/nats';
import type { Adapter } from '@ieum/realtime/adapter';
import { RedisAdapter, type RedisAdapterOptions } from '@ieum/redis';

const [backendJson, prefix, channelCount, perWorker, workers] = process.argv.slice(2);
const backend = JSON.parse(backendJson!) as RedisAdapterOptions & { nats?: { servers: string } };
const channels = Array.from({ length: Number(channelCount) }, (_, i) => `bench-${i}`);
const share = Number(perWorker);
const expected = share * Number(workers);
const adapter: Adapter = backend.nats
  ? new NatsAdapter({
      servers: backend.nats.servers,
      prefix: prefix!.replace(/\W/g, ''),
      history: { maxMessages: 100 },
    })
  : new RedisAdapter({ ...backend, keyPrefix: prefix!, history: { maxMessages: 100 } });
let received = 0;
let started = 0;
const listener = () => {
  if (++received === expected) {
    process.send!({ done: performance.now() - started });
  }
};
await Promise.all(channels.map((c) => adapter.subscribe(c, listener)));
process.send!({ ready: true });
process.on('message', async (m: { go?: boolean; stop?: boolean }) => {
  if (m.stop) {
    await adapter.close();
    process.exit(0);
  }
  if (!m.go) return;
  started = performance.now();
  const payload = { ev: 'tick', d: 'x'.repeat(100) };
  // 64 publishes in flight at a time.
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < share) {
        const i = next++;
        await adapter.publish(channels[i % channels.length]!, payload);
      }
    }),
  );
});
