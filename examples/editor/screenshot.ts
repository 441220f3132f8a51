// Takes the README's screenshot: two people editing one document in Chromium.
// node --conditions=ieum-source --import tsx examples/editor/screenshot.ts
import { launchChromium } from '../../scripts/chromium.js';
import { startEditor } from './server.js';

const editor = await startEditor({ port: 0, host: '127.0.0.1' });
const browser = await launchChromium();
try {
  const open = async (name: string) => {
    const context = await browser.newContext({ viewport: { width: 960, height: 540 }, deviceScaleFactor: 1 });
    await context.addInitScript(`localStorage.setItem('ieum-editor-name', ${JSON.stringify(name)})`);
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${editor.port}/?doc=launch-plan`);
    await page.waitForSelector('#text:not([disabled])');
    return page;
  };
  const mina = await open('mina');
  const joon = await open('joon');
  const sara = await open('sara');
  await mina.click('#text');
  await mina.keyboard.type(
    'Launch plan\n\n1. Freeze the API on Friday\n2. Write the migration guide\n3. Record the demo video (5 min)\n\nOpen questions\n- Who owns the status page?\n',
  );
  await joon.waitForFunction("document.getElementById('text').value.includes('status page')");
  await joon.click('#text');
  await joon.keyboard.press('Control+End');
  await joon.keyboard.type('- Do we need a beta channel?');
  await sara.waitForFunction("document.getElementById('text').value.includes('beta channel')");
  // Sara selects "migration guide".
  await sara.evaluate(`(() => {
    const t = document.getElementById('text');
    const at = t.value.indexOf('migration guide');
    t.focus();
    t.setSelectionRange(at, at + 'migration guide'.length);
    t.dispatchEvent(new Event('select'));
  })()`);
  await mina.waitForSelector('.caret[data-user=sara]');
  await mina.waitForSelector('.caret[data-user=joon]');
  await mina.waitForFunction("document.getElementById('state').textContent === 'all changes saved'");
  await mina.screenshot({ path: new URL('./screenshot.png', import.meta.url).pathname });
} finally {
  await browser.close();
  await editor.close();
}
