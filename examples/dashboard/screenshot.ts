// Regenerates screenshot.png (the README's picture): the demo with its bots, after a few seconds
// of traffic, one reconnect, and the inspector tailing a room. Run:
//   node --conditions=ieum-source --import tsx examples/dashboard/screenshot.ts
import { DisconnectCode } from '@ieum/realtime/server';
import { launchChromium } from '../../scripts/chromium.js';
import { startDashboardDemo } from './server.js';

const token = 'screenshot-token-0123456789';
const demo = await startDashboardDemo({ port: 0, token, bounceEveryMs: 0 });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1180 } });
  await page.goto(`http://127.0.0.1:${demo.port}/dashboard/#token=${token}`);
  await new Promise((r) => setTimeout(r, 6000));
  [...demo.rt.connections.values()]
    .find((c) => c.user?.includes('listener'))
    ?.close(DisconnectCode.SERVICE_RESTART);
  await new Promise((r) => setTimeout(r, 6000));
  await page.fill('#tail input[name=target]', 'demo:lobby');
  await page.click('#tail button[type=submit]');
  await new Promise((r) => setTimeout(r, 2000));
  await page.locator('header').scrollIntoViewIfNeeded();
  await page.screenshot({ path: new URL('./screenshot.png', import.meta.url).pathname });
} finally {
  await browser.close();
  await demo.close();
}
