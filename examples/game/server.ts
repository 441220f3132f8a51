// A 60 Hz multiplayer arena on @ieum/realtime: http://localhost:8083. Move with WASD or the arrow
// keys, collect orbs. The server simulates; the page predicts its own player, interpolates the
// others and draws binary delta snapshots. README.md explains the netcode.
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RealtimeServer } from '@ieum/realtime/server';
import { build } from 'esbuild';
import { GameServer, type GameServerOptions, playerName } from './src/game-server.js';

export interface GameAppOptions extends GameServerOptions {
  /** The HTTP server to serve the page and the realtime endpoint on. */
  server: Server;
  /** URL prefix of the app, e.g. `/game` (no trailing slash). Default `` (the root). */
  basePath?: string;
}

export interface GameApp {
  readonly rt: RealtimeServer;
  readonly game: GameServer;
  /** The realtime endpoint's path (`<basePath>/realtime`). */
  readonly realtimePath: string;
  /** Serves the page, script and icon under `basePath`; false for other requests. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Stops the simulation and closes every game connection (not the HTTP server). */
  close(): Promise<void>;
}

/** Bundles the browser client (no Node code in it). */
async function bundleClient(): Promise<Uint8Array> {
  const out = await build({
    entryPoints: [new URL('./src/client/main.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['ieum-source'],
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.contents;
}

/**
 * Mounts the game on `server` under `basePath`: call `handleRequest(req, res)` from the server's
 * request handler (upgrades to `<basePath>/realtime` are taken by the game's `RealtimeServer`).
 * Starts the simulation. Resolves once the browser bundle is built.
 */
export async function createGameApp(options: GameAppOptions): Promise<GameApp> {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !/^\/[a-z0-9/_-]+$/i.test(basePath)) {
    throw new RangeError('basePath must look like "/game"');
  }
  const page = readFileSync(new URL('./index.html', import.meta.url));
  const icon = readFileSync(new URL('./favicon.svg', import.meta.url));
  const script = await bundleClient();
  const realtimePath = `${basePath}/realtime`;
  const rt = new RealtimeServer({
    server: options.server,
    path: realtimePath,
    httpFallback: false,
    // The player's name is the token; a real game would use jwtAuthenticator.
    authenticate: ({ token }) => ({ user: playerName(token) }),
    // Inputs come at up to 60 messages a second; a little headroom for pings and bursts.
    rateLimit: { messagesPerSecond: 90, burst: 180 },
    maxMessageBytes: 4 * 1024,
    // A snapshot superseded while queued is replaced: a slow client gets fresh state, no backlog.
    // A small high-water mark makes that kick in after a few snapshots, not seconds of them.
    outbound: { policy: 'latest', highWaterBytes: 16 * 1024 },
  });
  // Errors of single connections are reported by the realtime server; the game goes on.
  rt.on('error', (error: Error) => console.error('game:', error.message));
  const game = new GameServer(rt, options);
  game.start();
  const files: Record<string, [string, Uint8Array]> = {
    '/': ['text/html; charset=utf-8', page],
    '/index.html': ['text/html; charset=utf-8', page],
    '/game.js': ['text/javascript; charset=utf-8', script],
    '/favicon.svg': ['image/svg+xml', icon],
  };
  return {
    rt,
    game,
    realtimePath,
    handleRequest(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      if (basePath !== '' && path === basePath) {
        res.writeHead(301, { location: `${basePath}/` }).end();
        return true;
      }
      if (!path.startsWith(`${basePath}/`)) return false;
      const file = files[path.slice(basePath.length)];
      if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      res.writeHead(200, { 'content-type': file[0], 'content-length': file[1].byteLength });
      res.end(req.method === 'HEAD' ? undefined : file[1]);
      return true;
    },
    async close() {
      game.stop();
      await rt.close();
    },
  };
}

/** Starts the game alone on its own HTTP server. Resolves once listening. */
export async function startGame(options: { port?: number; host?: string } & GameServerOptions = {}) {
  const server = http.createServer((req, res) => {
    if (!app.handleRequest(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
  });
  const app = await createGameApp({ ...options, server });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8083, options.host ?? '127.0.0.1', resolve);
  });
  return { server, app, port: (server.address() as AddressInfo).port };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port, server } = await startGame({
    port: Number(process.env.PORT ?? 8083),
    host: process.env.HOST ?? '127.0.0.1',
  });
  console.log(`ieum arena: open http://localhost:${port} (several tabs make several players)`);
  const host = (server.address() as AddressInfo).address;
  if (host !== '127.0.0.1') console.log(`listening on ${host}`);
}
