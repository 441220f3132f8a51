// The arena in Chromium: it connects, draws, and the own player moves under held keys, without
// a console error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../../scripts/chromium.js';
import { startGame } from '../server.js';

describe('game in Chromium', { timeout: 60_000 }, () => {
  let game: Awaited<ReturnType<typeof startGame>>;
  let browser: Browser;

  before(async () => {
    game = await startGame({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await game?.app.close();
    await new Promise<void>((r) => game.server.close(() => r()));
  });

  it('plays: the canvas changes, the own player moves under held keys, and a restart is survived', {
    timeout: 60_000,
  }, async () => {
    const page = await browser.newPage({ viewport: { width: 960, height: 600 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${game.port}/`);
    await page.waitForFunction(
      () => (globalThis as unknown as { __game: { self(): unknown } }).__game?.self() !== undefined,
    );
    await page.waitForFunction("document.getElementById('state')?.textContent === 'open'");
    const self = () =>
      page.evaluate(() =>
        (globalThis as unknown as { __game: { self(): { x: number; y: number } } }).__game.self(),
      );
    const pixels = () => page.evaluate<string>("document.getElementById('arena').toDataURL()");
    const start = await self();
    const before = await pixels();
    await page.keyboard.down('KeyD');
    await page.waitForFunction(
      (x0) => (globalThis as unknown as { __game: { self(): { x: number } } }).__game.self().x > x0 + 80,
      start.x,
      { timeout: 10_000 },
    );
    await page.keyboard.up('KeyD');
    await page.keyboard.down('ArrowDown');
    await page.waitForFunction(
      (y0) => (globalThis as unknown as { __game: { self(): { y: number } } }).__game.self().y > y0 + 40,
      start.y,
      { timeout: 10_000 },
    );
    await page.keyboard.up('ArrowDown');
    const moved = await self();
    assert.ok(
      moved.x > start.x + 80 && moved.y > start.y + 40,
      `moved from ${JSON.stringify(start)} to ${JSON.stringify(moved)}`,
    );
    assert.notEqual(await pixels(), before, 'the canvas changed');
    // The server agrees: the player's authoritative position moved as well.
    const server = [...game.app.game.world.players.values()][0]!;
    assert.ok(server.body.x > start.x + 80, `server x ${server.body.x}`);
    await page.waitForFunction("/^\\d+ ms$/.test(document.getElementById('ping')?.textContent ?? '')");
    assert.equal(await page.textContent('#players'), '1');
    assert.deepEqual(errors, []);

    // A server restart: the page reconnects by itself, under the same name, as a new player.
    const port = game.port;
    await game.app.close();
    await new Promise<void>((r) => game.server.close(() => r()));
    game = await startGame({ port, host: '127.0.0.1' });
    await page.waitForFunction(
      "document.getElementById('state')?.textContent === 'open' && __game.client.latest !== undefined",
      null,
      { timeout: 20_000 },
    );
    const name = await page.evaluate<string>('localStorage.getItem("ieum-game-name")');
    assert.equal([...game.app.game.world.players.values()][0]?.name, name, 'the same name after the restart');
    await page.keyboard.down('KeyA');
    const x0 = (await self()).x;
    await page.waitForFunction(
      (x) => (globalThis as unknown as { __game: { self(): { x: number } } }).__game.self().x < x - 40,
      x0,
      { timeout: 10_000 },
    );
    await page.keyboard.up('KeyA');
    assert.deepEqual(
      errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)),
      [],
    );
  });
});
