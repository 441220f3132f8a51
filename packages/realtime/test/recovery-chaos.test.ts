// Issue 4's acceptance test: connections are cut and silenced at random while clients publish on
// several channels; every client must end with every message of every channel exactly once, in
// order, and every publish must be applied exactly once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RealtimeClient } from '../src/client/index.js';
import { MemoryAdapter } from '../src/server/index.js';
import { chaosProxy, client, exactlyOnceUnderChaos, startServer } from './helpers.js';

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
        let reconnects = 0;
        for (let i = 0; i < CLIENTS; i++) {
          const c = client(url, {
            reconnect: { initialDelayMs: 10, maxDelayMs: 150 },
            transports: [transport],
          });
          c.on('state', (s) => {
            if (s === 'reconnecting') reconnects++;
          });
          clients.push(c);
        }
        // Chaos: cut a random connection every 40-120 ms, and now and then silence one, or have
        // the server drop a session (all transports: a WebSocket or an HTTP session).
        let cuts = 0;
        let silenced = 0;
        let killed = 0;
        const acks = await exactlyOnceUnderChaos({
          clients,
          channels: CHANNELS,
          publishesPerClient: PUBLISHES_PER_CLIENT,
          maxPauseMs: 100, // ~3 s of publishing
          adapter,
          chaosStep: () => {
            const r = Math.random();
            if (r < 0.1) {
              if (proxy.silence()) silenced++;
            } else if (r < 0.3) {
              const conns = [...server.connections.values()];
              conns[Math.floor(Math.random() * conns.length)]?.ws.terminate();
              killed++;
            } else if (proxy.cut()) cuts++;
          },
        });
        console.log(
          `# ${transport}: ${cuts} TCP connections cut, ${killed} sessions killed by the server, ${silenced} silenced, ${reconnects} reconnects, ${acks.filter((a) => a.duplicate).length} publishes acknowledged as retries`,
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
