// The apps the showcase mounts. Adding one is one entry here: a name (its URL is `/<name>/`), the
// words on its home page card, and a `mount` that puts it on the showcase's HTTP server.
import type http from 'node:http';
import type { RealtimeServer } from '@ieum/realtime/server';
import { createEditorApp } from '../editor/src/editor-app.js';
import { createGameApp } from '../game/server.js';
import { createChatApp } from '../realtime-chat/chat-app.js';

/** An app mounted on the showcase's HTTP server. */
export interface MountedApp {
  /** Its RealtimeServer, if it has one: the dashboard watches it. */
  // biome-ignore lint/suspicious/noExplicitAny: apps type their servers with their own event maps
  readonly realtime?: RealtimeServer<any>;
  /** Serves its pages (and realtime fallbacks) under its base path; false for other URLs. */
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** Closes its connections (clients reconnect) and timers; not the HTTP server. */
  close(): Promise<void>;
}

/** Where and how an app is mounted. */
export interface MountContext {
  server: http.Server;
  /** `/<name>`: the app's pages and its realtime endpoint live under it. */
  basePath: string;
}

/** One app of the showcase. */
export interface ShowcaseApp {
  /** URL segment and dashboard name: `a-z`, `0-9`, `-`. */
  name: string;
  title: string;
  /** One or two sentences for the home page card. */
  description: string;
  /** What it shows of ieum, as short tags. */
  tags: string[];
  /** Card colour (CSS). */
  accent: string;
  mount(context: MountContext): Promise<MountedApp>;
}

/** The apps of `npm start`, in home page order. */
export const apps: ShowcaseApp[] = [
  {
    name: 'chat',
    title: 'Chat rooms',
    description:
      'Rooms with history, presence and a nickname kept across restarts. Messages typed offline show as pending and are sent exactly once when the server is back.',
    tags: ['channels', 'presence', 'recovery', 'SSE / polling fallback'],
    accent: '#6366f1',
    mount: (context) => createChatApp(context),
  },
  {
    name: 'editor',
    title: 'Collaborative editor',
    description:
      'Plain text edited by many people at once with operational transformation: remote cursors through presence, offline edits merged on reconnect.',
    tags: ['OT', 'presence cursors', 'offline edits'],
    accent: '#10b981',
    mount: (context) => createEditorApp(context),
  },
  {
    name: 'game',
    title: 'Arena at 60 Hz',
    description:
      'An authoritative multiplayer game: binary delta snapshots, client-side prediction and interpolation, and fresh state (never a backlog) for a slow client.',
    tags: ['60 Hz tick', 'binary', 'latest-value policy'],
    accent: '#f59e0b',
    mount: async (context) => {
      const game = await createGameApp(context);
      return { realtime: game.rt, handleRequest: game.handleRequest, close: game.close };
    },
  },
];
