// The whole stack in Node: EditorSessions on RealtimeClients edit one document through the
// editor's RealtimeServer while the server drops connections and restarts (same store, new
// channel epoch); edits made meanwhile are kept and merged, and every session ends with the
// server's text. Seeded (EDITOR_SEED), the seed printed on failure.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { RealtimeClient, type WebSocketConstructor } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { insert, remove } from 'ot-text-unicode';
import { createEditorApp, startEditor } from '../server.js';
import { codePointLength } from '../src/code-points.js';
import { MemoryDocumentStore } from '../src/document-store.js';
import { diff, EditorSession } from '../src/editor-session.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const turn = () => new Promise((r) => setImmediate(r));

describe('editor sessions over the realtime stack', () => {
  const clients: RealtimeClient[] = [];
  let stop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const c of clients) c.close();
    await stop?.();
  });

  it('diff turns one text into another in code points, never splitting a surrogate pair', () => {
    assert.deepEqual(diff('a😀b', 'a😁b'), [1, { d: 1 }, '😁']);
    assert.deepEqual(diff('abc', 'abXc'), [2, 'X']);
    assert.deepEqual(diff('héllo', 'hllo'), [1, { d: 1 }]);
    assert.deepEqual(diff('same', 'same'), []);
  });

  it('mounts under a base path of another HTTP server', { timeout: 20_000 }, async () => {
    const server = http.createServer((req, res) => {
      if (!app.handleRequest(req, res)) res.writeHead(404).end('not the editor');
    });
    const app = await createEditorApp({ server, basePath: '/editor' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await (await fetch(`${base}/editor/`)).text();
      assert.match(page, /src="\/editor\/editor.js"/);
      assert.match(page, /content="\/editor\/realtime"/);
      assert.equal((await fetch(`${base}/editor/editor.js`)).status, 200);
      assert.equal((await fetch(`${base}/`)).status, 404);
      const client = new RealtimeClient(`${base.replace('http', 'ws')}/editor/realtime`, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        token: 'eve',
        reconnect: false,
      });
      clients.push(client);
      const s = new EditorSession(client, 'mounted');
      await s.start();
      s.edit(insert(0, 'hi'));
      await waitFor('the edit to commit', () => !s.pending);
      assert.equal((await app.service.open('mounted')).text, 'hi');
      client.close();
    } finally {
      await app.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('edits typed offline survive a reload of the page (storage) and merge once', {
    timeout: 30_000,
  }, async () => {
    const store = new MemoryDocumentStore();
    let editor = await startEditor({ port: 0, host: '127.0.0.1', store });
    const port = editor.port;
    try {
      const saved = new Map<string, string>();
      const storage = {
        getItem: (k: string) => saved.get(k) ?? null,
        setItem: (k: string, v: string) => void saved.set(k, v),
        removeItem: (k: string) => void saved.delete(k),
      };
      const connect = () => {
        const c = new RealtimeClient(`ws://127.0.0.1:${port}/realtime`, {
          WebSocket: WebSocket as unknown as WebSocketConstructor,
          token: 'ann',
          reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        });
        clients.push(c);
        return c;
      };
      const first = new EditorSession(connect(), 'reload', { storage });
      await first.start();
      first.edit(insert(0, 'saved. '));
      await waitFor('the first edit to commit', () => !first.pending);
      await editor.close();
      first.edit(insert(7, 'typed offline'));
      first.close(); // the tab is closed while offline
      first.client.close();
      assert.ok(saved.has('ieum-editor:reload'));

      editor = await startEditor({ port, host: '127.0.0.1', store });
      const again = new EditorSession(connect(), 'reload', { storage });
      assert.equal(again.id, first.id);
      await again.start();
      await waitFor('the offline edit to commit', () => !again.pending);
      assert.equal((await editor.app.service.open('reload')).text, 'saved. typed offline');
      assert.equal(again.text, 'saved. typed offline');
      await waitFor('the saved state to be dropped', () => !saved.has('ieum-editor:reload'));
    } finally {
      await editor.close();
    }
  });

  it('shows remote cursors through presence: a late joiner sees them, a closed tab takes its own', {
    timeout: 20_000,
  }, async () => {
    const editor = await startEditor({ port: 0, host: '127.0.0.1', store: new MemoryDocumentStore() });
    try {
      const connect = (token: string) => {
        const c = new RealtimeClient(`ws://127.0.0.1:${editor.port}/realtime`, {
          WebSocket: WebSocket as unknown as WebSocketConstructor,
          token,
          reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        });
        clients.push(c);
        return c;
      };
      const ann = new EditorSession(connect('ann'), 'cursors');
      await ann.start();
      ann.edit(insert(0, 'hello world'), [6, 11]);
      await waitFor('the edit to commit', () => !ann.pending);
      ann.select([2, 4]);
      // Ann's second tab: same user, its own cursor.
      const annTab = new EditorSession(connect('ann'), 'cursors');
      await annTab.start();
      annTab.select([0, 1]);
      // Bob joins late: the member list brings the cursors set before he came.
      const bob = new EditorSession(connect('bob'), 'cursors');
      await bob.start();
      const cursorOf = (s: EditorSession, src: string) => s.remoteCursors().find((c) => c.src === src);
      await waitFor(
        "both of ann's cursors at bob",
        () =>
          JSON.stringify(cursorOf(bob, ann.id)?.sel) === '[2,4]' &&
          JSON.stringify(cursorOf(bob, annTab.id)?.sel) === '[0,1]',
      );
      assert.equal(cursorOf(bob, ann.id)?.user, 'ann');
      // A cursor moves along with another's edit: bob types at 0, ann's selection shifts.
      bob.select([0, 0]);
      bob.edit(insert(0, '>> '), [3, 3]);
      await waitFor(
        "ann's cursor moved past bob's insert",
        () => JSON.stringify(cursorOf(bob, ann.id)?.sel) === '[5,7]',
      );
      await waitFor("bob's cursor at ann", () => cursorOf(ann, bob.id) !== undefined);
      // Ann closes one tab: its cursor goes, she stays present with the other.
      annTab.close();
      annTab.client.close();
      await waitFor("the closed tab's cursor gone", () => cursorOf(bob, annTab.id) === undefined);
      assert.ok(cursorOf(bob, ann.id), 'the open tab keeps its cursor');
      assert.ok(bob.members.has('ann'));
      assert.equal(cursorOf(bob, bob.id), undefined, 'a session never shows its own cursor as remote');
    } finally {
      await editor.close();
    }
  });

  it('converge through dropped connections and a server restart', { timeout: 90_000 }, async (t) => {
    const seed = process.env.EDITOR_SEED
      ? Number(process.env.EDITOR_SEED)
      : Math.floor(Math.random() * 2 ** 31);
    const rand = prng(seed);
    t.diagnostic(`EDITOR_SEED=${seed}`);
    const t0 = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} after ${Date.now() - t0} ms`);
    const store = new MemoryDocumentStore(); // outlives both server processes, as a database would
    let editor = await startEditor({ port: 0, host: '127.0.0.1', store, limits: { snapshotEvery: 10 } });
    const port = editor.port;
    stop = () => editor.close();
    const sessions: EditorSession[] = [];
    for (const name of ['ann', 'bob', 'cy', 'dee']) {
      const client = new RealtimeClient(`ws://127.0.0.1:${port}/realtime`, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        token: name,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      });
      clients.push(client);
      const s = new EditorSession(client, 'shared');
      await s.start();
      sessions.push(s);
    }
    const randomEdit = (s: EditorSession) => {
      const len = codePointLength(s.text);
      if (len > 3 && rand() < 0.35) s.edit(remove(Math.floor(rand() * (len - 2)), 2));
      else
        s.edit(
          insert(Math.floor(rand() * (len + 1)), ['x', 'ㅎ', '😀', 'é ', '\n'][Math.floor(rand() * 5)]!),
        );
    };
    try {
      for (let step = 0; step < 300; step++) {
        randomEdit(sessions[Math.floor(rand() * sessions.length)]!);
        if (rand() < 0.5) await turn();
        if (step % 40 === 39) {
          const conns = [...editor.app.realtime.connections.values()];
          conns[Math.floor(rand() * conns.length)]?.ws.terminate();
        }
        if (step === 150) {
          // Restart: the server goes away; everyone keeps typing offline; a new process on the
          // same port and store takes over (the memory adapter's channels start a new epoch).
          await editor.close();
          for (let k = 0; k < 12; k++) randomEdit(sessions[k % sessions.length]!);
          assert.ok(sessions.some((s) => s.pending));
          editor = await startEditor({ port, host: '127.0.0.1', store, limits: { snapshotEvery: 10 } });
          phase('first restart');
        }
      }
      phase('random edits');
      // Once more, everyone types while the server is down; nothing else touches these words.
      await editor.close();
      phase('second stop');
      for (const [i, s] of sessions.entries()) s.edit(insert(0, `<offline-${i}>`));
      assert.ok(sessions.every((s) => s.pending));
      editor = await startEditor({ port, host: '127.0.0.1', store, limits: { snapshotEvery: 10 } });
      await waitFor('every session to settle on the server text', async () => {
        const server = await editor.app.service.open('shared');
        return sessions.every((s) => !s.pending && s.ot?.version === server.v && s.text === server.text);
      });
      phase('settled');
      const final = await editor.app.service.open('shared');
      for (const s of sessions) assert.equal(s.text, final.text);
      for (const i of sessions.keys())
        assert.ok(final.text.includes(`<offline-${i}>`), `offline edit ${i} lost`);
      // Everyone sees everyone (presence), after the restart too.
      await waitFor('presence', () => sessions.every((s) => s.members.size === 4));
    } catch (error) {
      console.error(`editor session test failed with EDITOR_SEED=${seed}`);
      throw error;
    }
  });
});
