// `npm start`: every example app on one server, http://localhost:8080, with a home page linking
// them and the live dashboard watching them all. HOST and PORT are honoured (default 127.0.0.1:8080);
// DASHBOARD_TOKEN sets the dashboard's token (default: a random one, printed).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dashboard, mountDashboard } from '@ieum/dashboard';
import type { RealtimeServer } from '@ieum/realtime/server';
import { apps as defaultApps, type MountedApp, type ShowcaseApp } from './apps.js';
import { FAVICON, homePage } from './home-page.js';

export interface ShowcaseOptions {
  port?: number;
  /** Default `127.0.0.1`: reachable from this machine only. */
  host?: string;
  /** The dashboard's token. Default: `DASHBOARD_TOKEN`, else a random one. */
  dashboardToken?: string;
  /** Default: every app of `apps.ts`. */
  apps?: ShowcaseApp[];
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Starts the showcase. Resolves once listening. */
export async function startShowcase(options: ShowcaseOptions = {}) {
  const host = options.host ?? '127.0.0.1';
  const token =
    options.dashboardToken ?? process.env.DASHBOARD_TOKEN ?? randomBytes(18).toString('base64url');
  const list = options.apps ?? defaultApps;
  const mounted: Array<[ShowcaseApp, MountedApp]> = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
        .end(home);
      return;
    }
    if (path === '/favicon.svg' || path === '/favicon.ico') {
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' }).end(FAVICON);
      return;
    }
    for (const [, app] of mounted) if (app.handleRequest(req, res)) return;
    if (dashboard.handleRequest(req, res)) return;
    res
      .writeHead(404, { 'content-type': 'text/html; charset=utf-8' })
      .end('<p>Not found. <a href="/">ieum showcase</a></p>');
  });
  for (const app of list) {
    if (!/^[a-z0-9-]+$/.test(app.name) || app.name === 'dashboard')
      throw new TypeError(`bad app name ${app.name}`);
    mounted.push([app, await app.mount({ server, basePath: `/${app.name}` })]);
  }
  const watched: Record<string, RealtimeServer> = {};
  for (const [app, m] of mounted) if (m.realtime) watched[app.name] = m.realtime;
  const dashboard: Dashboard = mountDashboard(watched, { server, token, path: '/dashboard' });
  // Only a visitor of a loopback-bound showcase is the one who started it: the link carries the token.
  const local = LOOPBACK.has(host);
  const home = homePage({
    apps: list,
    dashboardHref: local ? `/dashboard/#token=${encodeURIComponent(token)}` : '/dashboard/',
    dashboardNote: local ? '' : 'Its token was printed where the showcase was started.',
  });
  // An upgrade no app takes is refused (each RealtimeServer ignores paths not its own).
  const paths = new Set([...mounted.map(([app]) => `/${app.name}/realtime`), '/dashboard/realtime']);
  server.on('upgrade', (req, socket) => {
    if (!paths.has((req.url ?? '').split('?')[0]!)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    token,
    dashboard,
    apps: Object.fromEntries(mounted.map(([a, m]) => [a.name, m])),
    /** Closes every app (clients reconnect and recover when it is back), the dashboard and the server. */
    async close() {
      await Promise.all(mounted.map(([, m]) => m.close()));
      await dashboard.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = process.env.HOST ?? '127.0.0.1';
  const showcase = await startShowcase({ port: Number(process.env.PORT ?? 8080), host });
  const shown = LOOPBACK.has(host) ? 'localhost' : host;
  const base = `http://${shown}:${showcase.port}`;
  console.log(`ieum showcase: open ${base}/ (several tabs; stop and restart: nothing typed is lost)`);
  for (const name of Object.keys(showcase.apps)) console.log(`  ${name.padEnd(10)} ${base}/${name}/`);
  console.log(`  ${'dashboard'.padEnd(10)} ${base}/dashboard/#token=${showcase.token}`);
  const stop = () => void showcase.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
