// `npm start` in Chromium: the home page and every link load without a console error (favicon
// included), and the chat keeps its nickname and sends a line typed while the server was down
// exactly once after a restart (shown pending, then sent), to itself and to another visitor.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../scripts/chromium.js';
import { startShowcase } from '../server.js';

const TOKEN = 'showcase-test-token-0123';

/** Collects console errors, failed requests and page errors of `page`. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return errors;
}

describe('showcase in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser;
  let showcase: Awaited<ReturnType<typeof startShowcase>> | undefined;
  let port: number;

  before(async () => {
    showcase = await startShowcase({ port: 0, dashboardToken: TOKEN });
    port = showcase.port;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await showcase?.close();
  });

  it('serves a home page whose every link opens an app without console errors', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal(await page.title(), 'ieum showcase');
    const links: string[] = [];
    for (const a of await page.locator('a.card').all()) links.push((await a.getAttribute('href'))!);
    assert.deepEqual(
      links.map((l) => l.split('#')[0]),
      ['/chat/', '/editor/', '/game/', '/dashboard/'],
    );
    // The favicon the browser asks for is served.
    assert.equal((await fetch(`http://127.0.0.1:${port}/favicon.ico`)).status, 200);
    for (const link of links) {
      await page.goto(`http://127.0.0.1:${port}/`);
      await Promise.all([page.waitForURL(`**${link.split('#')[0]}*`), page.click(`a.card[href="${link}"]`)]);
      if (link !== links.at(-1)) await page.waitForSelector('#state.open');
      // The home page's dashboard link carries the token (loopback showcase): live samples arrive.
      else await page.waitForSelector('body[data-sample-at]');
    }
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('keeps the nickname and sends a line typed while the server was down once, after a restart', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    const chat = `http://127.0.0.1:${port}/chat/`;
    await page.goto(chat);
    await page.waitForSelector('#state.open');
    const name = await page.inputValue('#name');
    // A second visitor in another browser profile (another nickname) reads along.
    const other = await browser.newContext();
    const reader = await other.newPage();
    await reader.goto(chat);
    await reader.waitForSelector('#state.open');

    // The reader's network is down until the line is sent: it comes back to a server that has
    // lost the history it knew, and must still show the line.
    await other.setOffline(true);
    await showcase!.close();
    showcase = undefined;
    await page.waitForSelector('#state.reconnecting');
    await page.fill('#say input[name=text]', 'typed while the server was down');
    await page.press('#say input[name=text]', 'Enter');
    await page.waitForSelector('#log p.pending >> text=typed while the server was down');

    showcase = await startShowcase({ port, dashboardToken: TOKEN });
    await page.waitForSelector('#log p.sent >> text=typed while the server was down', { timeout: 30_000 });
    assert.equal(await page.locator('#log p', { hasText: 'typed while the server was down' }).count(), 1);

    // The other visitor, whose history was lost with the server, gets the line once too.
    await other.setOffline(false);
    await reader.waitForSelector('#log p >> text=typed while the server was down', { timeout: 30_000 });
    assert.equal(await reader.locator('#log p', { hasText: 'typed while the server was down' }).count(), 1);
    await other.close();

    // Stored once on the new server, under the same nickname; a reload keeps the name.
    await page.reload();
    await page.waitForSelector('#state.open');
    assert.equal(await page.inputValue('#name'), name);
    await page.waitForSelector('#log p >> text=typed while the server was down');
    assert.equal(await page.locator('#log p', { hasText: 'typed while the server was down' }).count(), 1);
    assert.match(
      (await page.locator('#log p', { hasText: 'typed while' }).textContent())!,
      new RegExp(`^${name}:`),
    );
    // Only the reconnect attempts while the server was down may have failed (WebSocket, or the
    // SSE and polling fallbacks the client tries next, all under /chat/realtime).
    assert.deepEqual(
      errors.filter(
        (e) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|\/chat\/realtime/.test(e),
      ),
      [],
    );
    await context.close();
  });
});
