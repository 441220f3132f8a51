// The live dashboard on a busy RealtimeServer: http://localhost:8084/dashboard/ (the token is
// printed below; set DASHBOARD_TOKEN to choose it). Bots publish in a few rooms, and one
// listener is disconnected now and then so that reconnects and recovery show up.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dashboard, mountDashboard } from '@ieum/dashboard';
import { DisconnectCode, RealtimeServer } from '@ieum/realtime/server';
import { startTraffic, type Traffic } from './traffic.js';

export interface DashboardDemoOptions {
  port?: number;
  host?: string;
  /** Default: `DASHBOARD_TOKEN`, else a random one. */
  token?: string;
  /** Run the bots. Default true. */
  traffic?: boolean;
  /** Milliseconds between forced reconnects of one bot (0: never). Default 5,000. */
  bounceEveryMs?: number;
}

/** Starts the demo server, its dashboard and its bots. Resolves once listening. */
export async function startDashboardDemo(options: DashboardDemoOptions = {}) {
  const token = options.token ?? process.env.DASHBOARD_TOKEN ?? randomBytes(18).toString('base64url');
  const server = http.createServer((req, res) => {
    if (dashboard.handleRequest(req, res)) return;
    if (req.url === '/metrics') return rt.metrics!.handler()(req, res);
    if (req.url === '/' || req.url === '/favicon.ico') {
      res.writeHead(302, { location: '/dashboard/' }).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
  });
  const rt = new RealtimeServer({
    server,
    authenticate: ({ token: name }) => ({ user: name ?? 'anonymous' }),
  });
  const dashboard: Dashboard = mountDashboard(rt, { server, token, path: '/dashboard' });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 8084, options.host ?? '127.0.0.1', resolve),
  );
  const port = (server.address() as AddressInfo).port;
  let traffic: Traffic | undefined;
  if (options.traffic !== false) traffic = await startTraffic({ url: `ws://127.0.0.1:${port}/realtime` });
  const every = options.bounceEveryMs ?? 5000;
  const bounce =
    every > 0
      ? setInterval(() => {
          const listener = [...rt.connections.values()].find((c) => c.user?.includes('listener'));
          listener?.close(DisconnectCode.SERVICE_RESTART, 'demo: reconnect and recover');
        }, every)
      : undefined;
  return {
    server,
    rt,
    dashboard,
    token,
    port,
    traffic,
    async close() {
      clearInterval(bounce);
      traffic?.stop();
      await dashboard.close();
      await rt.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = process.env.HOST ?? '127.0.0.1';
  const demo = await startDashboardDemo({ port: Number(process.env.PORT ?? 8084), host });
  const shown = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
  console.log(`ieum dashboard: open http://${shown}:${demo.port}/dashboard/#token=${demo.token}`);
  console.log(`(Prometheus text format of the same server: http://${shown}:${demo.port}/metrics)`);
  const stop = () => void demo.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
