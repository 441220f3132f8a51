// Two Chromium pages type into one document at the same time, through a connection cut, and end
// with the same text holding both people's words; each sees the other (who is here, a caret); no
// console errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../scripts/chromium.js';
import { startEditor } from '../server.js';

describe('editor in Chromium', () => {
  let editor: Awaited<ReturnType<typeof startEditor>>;
  let browser: Browser;
  const problems: string[] = [];

  before(async () => {
    editor = await startEditor({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await editor?.close();
  });

  async function open(name: string, doc: string): Promise<Page> {
    const context = await browser.newContext();
    await context.addInitScript(`localStorage.setItem('ieum-editor-name', ${JSON.stringify(name)})`);
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    await page.goto(`http://127.0.0.1:${editor.port}/?doc=${doc}`);
    await page.waitForSelector('#text:not([disabled])');
    return page;
  }
  const saved = (page: Page) =>
    page.waitForFunction(
      "document.getElementById('state').className === 'open' && document.getElementById('state').textContent === 'all changes saved'",
      null,
      { timeout: 15_000 },
    );

  it('two people typing at once converge, across a dropped connection', { timeout: 60_000 }, async () => {
    const ann = await open('ann', 'race');
    const bob = await open('bob', 'race');
    await ann.waitForFunction("document.querySelectorAll('#who li').length === 2");
    await bob.waitForFunction("document.querySelectorAll('#who li').length === 2");

    await ann.click('#text');
    await bob.click('#text');
    await Promise.all([
      ann.keyboard.type('Ann writes 😀 here. ', { delay: 15 }),
      bob.keyboard.type('Bob adds 𝄞 there. ', { delay: 15 }),
    ]);
    // The server drops both connections while they keep typing: their edits wait, then merge.
    for (const c of editor.app.realtime.connections.values()) c.ws.terminate();
    await Promise.all([
      ann.keyboard.type('And more.', { delay: 10 }),
      bob.keyboard.type('Bob too.', { delay: 10 }),
    ]);
    await saved(ann);
    await saved(bob);
    await ann.waitForFunction(
      '(other) => document.getElementById("text").value === other',
      await bob.inputValue('#text'),
      {
        timeout: 15_000,
      },
    );
    const a = await ann.inputValue('#text');
    const b = await bob.inputValue('#text');
    assert.equal(a, b);
    for (const words of ['Ann writes 😀 here. ', 'Bob adds 𝄞 there. ', 'And more.', 'Bob too.']) {
      // Each person's words stay together: concurrent typing interleaves only between keystrokes
      // of different people, never inside one person's run of consecutive keystrokes at one spot.
      for (const w of words.split(' ')) assert.ok(a.includes(w), `"${w}" missing from ${JSON.stringify(a)}`);
    }
    assert.equal(a, (await editor.app.service.open('race')).text);

    // Each sees the other's caret, labelled with the name.
    await bob.click('#text');
    await bob.keyboard.press('End');
    await ann.waitForSelector('.caret[data-user=bob]', { timeout: 10_000 });
    await bob.waitForSelector('.caret[data-user=ann]', { timeout: 10_000 });
    assert.deepEqual(problems, []);
  });

  it('a late joiner gets the text at once, from a snapshot', { timeout: 30_000 }, async () => {
    const cy = await open('cy', 'race');
    assert.equal(await cy.inputValue('#text'), (await editor.app.service.open('race')).text);
    const favicon = await fetch(`http://127.0.0.1:${editor.port}/favicon.svg`);
    assert.equal(favicon.headers.get('content-type'), 'image/svg+xml');
    assert.deepEqual(problems, []);
  });
});
