// Issue 4's acceptance test: connections are cut and silenced at random while clients publish on
// several channels; every client must end with every message of every channel exactly once, in
// order, and every publish must be applied exactly once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelMessage, RealtimeClient } from '../src/client/index.js';
import { MemoryAdapter } from '../src/server/index.js';
import { chaosProxy, client, startServer, until } from './helpers.js';

const CLIENTS = 6;
const CHANNELS = ['alpha', 'beta', 'gamma'];
const PUBLISHES_PER_CLIENT = 60;

for (const transport of ['websocket', 'sse', 'polling'] as const) {
  describe(`recovery under random connection loss (${transport})`, () => {
    it('every client receives every message once, in order, and no publish applies twice', {
      timeout: 120_000,
    }, async () => {
      const adapter = new MemoryAdapter({ history: { maxMessages: 10_000 } });
      const { server, port } = await startServer({ adapter, heartbeatIntervalMs: 200, rateLimit: false });
      const proxy = await chaosProxy(port);
      const url = `ws://127.0.0.1:${proxy.port}/realtime`;
      const clients: RealtimeClient[] = [];
      try {
        const received: Array<Record<string, ChannelMessage<string>[]>> = [];
        let reconnects = 0;
        for (let i = 0; i < CLIENTS; i++) {
          const c = client(url, {
            reconnect: { initialDelayMs: 10, maxDelayMs: 150 },
            transports: [transport],
          });
          c.on('state', (s) => {
            if (s === 'reconnecting') reconnects++;
          });
          const got: Record<string, ChannelMessage<string>[]> = {};
          for (const name of CHANNELS) {
            got[name] = [];
            c.channel<string>(name).on('message', (m) => got[name]!.push(m));
          }
          clients.push(c);
          received.push(got);
        }
        await Promise.all(clients.flatMap((c) => CHANNELS.map((n) => c.channel(n).subscribe())));

        // Chaos: cut a random connection every 40-120 ms, and now and then silence one.
        let chaos = true;
        let cuts = 0;
        let silenced = 0;
        let killed = 0;
        const chaosLoop = (async () => {
          while (chaos) {
            await new Promise((r) => setTimeout(r, 40 + Math.random() * 80));
            if (!chaos) break;
            const r = Math.random();
            if (r < 0.1) {
              if (proxy.silence()) silenced++;
            } else if (r < 0.3) {
              // The server drops a session (all transports: a WebSocket or an HTTP session).
              const conns = [...server.connections.values()];
              conns[Math.floor(Math.random() * conns.length)]?.ws.terminate();
              killed++;
            } else if (proxy.cut()) cuts++;
          }
        })();

        // Every client publishes its messages, spread over the channels, while connections die.
        const sent: Record<string, Set<string>> = Object.fromEntries(
          CHANNELS.map((n) => [n, new Set<string>()]),
        );
        const acks = await Promise.all(
          clients.map(async (c, ci) => {
            const results = [];
            for (let k = 0; k < PUBLISHES_PER_CLIENT; k++) {
              const ch = CHANNELS[(ci + k) % CHANNELS.length]!;
              const body = `c${ci}-m${k}`;
              sent[ch]!.add(body);
              // Not awaited one by one: several publishes are in flight across reconnects.
              results.push(c.channel<string>(ch).publish('say', body));
              await new Promise((r) => setTimeout(r, Math.random() * 100)); // ~3 s of publishing
            }
            return Promise.all(results);
          }),
        );
        chaos = false;
        await chaosLoop;

        const total = Object.fromEntries(CHANNELS.map((n) => [n, sent[n]!.size]));
        await until(
          () => received.every((got) => CHANNELS.every((n) => got[n]!.length >= total[n]!)),
          30_000,
          'every client to catch up',
        );
        await new Promise((r) => setTimeout(r, 300)); // a straggling duplicate would show up here

        for (const [ci, got] of received.entries()) {
          for (const n of CHANNELS) {
            const list = got[n]!;
            assert.deepEqual(
              list.map((m) => m.offset),
              Array.from({ length: total[n]! }, (_, i) => i + 1),
              `client ${ci} channel ${n}: offsets must be 1..${total[n]} once each, in order`,
            );
            assert.deepEqual(
              new Set(list.map((m) => m.data)),
              sent[n],
              `client ${ci} channel ${n}: the published set`,
            );
          }
        }
        // Each publish applied exactly once: the channel holds exactly what was published.
        for (const n of CHANNELS) {
          const h = await adapter.history(n, { epoch: (await adapter.position(n)).epoch, offset: 0 });
          assert.ok(h.ok);
          assert.equal(h.entries.length, sent[n]!.size, `channel ${n} holds each publish once`);
        }
        const offsets = acks.flat().map((a) => a.offset);
        assert.equal(offsets.length, CLIENTS * PUBLISHES_PER_CLIENT);
        console.log(
          `# ${transport}: ${cuts} TCP connections cut, ${killed} sessions killed by the server, ${silenced} silenced, ${reconnects} reconnects, ${acks.flat().filter((a) => a.duplicate).length} publishes acknowledged as retries`,
        );
        assert.ok(cuts >= 10, `the chaos must actually have cut connections (cut ${cuts})`);
        assert.ok(reconnects >= 5, `clients must actually have reconnected (${reconnects})`);
      } finally {
        for (const c of clients) c.close();
        await proxy.close();
        await server.close();
      }
    });
  });
}
