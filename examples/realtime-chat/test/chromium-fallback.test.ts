// Issue 6's acceptance test: in Chromium, with WebSocket refused on the way (a proxy that answers
// upgrades with 403), the chat keeps working on SSE and on long polling, including a reconnect
// with recovery of the lines sent meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { roundRobin } from '../../../packages/realtime/test/helpers.js';
import { launchChromium } from '../../../scripts/chromium.js';
import { startRealtimeChat } from '../server.js';

describe('realtime chat in Chromium with WebSocket blocked', () => {
  let chat: Awaited<ReturnType<typeof startRealtimeChat>>;
  let proxy: Awaited<ReturnType<typeof roundRobin>>;
  let browser: Browser;

  before(async () => {
    chat = await startRealtimeChat({ port: 0, host: '127.0.0.1' });
    proxy = await roundRobin([chat.port]);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    proxy?.close();
    await chat?.rt.close();
    await new Promise<void>((r) => chat.server.close(() => r()));
  });

  async function open(name: string, query: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${proxy.port}/${query}`);
    await page.fill('#name', name);
    await page.fill('#room', 'fallback');
    await page.click('#join');
    await page.waitForFunction("document.getElementById('state')?.className === 'open'");
    return page;
  }
  const lines = (page: Page) => page.$$eval('#log p:not(.note)', (ps) => ps.map((p) => p.textContent));
  const say = async (page: Page, text: string) => {
    await page.fill('input[name=text]', text);
    await page.press('input[name=text]', 'Enter');
  };

  it('falls back by itself (SSE), and a forced long-polling page talks with it, across a reconnect', async () => {
    const ann = await open('ann', '');
    const bob = await open('bob', '?transport=polling');
    assert.match((await ann.textContent('#state')) ?? '', /open \(sse\)/);
    assert.match((await bob.textContent('#state')) ?? '', /open \(polling\)/);
    await bob.waitForFunction("document.getElementById('who')?.textContent?.includes('ann')");

    await say(ann, 'one');
    await say(bob, 'two');
    await ann.waitForFunction("document.querySelectorAll('#log p').length >= 2");

    // The server drops both sessions; lines sent meanwhile must arrive once, in order.
    for (const c of chat.rt.connections.values()) c.ws.terminate();
    await say(ann, 'three');
    await say(ann, 'four');
    await bob.waitForFunction("document.querySelectorAll('#log p:not(.note)').length >= 4", null, {
      timeout: 15_000,
    });
    await ann.waitForFunction("document.querySelectorAll('#log p:not(.note)').length >= 4", null, {
      timeout: 15_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    const expected = ['ann: one', 'bob: two', 'ann: three', 'ann: four'];
    assert.deepEqual(await lines(bob), expected);
    assert.deepEqual(await lines(ann), expected);
    assert.match((await bob.textContent('#state')) ?? '', /open \(polling\)/);
  });
});
