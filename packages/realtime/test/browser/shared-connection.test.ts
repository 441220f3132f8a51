// Several tabs of one origin in Chromium share one server connection: counted on the server, kept
// across the leader tab closing mid-stream (nothing lost or duplicated in the other tabs), and
// publishes made offline kept in IndexedDB and delivered once after the browser restarts.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, launchChromium } from '../../../../scripts/chromium.js';
import { RealtimeServer } from '../../src/server/index.js';

const clientEntry = new URL('../../src/client/index.ts', import.meta.url).pathname;

type Got = Array<{ offset: number; event: string; data: unknown }>;
interface PageWindow {
  got: Got;
  client: { leader: boolean; state: string };
  room: { publish(event: string, data: unknown): Promise<unknown> };
}

/** Starts a client in the page and subscribes it to `room`, recording what it receives. */
async function startClient(page: Page, url: string): Promise<void> {
  await page.evaluate(async (url) => {
    const { RealtimeClient } = await import('/client.js' as string);
    const w = globalThis as unknown as Record<string, unknown>;
    const got: Got = [];
    const client = new RealtimeClient(url, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const room = client.channel('room');
    room.on('message', (m: { offset: number; event: string; data: unknown }) =>
      got.push({ offset: m.offset, event: m.event, data: m.data }),
    );
    Object.assign(w, { client, room, got });
    await room.subscribe();
  }, url);
}

const got = (page: Page) => page.evaluate(() => (globalThis as unknown as PageWindow).got);
const offsets = (list: Got) => list.map((m) => m.offset);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A realtime server on its own HTTP server (the pages come from another origin server). */
async function startRealtime(
  port = 0,
): Promise<{ rt: RealtimeServer; url: string; accepted: () => number; stop: () => Promise<void> }> {
  const server = http.createServer();
  const rt = new RealtimeServer({ server, heartbeatIntervalMs: 1000 });
  rt.handle('echo', (d: unknown) => d);
  let accepted = 0;
  rt.on('connection', () => accepted++);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    rt,
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime`,
    accepted: () => accepted,
    stop: async () => {
      await rt.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('realtime client shared across tabs (Chromium)', () => {
  let browser: Browser;
  let pages: http.Server;
  let origin: string;

  before(async () => {
    const bundle = await build({
      entryPoints: [clientEntry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0]!.text;
    pages = http.createServer((req, res) => {
      if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>ieum tabs</title>');
    });
    await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    pages.closeAllConnections();
    await new Promise<void>((r) => pages.close(() => r()));
  });

  async function openTabs(context: BrowserContext, n: number, url: string): Promise<Page[]> {
    const tabs: Page[] = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      await page.goto(origin);
      await startClient(page, url);
      tabs.push(page);
    }
    return tabs;
  }

  it('opens one server connection for three tabs, and every tab gets every message once', {
    timeout: 60_000,
  }, async () => {
    const server = await startRealtime();
    const context = await browser.newContext();
    try {
      const tabs = await openTabs(context, 3, server.url);
      assert.equal(server.rt.connections.size, 1);
      assert.equal(server.accepted(), 1);
      const leaders = await Promise.all(
        tabs.map((p) => p.evaluate(() => (globalThis as unknown as PageWindow).client.leader)),
      );
      assert.deepEqual(leaders, [true, false, false]);

      for (let i = 1; i <= 5; i++) await server.rt.publish('room', 'n', i);
      // A follower tab publishes through the leader's connection.
      await tabs[2]!.evaluate(() => (globalThis as unknown as PageWindow).room.publish('from-tab', 'hello'));
      for (const tab of tabs) {
        await waitFor('six messages in every tab', async () => (await got(tab)).length >= 6);
        const list = await got(tab);
        assert.deepEqual(offsets(list), range(6));
        assert.deepEqual(list.at(-1), { offset: 6, event: 'from-tab', data: 'hello' });
      }
      assert.equal(server.accepted(), 1, 'no tab opened a connection of its own');
    } finally {
      await context.close();
      await server.stop();
    }
  });

  it('answers a request made in the leader tab as its state turns open', { timeout: 60_000 }, async () => {
    // Regression: the leader's relay forgot requests sent between `open` and the welcome event.
    const server = await startRealtime();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(origin);
      const reply = await page.evaluate(async (url) => {
        const { RealtimeClient } = await import('/client.js' as string);
        const client = new RealtimeClient(url);
        return await new Promise((resolve, reject) => {
          client.on('state', (s: string) => {
            if (s === 'open') client.request('echo', 'hi', { timeoutMs: 5000 }).then(resolve, reject);
          });
        });
      }, server.url);
      assert.equal(reply, 'hi');
    } finally {
      await context.close();
      await server.stop();
    }
  });

  it('hands the connection over when the leader tab closes mid-stream, losing and repeating nothing', {
    timeout: 60_000,
  }, async () => {
    const server = await startRealtime();
    const context = await browser.newContext();
    try {
      const tabs = await openTabs(context, 3, server.url);
      const [leader, ...followers] = tabs;
      assert.ok(await leader!.evaluate(() => (globalThis as unknown as PageWindow).client.leader));

      const total = 60;
      let closed: Promise<void> | undefined;
      // Followers publish during the hand-over too: each must be stored once.
      const followerPublishes = followers[0]!.evaluate(async () => {
        const w = globalThis as unknown as PageWindow;
        const acks = [];
        for (let i = 1; i <= 5; i++) {
          acks.push(w.room.publish('tab', i));
          await new Promise((r) => setTimeout(r, 20));
        }
        await Promise.all(acks);
      });
      for (let i = 1; i <= total; i++) {
        await server.rt.publish('room', 'n', i);
        if (i === 20) closed = leader!.close();
        await new Promise((r) => setTimeout(r, 5));
      }
      await closed;
      await followerPublishes;
      for (const tab of followers) {
        await waitFor(
          'every message in the remaining tabs',
          async () => (await got(tab)).length >= total + 5,
          20_000,
        );
        const list = await got(tab);
        assert.deepEqual(offsets(list), range(total + 5), 'each offset once, in order');
        assert.deepEqual(
          list.filter((m) => m.event === 'n').map((m) => m.data),
          range(total),
        );
        assert.deepEqual(
          list
            .filter((m) => m.event === 'tab')
            .map((m) => m.data)
            .sort(),
          [1, 2, 3, 4, 5],
        );
      }
      await waitFor('one connection after the hand-over', () => server.rt.connections.size === 1);
      const newLeaders = await Promise.all(
        followers.map((p) => p.evaluate(() => (globalThis as unknown as PageWindow).client.leader)),
      );
      assert.equal(newLeaders.filter(Boolean).length, 1, 'exactly one remaining tab leads');
      assert.equal(server.accepted(), 2, 'the old leader connection and the new one');
    } finally {
      await context.close();
      await server.stop();
    }
  });

  it('keeps offline publishes in IndexedDB and delivers them once after the browser restarts', {
    timeout: 60_000,
  }, async () => {
    const userDataDir = await mkdtemp(join(tmpdir(), 'ieum-outbox-'));
    // A port with nothing listening yet: the browser is "offline" from the server's point of view.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `ws://127.0.0.1:${port}/realtime`;
    const launch = () =>
      chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    // How many publishes the page's durable outbox holds. Given as source text: the test runner's
    // transform would add helpers (esbuild's __name) that do not exist in the page.
    const stored = (page: Page) =>
      page.evaluate(`(async () => {
        const done = (r) => new Promise((resolve, reject) => {
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        const name = (await indexedDB.databases()).find((d) => d.name?.startsWith('ieum-realtime:'))?.name;
        if (!name) return 0;
        const db = await done(indexedDB.open(name));
        const n = await done(db.transaction('outbox', 'readonly').objectStore('outbox').count());
        db.close();
        return n;
      })()`) as Promise<number>;

    let context = await launch();
    let server: Awaited<ReturnType<typeof startRealtime>> | undefined;
    try {
      const page = await context.newPage();
      await page.goto(origin);
      await page.evaluate(async (url) => {
        const { RealtimeClient } = await import('/client.js' as string);
        const client = new RealtimeClient(url, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
        const inbox = client.channel('inbox');
        for (let i = 1; i <= 3; i++) inbox.publish('note', i).catch(() => {});
        Object.assign(globalThis, { client });
      }, url);
      await waitFor('three publishes in IndexedDB', async () => (await stored(page)) === 3);
      await context.close();

      server = await startRealtime(port);
      context = await launch();
      const again = await context.newPage();
      await again.goto(origin);
      await again.evaluate(async (url) => {
        const { RealtimeClient } = await import('/client.js' as string);
        Object.assign(globalThis, { client: new RealtimeClient(url) });
      }, url);
      await waitFor('the outbox emptied (acknowledged)', async () => (await stored(again)) === 0);
      const { rt } = server;
      const position = await rt.adapter.position('inbox');
      const history = await rt.adapter.history('inbox', { epoch: position.epoch, offset: 0 });
      assert.ok(history.ok);
      assert.deepEqual(
        history.entries.map((e) => e.d),
        [1, 2, 3],
        'each offline publish stored once',
      );
    } finally {
      await context.close();
      await server?.stop();
      await rm(userDataDir, { recursive: true, force: true });
    }
  });
});
