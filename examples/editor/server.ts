// The collaborative editor on @ieum/realtime: http://localhost:8082 (`npm run example:editor`).
// Documents are plain text edited by many people at once with operational transformation
// (ot-text-unicode); see README.md. Documents survive a restart with DATABASE_URL (PostgreSQL) or
// REDIS_URL (Redis); without either they live in memory.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DocumentStore } from './src/document-store.js';
import { createEditorApp, type EditorAppOptions } from './src/editor-app.js';
import { PostgresDocumentStore } from './src/postgres-document-store.js';
import { RedisDocumentStore } from './src/redis-document-store.js';

export { DocumentService, type DocumentServiceOptions } from './src/document-service.js';
export { DocumentConflictError, type DocumentStore, MemoryDocumentStore } from './src/document-store.js';
export {
  createEditorApp,
  type EditorApp,
  type EditorAppOptions,
  editorAuthorizeChannel,
} from './src/editor-app.js';
export { PostgresDocumentStore } from './src/postgres-document-store.js';
export { RedisDocumentStore } from './src/redis-document-store.js';

/** Starts the editor on its own HTTP server. Resolves once listening. */
export async function startEditor(
  options: { port?: number; host?: string } & Omit<EditorAppOptions, 'server' | 'realtime'> = {},
) {
  const server = http.createServer((req, res) => {
    if (!app.handleRequest(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
  });
  const app = await createEditorApp({ ...options, server });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 8082, options.host ?? '127.0.0.1', resolve),
  );
  return {
    server,
    app,
    port: (server.address() as AddressInfo).port,
    async close() {
      // Stop accepting first: clients reconnect at once, and one that got in while the realtime
      // server was closing would keep the HTTP server open.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** The store named by the environment: DATABASE_URL (PostgreSQL), else REDIS_URL (Redis), else memory. */
export function storeFromEnv(env = process.env): { store?: DocumentStore; name: string } {
  if (env.DATABASE_URL)
    return { store: new PostgresDocumentStore({ connectionString: env.DATABASE_URL }), name: 'PostgreSQL' };
  if (env.REDIS_URL) return { store: new RedisDocumentStore({ url: env.REDIS_URL }), name: 'Redis' };
  return { name: 'memory (set DATABASE_URL or REDIS_URL to keep documents across restarts)' };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { store, name } = storeFromEnv();
  const editor = await startEditor({
    port: Number(process.env.PORT ?? 8082),
    host: process.env.HOST ?? '127.0.0.1',
    ...(store ? { store } : {}),
  });
  const shown = process.env.HOST && process.env.HOST !== '127.0.0.1' ? process.env.HOST : 'localhost';
  console.log(
    `ieum collaborative editor: open http://${shown}:${editor.port} (several tabs); documents in ${name}`,
  );
  const stop = () => void editor.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
